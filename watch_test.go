package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// TestWatchedNamespaceDeleted watches a namespace with --netns and deletes
// it mid-run: skbtop must let go of it (the kernel then destroys it, and
// with it the veth whose peer is in the other namespace), say so in the
// JSON with the time, and keep the drops it counted.
func TestWatchedNamespaceDeleted(t *testing.T) {
	kerneltest.NeedRoot(t)
	l, err := netlab.NewLink()
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() {
		l.Sender.Close()
		if _, err := os.Stat(l.Receiver.Path); err == nil {
			l.Receiver.Close()
		}
	})
	const n = 5
	r, _ := startNDJSON(t, "--json", "--interval", "200ms", "--netns", l.Receiver.Path)
	if err := l.SendUDP(9, n, 32); err != nil {
		t.Fatal(err)
	}
	type doc struct {
		Totals   struct{ Drops uint64 }
		Warnings []string
	}
	next := func() doc {
		t.Helper()
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("skbtop ended: %v", r.err)
			}
			var d doc
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			return d
		case <-time.After(settleTimeout):
			t.Fatal("no NDJSON line")
		}
		return doc{}
	}
	for d := next(); d.Totals.Drops != n; d = next() {
		if d.Totals.Drops > n {
			t.Fatalf("counted %d drops, sent %d", d.Totals.Drops, n)
		}
	}

	if err := l.Receiver.Close(); err != nil {
		t.Fatal(err)
	}
	// While skbtop runs, the namespace must go: its veth goes with it, and
	// the peer in the sender namespace too.
	for deadline := time.Now().Add(settleTimeout); ; time.Sleep(50 * time.Millisecond) {
		out, err := exec.Command("ip", "-n", l.Sender.Name, "-o", "link", "show").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link show: %v: %s", err, out)
		}
		if !strings.Contains(string(out), l.SenderIf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted namespace is still alive: %s is still in %s", l.SenderIf, l.Sender.Name)
		}
	}
	select {
	case <-r.done:
		t.Fatalf("skbtop stopped when its namespace was deleted: %v", r.err)
	default:
	}
	for d := next(); ; d = next() {
		if d.Totals.Drops != n {
			t.Errorf("after the namespace was deleted: %d drops, want the %d counted", d.Totals.Drops, n)
		}
		var warned bool
		for _, w := range d.Warnings {
			warned = warned || (strings.Contains(w, l.Receiver.Path) && strings.Contains(w, "was deleted at "))
		}
		if warned {
			break
		}
	}
}
