// Package netns identifies network namespaces: the inode number and the
// cookie the kernel program reports for a drop, and a name a person
// recognises for it (the `ip netns` name, or the process that lives there).
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Inode returns the inode of the network namespace at path (such as
// /run/netns/NAME or /proc/PID/ns/net): the number the kernel program
// reports and filters on.
func Inode(path string) (uint32, error) {
	ns, err := Open(path)
	if err != nil {
		return 0, err
	}
	defer ns.Close()
	return ns.Inode, nil
}

// ErrNoCookie means the kernel cannot tell user space a namespace's cookie:
// SO_NETNS_COOKIE came in Linux 5.14.
var ErrNoCookie = errors.New("kernel cannot tell a network namespace's cookie (SO_NETNS_COOKIE, Linux 5.14)")

// Cookie returns the cookie of the network namespace f holds open (a
// namespace file such as /run/netns/NAME or /proc/PID/ns/net). The kernel
// numbers every namespace it makes with a cookie it never hands out again
// while it runs, where it gives a freed namespace's inode to the next one
// made: the kernel program reports the cookie beside the inode, and the two
// together name a namespace for as long as skbtop runs.
//
// The kernel tells a socket's namespace cookie (SO_NETNS_COOKIE), so Cookie
// makes a socket inside the namespace, which needs CAP_SYS_ADMIN.
func Cookie(f *os.File) (uint64, error) {
	type result struct {
		fd  int
		err error
	}
	// A goroutine of its own, so that the caller never runs on a thread
	// that could not leave the namespace (see socketIn).
	ch := make(chan result, 1)
	go func() {
		fd, err := socketIn(f)
		ch <- result{fd, err}
	}()
	res := <-ch
	fd, err := res.fd, res.err
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if errors.Is(err, unix.ENOPROTOOPT) {
		return 0, ErrNoCookie
	}
	if err != nil {
		return 0, fmt.Errorf("cookie of network namespace %s: %w", f.Name(), err)
	}
	return cookie, nil
}

// socketIn makes a socket in the network namespace f holds open; it stays
// there for good. setns moves only the calling OS thread, which goes back
// to its own namespace before anything else may run on it: a goroutine
// that merely exited locked would not do, since the runtime cannot end the
// process's main thread and would leave it in the other namespace, where
// /proc/self/ns/net would then point. A thread that cannot go back stays
// locked, and the runtime ends it (or parks it, if the main thread) when
// the calling goroutine exits.
func socketIn(f *os.File) (int, error) {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("open own network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("enter network namespace %s: %w", f.Name(), err)
	}
	// AF_UNIX: every namespace has it, and making one costs nothing.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		err = fmt.Errorf("socket in network namespace %s: %w", f.Name(), err)
	}
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		// Leave the thread locked: see above.
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, errors.Join(err, fmt.Errorf("leave network namespace %s: %w", f.Name(), serr))
	}
	runtime.UnlockOSThread()
	return fd, err
}

// Namespace is an open network namespace: opened once, so that everything
// skbtop does with it (filter on its inode, read its counters) concerns the
// same namespace even if its name is reused meanwhile.
type Namespace struct {
	// File holds the namespace open.
	File *os.File
	// Inode is the namespace's inode number.
	Inode uint32
}

// Open opens the network namespace at path, checking that it is one:
// namespace files live on nsfs, and NS_GET_NSTYPE tells a network namespace
// from a mount or PID namespace.
func Open(path string) (*Namespace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	ns := &Namespace{File: f}
	if err := ns.check(path); err != nil {
		f.Close()
		return nil, err
	}
	return ns, nil
}

