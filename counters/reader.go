package counters

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"

	"github.com/mdlayher/netlink"

	"github.com/skbtop/skbtop/drops"
	"golang.org/x/sys/unix"
)

// maxProcFile bounds how much of a /proc/net file is read; the largest,
// netstat, is a few kilobytes.
const maxProcFile = 1 << 20

// procFile is one of the namespace's protocol counter files.
type procFile struct {
	name     string // under /proc/net, for messages
	parse    func(io.Reader) (map[string]uint64, error)
	optional bool // snmp6 is absent when IPv6 is not built in
}

var procFiles = []procFile{
	{name: "snmp", parse: ParseSNMP},
	{name: "netstat", parse: ParseSNMP},
	{name: "snmp6", parse: ParseSNMP6, optional: true},
}

// Reader reads the counters of one network namespace. It holds one
// rtnetlink socket and the namespace's /proc/net counter files open for its
// whole life, so reading costs no namespace switches. Its methods may be
// called from any goroutine.
type Reader struct {
	mu    sync.Mutex
	conn  *netlink.Conn
	files []*os.File // parallel to procFiles; nil for an absent optional file
	buf   bytes.Buffer
}

// Open returns a reader for the network namespace ns, or for the process's
// own namespace when ns is nil. Entering another namespace needs
// CAP_SYS_ADMIN. The reader keeps what it needs open; the caller may close
// ns afterwards.
func Open(ns *os.File) (_ *Reader, err error) {
	r := &Reader{}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	cfg := &netlink.Config{}
	if ns != nil {
		cfg.NetNS = int(ns.Fd())
	}
	if r.conn, err = netlink.Dial(unix.NETLINK_ROUTE, cfg); err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if ns == nil {
		r.files, err = openProcFiles()
	} else {
		err = inNetns(ns, func() error {
			var err error
			r.files, err = openProcFiles()
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// OpenPath returns a reader for the network namespace at path
// (/run/netns/NAME, /proc/PID/ns/net).
func OpenPath(path string) (*Reader, error) {
	ns, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	return Open(ns)
}

// openProcFiles opens the calling thread's namespace's counter files.
//
// A /proc/net file is bound to the namespace of the task whose /proc
// directory it was opened through, at open time: the kernel stores the
// namespace in the seq_file, and reading it again from offset 0 (pread)
// regenerates the contents for that namespace whichever thread reads. So the
// files are opened once, through /proc/thread-self on a thread inside the
// namespace, and read from any thread afterwards. TestKernelUDPNoPorts
// checks this by reading from goroutines outside the namespace.
func openProcFiles() ([]*os.File, error) {
	files := make([]*os.File, len(procFiles))
	for i, pf := range procFiles {
		f, err := os.Open("/proc/thread-self/net/" + pf.name)
		if err != nil {
			if pf.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
			return nil, fmt.Errorf("open /proc/net/%s: %w", pf.name, err)
		}
		files[i] = f
	}
	return files, nil
}

// inNetns runs fn on an OS thread that has entered the namespace ns, and
// takes the thread back to its own namespace before it may run anything
// else. Leaving it to the runtime to end a thread that exits locked is not
// enough: it cannot end the process's main thread, which it parks instead,
// and a thread parked in ns would keep ns alive after it is deleted. A
// thread that cannot go back stays locked, and so is never reused.
func inNetns(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", ns.Name(), err)
			return
		}
		err = fn()
		if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("leave network namespace %s: %w", ns.Name(), serr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Links dumps every interface of the namespace with its counters
// (RTM_GETLINK). When some link messages cannot be decoded it returns the
// others with an error wrapping ErrMalformed (see DecodeLinks).
func (r *Reader) Links() ([]drops.Link, error) {
	msgs, err := r.dumpLinks()
	if err != nil {
		return nil, err
	}
	links, err := DecodeLinks(msgs)
	out := make([]drops.Link, len(links))
	for i, l := range links {
		out[i] = drops.Link{Name: l.Name, Index: l.Index, Counters: l.Counters}
	}
	return out, err
}

// dumpLinks sends an RTM_GETLINK dump request and returns the raw replies.
func (r *Reader) dumpLinks() ([]netlink.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, errors.New("dump links: reader is closed")
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_GETLINK,
			Flags: netlink.Request | netlink.Dump,
		},
		// A zero struct ifinfomsg: AF_UNSPEC, every interface.
		Data: make([]byte, unix.SizeofIfInfomsg),
	}
	msgs, err := r.conn.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	return msgs, nil
}

// Stack reads the namespace's drop-related protocol counters (see
// StackCounterNames), in that order, from /proc/net/snmp, /proc/net/netstat
// and, when IPv6 is built in, /proc/net/snmp6. Counters this kernel lacks
// are left out.
func (r *Reader) Stack() (drops.Stack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files == nil {
		return nil, errors.New("read protocol counters: reader is closed")
	}
	picked := make(map[string]uint64, len(stackNames))
	for i, pf := range procFiles {
		f := r.files[i]
		if f == nil {
			continue
		}
		r.buf.Reset()
		// ReadAt from offset 0 makes the seq_file start over.
		if _, err := r.buf.ReadFrom(io.NewSectionReader(f, 0, maxProcFile)); err != nil {
			return nil, fmt.Errorf("read /proc/net/%s: %w", pf.name, err)
		}
		all, err := pf.parse(&r.buf)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/%s: %w", pf.name, err)
		}
		pickStack(picked, all)
	}
	out := make(drops.Stack, 0, len(picked))
	for _, n := range stackNames {
		if v, ok := picked[n]; ok {
			out = append(out, drops.StackValue{Name: n, Value: v})
		}
	}
	return out, nil
}

// Close closes the netlink socket and the /proc files.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.conn != nil {
		errs = append(errs, r.conn.Close())
		r.conn = nil
	}
	for _, f := range r.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	r.files = nil
	return errors.Join(errs...)
}
