package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/counters"
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

// udpNoPorts reads UdpNoPorts of the namespace ns, as the kernel counts it.
func udpNoPorts(t *testing.T, ns *netlab.Namespace) uint64 {
	t.Helper()
	var v uint64
	err := ns.Do(func() error {
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		m, err := counters.ParseSNMP(f)
		v = m["UdpNoPorts"]
		return err
	})
	if err != nil {
		t.Fatalf("UdpNoPorts in %s: %v", ns.Name, err)
	}
	return v
}

// sendCounted sends n datagrams to a closed port on ns's loopback and waits
// until the namespace itself has counted them.
func sendCounted(t *testing.T, ns *netlab.Namespace, n int) {
	t.Helper()
	base := udpNoPorts(t, ns)
	kerneltest.SendLoopbackUDP(t, ns, n)
	for deadline := time.Now().Add(settleTimeout); udpNoPorts(t, ns)-base < uint64(n); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s counted %d of %d datagrams", ns.Name, udpNoPorts(t, ns)-base, n)
		}
	}
}

// waitSeen waits until a line of the stream lists a site for which match
// is true, then for three more lines: --once runs started beside the
// stream refresh at the same interval, so they have read the drops too by
// then. what says what was awaited.
func waitSeen(t *testing.T, stream *ndjsonRun, what string, match func(site map[string]any) bool) {
	t.Helper()
	timeout := time.After(settleTimeout)
	var last []string
	for more := -1; more < 3; {
		select {
		case line, ok := <-stream.lines:
			if !ok {
				t.Fatalf("skbtop --json ended: %v", stream.err)
			}
			if more >= 0 {
				more++
				continue
			}
			for _, s := range getObjects(t, decodeDocument(t, []byte(line)), "sites") {
				last = append(last, fmt.Sprintf("%v@%v netns %v count %v", s["interface"], s["namespace"], s["netns"], s["count"]))
				if match(s) {
					more = 0
				}
			}
		case <-timeout:
			t.Fatalf("no line shows %s; sites seen: %v", what, last[max(len(last)-10, 0):])
		}
	}
}

// TestReusedInodeRows: drops in a namespace, the namespace deleted, a new
// namespace made that gets the same inode, drops in it. Both have a
// loopback with ifindex 1 named lo, so only the namespace cookie tells them
// apart: each must keep exactly its own count under its own name, the old
// noCookies returns why the kernel has no namespace cookies (before 5.14:
// SO_NETNS_COOKIE refused), nil where it has them.
func noCookies(t *testing.T) error {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE); errors.Is(err, unix.ENOPROTOOPT) {
		return err
	}
	return nil
}

// one marked gone, in the JSON document and the table.
func TestReusedInodeRows(t *testing.T) {
	const inA, inB = 6, 4
	kerneltest.NeedRoot(t)
	args := []string{"--interval", "100ms", "--symbol", "udp4_lib_rcv"}
	jsonRun := startOnce(t, append([]string{"--once", "--json", "--duration", "10m"}, args...)...)
	tableRun := startOnce(t, append([]string{"--once", "--duration", "10m"}, args...)...)
	stream, _ := startNDJSON(t, append([]string{"--json"}, args...)...)
	seen := func(namespace string, count uint64) {
		t.Helper()
		waitSeen(t, stream, fmt.Sprintf("%d drops in %s", count, namespace), func(s map[string]any) bool {
			return s["namespace"] == namespace && getUint(t, s, "count") == count
		})
	}
	a, err := netlab.NewNamespace("skbtop-ida")
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	// Closed below once its drops are seen; here too if the test stops
	// before that (Close of a closed namespace is harmless).
	t.Cleanup(func() { a.Close() })
	ino := a.Inode
	sendCounted(t, a, inA)
	seen(a.Name, inA)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := kerneltest.NamespaceWithInode(t, ino)
	sendCounted(t, b, inB)
	if cookieErr := noCookies(t); cookieErr != nil {
		// Before 5.14 the kernel has no cookie, and the README says
		// that a reused inode cannot be told apart there: the new
		// namespace's drops count on with the old one's, none lost.
		timeout := time.After(settleTimeout)
		for {
			var sum uint64
			select {
			case line, ok := <-stream.lines:
				if !ok {
					t.Fatalf("skbtop --json ended: %v", stream.err)
				}
				for _, s := range getObjects(t, decodeDocument(t, []byte(line)), "sites") {
					if getUint(t, s, "netns") == uint64(ino) {
						sum += getUint(t, s, "count")
					}
				}
			case <-timeout:
				t.Fatalf("no line shows %d drops at inode %d (no cookies: %v)", inA+inB, ino, cookieErr)
			}
			if sum == inA+inB {
				return
			}
		}
	}
	seen(b.Name, inB)

	doc := decodeDocument(t, jsonRun.stop())
	type row struct {
		namespace string
		gone      bool
	}
	got := map[row]uint64{}
	cookies := map[string]bool{}
	for _, s := range getObjects(t, doc, "sites") {
		if getUint(t, s, "netns") != uint64(ino) {
			continue
		}
		gone, _ := s["gone"].(bool)
		got[row{getString(t, s, "namespace"), gone}] += getUint(t, s, "count")
		cookies[fmt.Sprint(s["netns_cookie"])] = true
		if getString(t, s, "interface") != "lo" {
			t.Errorf("site %v on interface %v, want lo", s["function"], s["interface"])
		}
	}
	want := map[row]uint64{{a.Name, true}: inA, {b.Name, false}: inB}
	if len(got) != len(want) || got[row{a.Name, true}] != inA || got[row{b.Name, false}] != inB {
		t.Errorf("JSON rows of inode %d: %v, want %v", ino, got, want)
	}
	if len(cookies) != 2 {
		t.Errorf("the two namespaces' rows carry cookies %v, want two different ones", cookies)
	}

	table := string(tableRun.stop())
	for _, w := range []struct {
		label string
		n     int
	}{{"lo@" + a.Name + " (gone)", inA}, {"lo@" + b.Name, inB}} {
		var found bool
		for line := range strings.Lines(table) {
			c := cells(line)
			if len(c) == 6 && c[2] == w.label {
				found = true
				if c[4] != fmt.Sprint(w.n) {
					t.Errorf("table row %q: count %s, want %d", strings.TrimSpace(line), c[4], w.n)
				}
			}
		}
		if !found {
			t.Errorf("no table row on %s:\n%s", w.label, table)
		}
	}
}