func (ns *Namespace) check(path string) error {
	fd := int(ns.File.Fd())
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("network namespace %s: not a namespace file (want /run/netns/NAME or /proc/PID/ns/net)", path)
	}
	// NS_GET_NSTYPE came in Linux 4.11.
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err == nil && typ != unix.CLONE_NEWNET {
		return fmt.Errorf("network namespace %s: a namespace of another type (want /run/netns/NAME or /proc/PID/ns/net)", path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	ns.Inode = uint32(st.Ino)
	return nil
}

// Close releases the namespace; a nil Namespace is a no-op.
func (ns *Namespace) Close() error {
	if ns == nil {
		return nil
	}
	return ns.File.Close()
}

// An unknown namespace makes Names look again after minRescan, then after
// twice as long each time it is still not found, up to maxRescan: a scan
// reads every process's and every bind mount's namespace (with 1000
// container namespaces, some 5 ms), and a namespace with neither (held
// open by a program, say) would otherwise cost two scans a second for as
// long as its drops are shown.
const (
	minRescan = 500 * time.Millisecond
	maxRescan = 30 * time.Second
)

// lookup is when Names may look for an unknown inode again, and how long
// it waited last.
type lookup struct {
	next time.Time
	wait time.Duration
}

// Names names namespaces by inode. The home namespace (the one skbtop
// reports on by default) has the empty name, so that only drops elsewhere
// carry a label. Safe for concurrent use.
type Names struct {
	home uint32
	// root is where the /proc and /run trees are, "/" but for tests.
	root string
	now  func() time.Time

	mu      sync.Mutex
	names   map[uint32]string
	scanned time.Time
	// asked holds the inodes Name was asked for and could not name: the
	// first time, an inode the last scan did not have is looked for at
	// once, then with the waits of lookup.
	asked map[uint32]lookup
}

// NewNames returns names relative to the home namespace.
func NewNames(home uint32) *Names {
	return &Names{home: home, root: "/", now: time.Now, names: map[uint32]string{}, asked: map[uint32]lookup{}}
}

// Name returns a name for the namespace: its `ip netns` name, docker/ID for
// Docker's, or "pid N (comm)" for the lowest process living in it; "" for
// the home namespace, inode 0, or a namespace it cannot find (one with no
// process and no bind mount left). With fresh, the name it has for the inode
// is stale (the kernel gave the inode of a namespace that is gone to a new
// one) and it looks again at once.
func (n *Names) Name(inode uint32, fresh bool) string {
	if inode == 0 || inode == n.home {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if fresh {
		delete(n.names, inode)
		n.scanned = time.Time{}
	}
	if name, ok := n.names[inode]; ok {
		return name
	}
	// A namespace made since the last scan is looked for at once the
	// first time: a short-lived one (a container's, a test's) may be gone
	// before minRescan has passed, and then it could never be named.
	now := n.now()
	l, asked := n.asked[inode]
	switch {
	case !asked:
		l.wait = minRescan
	case now.Before(l.next):
		return ""
	default:
		l.wait = min(2*l.wait, maxRescan)
	}
	// Another inode's look may have just scanned.
	if !asked || now.Sub(n.scanned) >= minRescan {
		n.scanned = now
		n.names = scan(n.root)
	}
	name := n.names[inode]
	if name != "" {
		delete(n.asked, inode)
		return name
	}
	l.next = now.Add(l.wait)
	n.asked[inode] = l
	return ""
}

// scan names every namespace it can find. Bind mounts come first: their
// names are the ones people gave.
func scan(root string) map[uint32]string {
	names := map[uint32]string{}
	add := func(path, name string) {
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil {
			return
		}
		if _, ok := names[uint32(st.Ino)]; !ok {
			names[uint32(st.Ino)] = name
		}
	}
	for _, dir := range []struct{ path, prefix string }{
		{"run/netns", ""},
		{"var/run/docker/netns", "docker/"},
	} {
		entries, _ := os.ReadDir(filepath.Join(root, dir.path))
		for _, e := range entries {
			add(filepath.Join(root, dir.path, e.Name()), dir.prefix+e.Name())
		}
	}
	procs, _ := os.ReadDir(filepath.Join(root, "proc"))
	var pids []int
	for _, e := range procs {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	for _, pid := range pids {
		dir := filepath.Join(root, "proc", strconv.Itoa(pid))
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		add(filepath.Join(dir, "ns", "net"), fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm))))
	}
	return names
}
