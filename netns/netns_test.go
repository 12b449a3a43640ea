package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	// The namespace may be newer than the last scan: a miss rescans, but
	// only once per minRescan.
	clock := time.Now()
	n.now = func() time.Time { return clock }
	n.scanned = clock
	if got := n.Name(ino, false); got != "" {
		t.Errorf("named %q before a rescan was due", got)
	}
	clock = clock.Add(minRescan)
	if got := n.Name(ino, false); got != name {
		t.Errorf("Name(%d) = %q, want %q", ino, got, name)
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
