// Package kerneltest holds the one policy every kernel test follows: a test
// that cannot run here (not root, a tool missing, BPF refused) skips with
// the reason, except when CI is set, where kernel tests must run and so
// fail instead. It also makes the namespace pairs tests drop packets in.
package kerneltest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/netlab"
)

// SkipOrFail skips the test with the reason, or fails it when CI is set.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set: kernel tests must run)", args...)
	}
	t.Skipf(format, args...)
}

// NeedRoot stops a test that needs root (namespaces, BPF) when not root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (network namespaces and BPF); run go test as root")
	}
}

// NeedTool stops a test whose command-line tool is not installed.
func NeedTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		SkipOrFail(t, "%s is not installed", name)
	}
}

// DropReasons says whether the running kernel's skb:kfree_skb tracepoint
// passes a drop reason (Linux 5.17 and later, and kernels that backported
// it), read from the tracepoint's tracefs format file: skbtop reads it from
// BTF, so tests that expect reasons, or their absence, go by another source
// than the code they test. Where tracefs is not mounted, it is mounted for
// the read in a mount namespace of its own, which the machine never sees.
func DropReasons(t testing.TB) bool {
	t.Helper()
	reasonsOnce.Do(func() { hasReasons, reasonsErr = dropReasons() })
	if reasonsErr != nil {
		SkipOrFail(t, "cannot read the kfree_skb tracepoint's format: %v", reasonsErr)
	}
	return hasReasons
}

// Reason returns name where the kernel reports drop reasons, and "" where
// it does not: the reason a site of that kind has on this kernel.
func Reason(t testing.TB, name string) string {
	t.Helper()
	if !DropReasons(t) {
		return ""
	}
	return name
}

var (
	reasonsOnce sync.Once
	hasReasons  bool
	reasonsErr  error
)

func dropReasons() (bool, error) {
	const format = "events/skb/kfree_skb/format"
	var b []byte
	err := errors.New("no tracefs")
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if b, err = os.ReadFile(dir + "/" + format); err == nil {
			break
		}
	}
	if err != nil {
		b, err = readPrivateTracefs(format)
	}
	if err != nil {
		return false, err
	}
	return bytes.Contains(b, []byte("skb_drop_reason reason;")), nil
}

// readPrivateTracefs reads the file name of a tracefs mounted in a mount
// namespace of a thread of its own, which ends with the thread (its
// goroutine returns still locked to it).
func readPrivateTracefs(name string) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		b, err := func() ([]byte, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
				return nil, fmt.Errorf("unshare the mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return nil, fmt.Errorf("make mounts private: %w", err)
			}
			dir, err := os.MkdirTemp("", "skbtop-tracefs-")
			if err != nil {
				return nil, err
			}
			defer os.Remove(dir)
			if err := unix.Mount("tracefs", dir, "tracefs", 0, ""); err != nil {
				return nil, fmt.Errorf("mount tracefs: %w", err)
			}
			defer unix.Unmount(dir, 0)
			return os.ReadFile(dir + "/" + name)
		}()
		ch <- result{b, err}
	}()
	r := <-ch
	return r.b, r.err
}

// StructHasMember says whether the running kernel's struct name has the
// member, read from its BTF: how tests learn which counters a kernel has
// (rx_otherhost_dropped in struct rtnl_link_stats64 since 6.0) from another
// source than the netlink attributes skbtop reads.
func StructHasMember(t testing.TB, name, member string) bool {
	t.Helper()
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		SkipOrFail(t, "no kernel BTF: %v", err)
		return false
	}
	var st *btf.Struct
	if err := spec.TypeByName(name, &st); err != nil {
		t.Fatalf("struct %s in the kernel's BTF: %v", name, err)
	}
	for _, m := range st.Members {
		if m.Name == member {
			return true
		}
	}
	return false
}

// NewLink creates a sender and a receiver namespace joined by a veth pair,
// removed when the test ends.
func NewLink(t testing.TB) *netlab.Link {
	t.Helper()
	NeedRoot(t)
	l, err := netlab.NewLink()
	if err != nil {
		SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("remove test namespaces: %v", err)
		}
	})
	return l
}

// NewPath creates netlab's client, router and server namespaces, removed
// when the test ends.
func NewPath(t testing.TB) *netlab.Path {
	t.Helper()
	NeedRoot(t)
	p, err := netlab.NewPath()
	if err != nil {
		SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("remove test namespaces: %v", err)
		}
	})
	return p
}

// NamespaceWithInode makes a namespace that gets inode ino, which a deleted
// namespace had: the kernel gives each new namespace the lowest free inode
// (of every namespace type), and frees a network namespace's in cleanup
// work some time after its last reference went. Namespaces that get a lower
// inode are held until the end of the test, so the next one gets a higher
// one; one that gets a higher inode means ino is not free yet (or someone
// else took it) and is deleted before trying again.
func NamespaceWithInode(t testing.TB, ino uint32) *netlab.Namespace {
	t.Helper()
	// Until the kernel has freed ino (its cleanup work may wait behind
	// other namespaces' on a busy machine), or while another test's
	// namespace that took it first lives (packages tested side by side),
	// every try gets a higher one: tries are paced by time, not counted.
	const wait = 90 * time.Second
	var held []*netlab.Namespace
	t.Cleanup(func() {
		for _, ns := range held {
			ns.Close()
		}
	})
	deadline := time.Now().Add(wait)
	for try := 1; ; try++ {
		ns, err := netlab.NewNamespace("skbtop-reuse")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ns)
		switch {
		case ns.Inode == ino:
			t.Logf("inode %d given again to the %d. namespace made", ino, try)
			return ns
		case ns.Inode > ino:
			held = held[:len(held)-1]
			if err := ns.Close(); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				SkipOrFail(t, "the kernel did not give inode %d to any of %d new namespaces in %v", ino, try, wait)
				return nil
			}
			time.Sleep(10 * time.Millisecond) // poll interval for the kernel's cleanup, not an assertion
		}
	}
}

// SendLoopbackUDP sends n datagrams to a closed port of the namespace's own
// loopback: the namespace drops each once (NO_SOCKET), and nothing leaves
// it.
func SendLoopbackUDP(t testing.TB, ns *netlab.Namespace, n int) {
	t.Helper()
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}
		for range n {
			if err := unix.Sendto(fd, []byte("skbtop"), 0, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send to a closed port in %s: %v", ns.Name, err)
	}
}

// RetransSegsMatch reports whether traced, the segments skbtop counted at
// tcp:tcp_retransmit_skb, agrees with counted, the growth of the same
// namespace's TcpRetransSegs over conns lossy connections: equal, or short
// by at most one a connection. The kernel adds to TcpRetransSegs exactly
// what the tracepoint reports, yet on 6.18 about one run in 25 of a lossy
// connection ends with TcpRetransSegs one ahead, and bpftrace counting the
// same tracepoint at the same time falls short by the same one: the kernel
// counted a segment somewhere the tracepoint does not fire (the README says
// so; the path is not found yet). A shortfall is logged; anything else is a
// miscount of skbtop's.
func RetransSegsMatch(t testing.TB, traced, counted uint64, conns int) bool {
	t.Helper()
	if traced < counted && counted-traced <= uint64(conns) {
		t.Logf("traced %d segments, TcpRetransSegs grew by %d over %d connections: the kernel's uncounted segments (see RetransSegsMatch)", traced, counted, conns)
		return true
	}
	return traced == counted
}
