// Package kerneltest holds the one policy every kernel test follows: a test
// that cannot run here (not root, a tool missing, BPF refused) skips with
// the reason, except when CI is set, where kernel tests must run and so
// fail instead. It also makes the namespace pairs tests drop packets in.
package kerneltest

import (
	"os"
	"os/exec"
	"testing"

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

// NamespaceWithInode makes a namespace that gets inode ino, which a deleted
// namespace had: the kernel gives each new namespace the lowest free inode
// (of every namespace type), and frees a network namespace's in cleanup
// work some time after its last reference went. Namespaces that get a lower
// inode are held until the end of the test, so the next one gets a higher
// one; one that gets a higher inode means ino is not free yet (or someone
// else took it) and is deleted before trying again.
func NamespaceWithInode(t testing.TB, ino uint32) *netlab.Namespace {
	t.Helper()
	const tries = 300
	var held []*netlab.Namespace
	t.Cleanup(func() {
		for _, ns := range held {
			ns.Close()
		}
	})
	for try := range tries {
		ns, err := netlab.NewNamespace("skbtop-reuse")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ns)
		switch {
		case ns.Inode == ino:
			t.Logf("inode %d given again to the %d. namespace made", ino, try+1)
			return ns
		case ns.Inode > ino:
			held = held[:len(held)-1]
			if err := ns.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	SkipOrFail(t, "the kernel did not give inode %d to any of %d new namespaces", ino, tries)
	return nil
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
// namespace's TcpRetransSegs: equal, or one short. The kernel adds to
// TcpRetransSegs exactly what the tracepoint reports, yet on 6.18 about one
// run in 25 of a lossy connection ends with TcpRetransSegs one ahead, and
// bpftrace counting the same tracepoint at the same time falls short by the
// same one: the kernel counted a segment somewhere the tracepoint does not
// fire (the README says so; the path is not found yet). One short is logged;
// anything else is a miscount of skbtop's.
func RetransSegsMatch(t testing.TB, traced, counted uint64) bool {
	t.Helper()
	if traced+1 == counted {
		t.Logf("traced %d segments, TcpRetransSegs grew by %d: the kernel's one uncounted segment (see RetransSegsMatch)", traced, counted)
	}
	return traced == counted || traced+1 == counted
}