// TestReusedIfindexRows: drops on a veth, the veth deleted, a new one made
// in the same namespace with the same ifindex (ip link ... index N) and
// another name, drops on it. Each interface must keep exactly its own
// count under its own name, the old one marked gone, in the JSON document.
func TestReusedIfindexRows(t *testing.T) {
	const first, second = 5, 3
	kerneltest.NeedRoot(t)
	l, err := netlab.NewLink()
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	args := []string{"--interval", "100ms", "--netns", l.Receiver.Path, "--symbol", "udp4_lib_rcv"}
	once := startOnce(t, append([]string{"--once", "--json", "--duration", "10m"}, args...)...)
	stream, _ := startNDJSON(t, append([]string{"--json"}, args...)...)
	seen := func(iface string, count uint64) {
		t.Helper()
		waitSeen(t, stream, fmt.Sprintf("%d drops on %s", count, iface), func(s map[string]any) bool {
			return s["interface"] == iface && getUint(t, s, "count") == count
		})
	}
	if err := l.SendUDP(9, first, 32); err != nil {
		t.Fatal(err)
	}
	seen(l.ReceiverIf, first)

	oldIf := l.ReceiverIf
	newTx, newRx := l.SenderIf+"n", l.ReceiverIf+"n"
	index := fmt.Sprint(l.ReceiverIndex)
	for _, step := range [][]string{
		{"-n", l.Sender.Name, "link", "del", l.SenderIf},
		// Made in the receiver's namespace, so that index applies to
		// the receiving end.
		{"-n", l.Receiver.Name, "link", "add", newRx, "index", index, "address", l.ReceiverMAC.String(), "type", "veth",
			"peer", "name", newTx, "netns", l.Sender.Name, "address", l.SenderMAC.String()},
		{"-n", l.Sender.Name, "addr", "add", l.SenderAddr.String() + "/29", "dev", newTx},
		{"-n", l.Receiver.Name, "addr", "add", l.ReceiverAddr.String() + "/29", "dev", newRx},
		{"-n", l.Sender.Name, "link", "set", newTx, "up"},
		{"-n", l.Receiver.Name, "link", "set", newRx, "up"},
		{"-n", l.Sender.Name, "neigh", "replace", l.ReceiverAddr.String(), "lladdr", l.ReceiverMAC.String(), "dev", newTx, "nud", "permanent"},
		{"-n", l.Receiver.Name, "neigh", "replace", l.SenderAddr.String(), "lladdr", l.SenderMAC.String(), "dev", newRx, "nud", "permanent"},
	} {
		if out, err := exec.Command("ip", step...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(step, " "), err, out)
		}
	}
	l.SenderIf, l.ReceiverIf = newTx, newRx
	out, err := exec.Command("ip", "-n", l.Receiver.Name, "-o", "link", "show", "dev", newRx).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), index+": ") {
		t.Fatalf("the new veth did not get ifindex %s: %v: %s", index, err, out)
	}
	if err := l.SendUDP(9, second, 32); err != nil {
		t.Fatal(err)
	}
	seen(newRx, second)

	type row struct {
		iface string
		gone  bool
	}
	got := map[row]uint64{}
	doc := decodeDocument(t, once.stop())
	defer func() {
		if t.Failed() {
			t.Logf("sites: %v\ninterfaces: %v", doc["sites"], doc["interfaces"])
		}
	}()
	for _, s := range getObjects(t, doc, "sites") {
		if getUint(t, s, "ifindex") != uint64(l.ReceiverIndex) {
			t.Errorf("site on %v has ifindex %v, want %d", s["interface"], s["ifindex"], l.ReceiverIndex)
		}
		gone, _ := s["gone"].(bool)
		got[row{getString(t, s, "interface"), gone}] += getUint(t, s, "count")
	}
	if len(got) != 2 || got[row{oldIf, true}] != first || got[row{newRx, false}] != second {
		t.Errorf("rows of ifindex %d: %v, want %d on %s (gone) and %d on %s", l.ReceiverIndex, got, first, oldIf, second, newRx)
	}
}
