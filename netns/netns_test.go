package netns

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

func TestInodeRejectsPlainFiles(t *testing.T) {
	for _, path := range []string{os.TempDir(), "/nonexistent/ns"} {
		if _, err := Inode(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Inode(%q) = %v, want an error naming the path", path, err)
		}
	}
}

func TestNames(t *testing.T) {
	home, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	n := NewNames(home)
	if got := n.Name(home, false); got != "" {
		t.Errorf("home namespace named %q, want \"\"", got)
	}
	if got := n.Name(0, false); got != "" {
		t.Errorf("inode 0 named %q", got)
	}
	kerneltest.NeedRoot(t)
	name := "skbtop-names-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ino, err := Inode("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	// The namespace is newer than the last scan: the first ask for its
	// inode looks again at once (it may be gone before minRescan).
	clock := time.Now()
	n.now = func() time.Time { return clock }
	n.scanned = clock
	if got := n.Name(ino, false); got != name {
		t.Errorf("Name(%d) = %q at the first ask, want %q", ino, got, name)
	}
	// An inode nobody names is looked for again after minRescan, then
	// after twice as long each time, up to maxRescan.
	const nameless = 1
	clock = clock.Add(time.Millisecond)
	if got := n.Name(nameless, false); got != "" || !n.scanned.Equal(clock) {
		t.Errorf("first ask for a nameless inode: %q, scanned at %v, want a scan at %v", got, n.scanned, clock)
	}
	last := clock
	for wait := minRescan; ; wait = min(2*wait, maxRescan) {
		clock = last.Add(wait - time.Millisecond)
		if n.Name(nameless, false); !n.scanned.Equal(last) {
			t.Fatalf("asked again %v after the last look, which set a wait of %v: scanned at %v, want still %v",
				clock.Sub(last), wait, n.scanned, last)
		}
		clock = last.Add(wait)
		if n.Name(nameless, false); !n.scanned.Equal(clock) {
			t.Fatalf("asked again %v after the last look: scanned at %v, want %v", wait, n.scanned, clock)
		}
		last = clock
		if wait == maxRescan {
			break
		}
	}
	// A name known for the inode from a namespace that is gone is used
	// until asked afresh, which looks again at once.
	n.names[ino] = "stale"
	if got := n.Name(ino, false); got != "stale" {
		t.Errorf("Name(%d) = %q, want the cached %q", ino, got, "stale")
	}
	if got := n.Name(ino, true); got != name {
		t.Errorf("Name(%d, fresh) = %q, want %q", ino, got, name)
	}
}

func TestScanNamesProcesses(t *testing.T) {
	root := t.TempDir()
	self, err := os.Readlink("/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	// A fake /proc with one process, whose ns/net is the real one.
	dir := root + "/proc/" + self
	if err := os.MkdirAll(dir+"/ns", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/comm", []byte("nginx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/ns/net", dir+"/ns/net"); err != nil {
		t.Fatal(err)
	}
	ino, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scan(root)[ino], "pid "+self+" (nginx)"; got != want {
		t.Errorf("scan named the namespace %q, want %q", got, want)
	}
}

// TestCookie checks Cookie against a socket made in skbtop's own namespace
// without entering any, and that two namespaces have different cookies.
func TestCookie(t *testing.T) {
	kerneltest.NeedRoot(t)
	self, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	got, err := Cookie(self)
	if errors.Is(err, ErrNoCookie) {
		// Kernels before 5.14: Cookie must say so only where the kernel
		// indeed refuses the option, and skbtop names namespaces by
		// inode alone there.
		fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if serr != nil {
			t.Fatal(serr)
		}
		defer unix.Close(fd)
		if _, serr := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE); !errors.Is(serr, unix.ENOPROTOOPT) {
			t.Fatalf("Cookie = %v, but SO_NETNS_COOKIE on a socket of ours gives %v", err, serr)
		}
		t.Logf("this kernel has no SO_NETNS_COOKIE: Cookie says %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	want, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || got == 0 {
		t.Errorf("Cookie of our own namespace = %d, want %d from a socket of ours", got, want)
	}

	name := "skbtop-cookie-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	other, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	home, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// Many calls, so that some run on the main thread.
	c1, err := Cookie(other)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		c2, err := Cookie(other)
		if err != nil {
			t.Fatal(err)
		}
		if c1 != c2 || c1 == want {
			t.Fatalf("namespace %s: cookies %d then %d, ours %d; want one cookie of its own", name, c1, c2, want)
		}
	}
	// The thread that made the socket is back in our namespace.
	runtime.LockOSThread()
	before, err := Inode("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	sfd, err := socketIn(other)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(sfd)
	after, err := Inode("/proc/thread-self/ns/net")
	runtime.UnlockOSThread()
	if err != nil || after != before {
		t.Fatalf("after socketIn, the thread is in namespace %d (%v), was in %d", after, err, before)
	}
	// No thread of ours is left in the other namespace: the main thread's
	// is still ours, and sockets made from any goroutine are in ours.
	if ino, err := Inode("/proc/self/ns/net"); err != nil || ino != home {
		t.Fatalf("/proc/self/ns/net is namespace %d (%v), was %d", ino, err, home)
	}
	for range 20 {
		ch := make(chan uint64)
		go func() {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				ch <- 0
				return
			}
			defer unix.Close(fd)
			c, _ := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
			ch <- c
		}()
		if c := <-ch; c != want {
			t.Fatalf("a socket made after Cookie has cookie %d, want ours (%d)", c, want)
		}
	}
}
