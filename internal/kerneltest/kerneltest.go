// Package kerneltest holds the one policy every kernel test follows: a test
// that cannot run here (not root, a tool missing, BPF refused) skips with
// the reason, except when CI is set, where kernel tests must run and so
// fail instead. It also makes the namespace pairs tests drop packets in.
package kerneltest

import (
	"os"
	"os/exec"
	"testing"

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
