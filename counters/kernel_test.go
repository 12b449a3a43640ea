package counters_test

import (
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
	"github.com/skbtop/skbtop/symbols"
	"github.com/skbtop/skbtop/tracer"
)

// openReader opens a counters reader on the receiver's namespace.
func openReader(t *testing.T, l *netlab.Link) *counters.Reader {
	t.Helper()
	r, err := counters.OpenPath(l.Receiver.Path)
	if err != nil {
		t.Fatalf("open counters in %s: %v", l.Receiver.Path, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close counters reader: %v", err)
		}
	})
	return r
}

func links(t *testing.T, r *counters.Reader) []drops.Link {
	t.Helper()
	ls, err := r.Links()
	if err != nil {
		t.Fatalf("links: %v", err)
	}
	return ls
}

func stack(t *testing.T, r *counters.Reader) drops.Stack {
	t.Helper()
	s, err := r.Stack()
	if err != nil {
		t.Fatalf("stack counters: %v", err)
	}
	return s
}

func iface(t *testing.T, ifaces []drops.Interface, ifindex int) drops.Interface {
	t.Helper()
	for _, ifc := range ifaces {
		if ifc.Ifindex == uint32(ifindex) {
			return ifc
		}
	}
	t.Fatalf("no interface %d in %+v", ifindex, ifaces)
	return drops.Interface{}
}

// TestKernelUnhandledEthertype sends frames of an ethertype nothing
// handles to the receiver veth. Each is freed in __netif_receive_skb_core
// with UNHANDLED_PROTO and counted in the veth's rx_dropped: the counter
// and the tracer must both see exactly the frames sent, and Reconcile must
// say the traced drops explain all of rx_dropped.
func TestKernelUnhandledEthertype(t *testing.T) {
	const n = 25
	l := kerneltest.NewLink(t)
	r := openReader(t, l)
	tr, err := tracer.Open(tracer.Config{Netns: l.Receiver.Inode})
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot load the BPF program here: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close tracer: %v", err)
		}
	})
	reasons := loadReasons(t, tr)
	// Without drop reasons (before 5.17) the drops have none.
	unhandled := uint32(drops.NoReason)
	if reasons != nil {
		code, ok := reasons.Code("UNHANDLED_PROTO")
		if !ok {
			t.Fatal("this kernel has no SKB_DROP_REASON_UNHANDLED_PROTO")
		}
		unhandled = code
	}
	kallsyms, err := symbols.OpenKallsyms("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons}, Home: drops.NamespaceID{Inode: l.Receiver.Inode}, NoReasons: !tr.Reasons()})
	read := func() {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rd.Links, rd.Stack = links(t, r), stack(t, r)
		agg.Update(rd)
	}

	read()
	if err := l.SendFrames(0x88b5, n); err != nil {
		t.Fatal(err)
	}
	read()

	snap := agg.Snapshot()
	ifc := iface(t, snap.Interfaces, l.ReceiverIndex)
	if ifc.Name != l.ReceiverIf {
		t.Errorf("interface %d is %q, want %q", ifc.Ifindex, ifc.Name, l.ReceiverIf)
	}
	if got := ifc.Delta.Get(drops.RxDropped); got != n {
		t.Errorf("rx_dropped delta = %d, want %d", got, n)
	}
	if got := ifc.Delta.Get(drops.RxNoHandler); got != 0 {
		t.Errorf("rx_nohandler delta = %d, want 0 (no exact-delivery rx_handler on a veth)", got)
	}
	var traced uint64
	for _, s := range snap.Sites {
		if s.Ifindex == uint32(l.ReceiverIndex) && uint32(s.ReasonCode) == unhandled {
			traced += s.Count
		}
	}
	if traced != n {
		t.Errorf("traced UNHANDLED_PROTO drops on %s = %d, want %d", l.ReceiverIf, traced, n)
	}

	want := drops.Reconciliation{HasCounters: true, Counted: n, Traced: n, Explained: n, Fraction: 1,
		Counters: []drops.CounterReconciliation{{Counters: "rx_dropped+rx_nohandler", Counted: n, Traced: n, Explained: n}}}
	if kerneltest.StructHasMember(t, "rtnl_link_stats64", "rx_otherhost_dropped") {
		// Linux 6.0+: a row for the counter, which counted nothing.
		want.Counters = append(want.Counters, drops.CounterReconciliation{Counters: "rx_otherhost_dropped"})
	}
	if diff := cmp.Diff(want, ifc.Reconciliation); diff != "" {
		t.Errorf("reconciliation (-want +got):\n%s\nsites: %v", diff, snap.Sites)
	}
}

// TestKernelUDPNoPorts sends datagrams to a port nothing listens on: each
// counts in the receiver namespace's UdpNoPorts, and not in the veth's
// rx_dropped. The counters are read from goroutines outside the namespace,
// which checks that the /proc files opened once inside it stay bound to it.
func TestKernelUDPNoPorts(t *testing.T) {
	const n = 40
	l := kerneltest.NewLink(t)
	r := openReader(t, l)
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{}, Home: drops.NamespaceID{Inode: l.Receiver.Inode}})
	read := func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			// A fresh thread of the process's own namespace.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ls, err := r.Links()
			if err != nil {
				t.Errorf("links: %v", err)
			}
			s, err := r.Stack()
			if err != nil {
				t.Errorf("stack: %v", err)
			}
			agg.Update(drops.Reading{Time: time.Now(), Links: ls, Stack: s})
		}()
		<-done
	}
	read()
	if err := l.SendUDP(9, n, 32); err != nil {
		t.Fatal(err)
	}
	// The datagrams cross a veth: the receiver may count them a moment
	// after the send returns. Read until UdpNoPorts settles at n.
	var snap drops.Snapshot
	var noPorts drops.StackCounter
	for deadline := time.Now().Add(5 * time.Second); ; {
		read()
		snap = agg.Snapshot()
		for _, c := range snap.StackCounters {
			if c.Name == "UdpNoPorts" {
				noPorts = c
			}
		}
		if noPorts.Delta >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
	if noPorts.Delta != n {
		t.Errorf("UdpNoPorts = %+v, want delta %d", noPorts, n)
	}
	ifc := iface(t, snap.Interfaces, l.ReceiverIndex)
	if got, drop := ifc.Delta.Get(drops.RxPackets), ifc.Delta.Get(drops.RxDropped); got != n || drop != 0 {
		t.Errorf("%s: rx_packets delta %d, rx_dropped delta %d; want %d and 0", l.ReceiverIf, got, drop, n)
	}
}

// TestKernelOpenErrors checks that a bad namespace path is an error, not a
// reader of the wrong namespace.
func TestKernelOpenErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		kerneltest.SkipOrFail(t, "entering a namespace needs root")
	}
	for _, path := range []string{"/run/netns/skbtop-does-not-exist", "/etc/hostname"} {
		if r, err := counters.OpenPath(path); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
	r, err := counters.Open(nil)
	if err != nil {
		t.Fatalf("Open(nil): %v", err)
	}
	defer r.Close()
	if ls, err := r.Links(); err != nil || len(ls) == 0 {
		t.Errorf("Links() in the current namespace = %d links, %v; want at least lo", len(ls), err)
	}
	if s, err := r.Stack(); err != nil || len(s) == 0 {
		t.Errorf("Stack() in the current namespace = %v, %v", s, err)
	}
	r.Close()
	if _, err := r.Links(); err == nil {
		t.Error("Links() after Close succeeded")
	}
	if _, err := r.Stack(); err == nil {
		t.Error("Stack() after Close succeeded")
	}
}

// TestKernelOtherhost sends IPv4 frames addressed to another host's MAC
// address to the receiver veth. ip_rcv_core counts each in the veth's
// rx_otherhost_dropped (Linux 6.0+) and frees it with OTHERHOST: counter,
// tracer and reconciliation must agree exactly.
func TestKernelOtherhost(t *testing.T) {
	const n = 17
	l := kerneltest.NewLink(t)
	r := openReader(t, l)
	tr, err := tracer.Open(tracer.Config{Netns: l.Receiver.Inode})
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot load the BPF program here: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close tracer: %v", err)
		}
	})
	reasons := loadReasons(t, tr)
	kallsyms, err := symbols.OpenKallsyms("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons}, Home: drops.NamespaceID{Inode: l.Receiver.Inode}, NoReasons: !tr.Reasons()})
	read := func() {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rd.Links = links(t, r)
		agg.Update(rd)
	}
	read()
	has := agg.Snapshot().Interfaces[0].Counters.Has(drops.RxOtherhostDropped)
	if want := kerneltest.StructHasMember(t, "rtnl_link_stats64", "rx_otherhost_dropped"); has != want {
		t.Fatalf("rx_otherhost_dropped read: %v, but the kernel's struct rtnl_link_stats64 has it: %v", has, want)
	}
	if !has {
		// Before 6.0: the counter is absent, not zero, and the
		// OTHERHOST reason did not exist either.
		t.Logf("this kernel has no rx_otherhost_dropped (Linux 6.0+): absent from the counters")
		return
	}
	// A minimal IPv4/UDP header from 198.18.0.1 to 198.18.0.2, sent to a
	// MAC address that is not the receiver's.
	ipv4 := []byte{0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2}
	if err := l.SendRaw(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}, 0x0800, ipv4, n); err != nil {
		t.Fatal(err)
	}
	read()
	snap := agg.Snapshot()
	ifc := iface(t, snap.Interfaces, l.ReceiverIndex)
	if got := ifc.Delta.Get(drops.RxOtherhostDropped); got != n {
		t.Errorf("rx_otherhost_dropped delta = %d, want %d", got, n)
	}
	var traced uint64
	for _, s := range snap.Sites {
		if s.Reason == "OTHERHOST" && s.Ifindex == uint32(l.ReceiverIndex) {
			traced += s.Count
			if s.L3 != "IPv4" || s.L4 != "UDP" {
				t.Errorf("OTHERHOST site %s has protocol %s/%s, want IPv4/UDP", s.Symbol(), s.L3, s.L4)
			}
		}
	}
	if traced != n {
		t.Errorf("traced OTHERHOST drops = %d, want %d; sites: %v", traced, n, snap.Sites)
	}
	want := drops.CounterReconciliation{Counters: "rx_otherhost_dropped", Counted: n, Traced: n, Explained: n}
	if i := slices.IndexFunc(ifc.Reconciliation.Counters, func(c drops.CounterReconciliation) bool { return c.Counters == want.Counters }); i < 0 {
		t.Errorf("no rx_otherhost_dropped row in %+v", ifc.Reconciliation)
	} else if got := ifc.Reconciliation.Counters[i]; got != want {
		t.Errorf("rx_otherhost_dropped reconciliation %+v, want %+v", got, want)
	}
	if rc := ifc.Reconciliation; rc.Explained != n || rc.Elsewhere != 0 {
		t.Errorf("reconciliation explained %d elsewhere %d, want %d and 0", rc.Explained, rc.Elsewhere, n)
	}
}

// TestKernelMapFullReconciled fills a 64-key map in one interval with
// frames of 200 ethertypes nothing handles, each its own key: the veth's
// rx_dropped counts all 200, the keys explain 64 at most, and the rest went
// to [map full] on that interface. The reconciliation must say so instead
// of calling them unexplained.
func TestKernelMapFullReconciled(t *testing.T) {
	const n, maxKeys = 200, 64
	l := kerneltest.NewLink(t)
	r := openReader(t, l)
	tr, err := tracer.Open(tracer.Config{Netns: l.Receiver.Inode, MaxKeys: maxKeys})
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot load the BPF program here: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	reasons := loadReasons(t, tr)
	kallsyms, err := symbols.OpenKallsyms("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons},
		Home: drops.NamespaceID{Inode: l.Receiver.Inode}, NoReasons: !tr.Reasons()})
	read := func() {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rd.Links = links(t, r)
		agg.Update(rd)
	}
	read()
	// 0x88b5 and up: local experimental and unassigned ethertypes.
	for i := range n {
		if err := l.SendFrames(uint16(0x9000+i), 1); err != nil {
			t.Fatal(err)
		}
	}
	read()
	snap := agg.Snapshot()
	ifc := iface(t, snap.Interfaces, l.ReceiverIndex)
	rc := ifc.Reconciliation
	if got := ifc.Delta.Get(drops.RxDropped); got != n {
		t.Fatalf("rx_dropped delta = %d, want %d", got, n)
	}
	if rc.Traced+rc.MapFull != n || rc.MapFull < n-maxKeys || rc.MapFull != ifc.MapFull {
		t.Errorf("traced at sites %d + map full %d (interface %d), want %d in all, at least %d map full",
			rc.Traced, rc.MapFull, ifc.MapFull, n, n-maxKeys)
	}
	if rc.Unexplained != 0 || rc.Explained != rc.Traced {
		t.Errorf("reconciliation %+v: want nothing unexplained, everything at sites explained", rc)
	}
	if snap.Totals.KeysOverflowed != rc.MapFull || snap.Totals.Drops != n {
		t.Errorf("totals: %d overflowed, %d drops; want %d and %d", snap.Totals.KeysOverflowed, snap.Totals.Drops, rc.MapFull, n)
	}
}

// TestKernelOpenLeavesNoThreadBehind: opening a reader enters the namespace
// on a thread of its own; afterwards no thread of the process may still be
// in it, or the namespace would outlive its deletion.
func TestKernelOpenLeavesNoThreadBehind(t *testing.T) {
	l := kerneltest.NewLink(t)
	for range 8 {
		openReader(t, l)
	}
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/ns/net", os.Getpid()))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads found: %v", err)
	}
	for _, task := range tasks {
		if ns, err := os.Readlink(task); err == nil && ns != own {
			t.Errorf("%s is in %s, not in the process's %s", task, ns, own)
		}
	}
}

// ipIn runs ip inside the namespace.
func ipIn(t *testing.T, ns *netlab.Namespace, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns.Name, strings.Join(args, " "), err, out)
	}
}

// ifindex returns the ifindex of the interface name inside ns.
func ifindex(t *testing.T, ns *netlab.Namespace, name string) uint32 {
	t.Helper()
	var idx int
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = ifc.Index
		return nil
	})
	if err != nil {
		t.Fatalf("find %s in %s: %v", name, ns.Name, err)
	}
	return uint32(idx)
}

// names returns the interfaces' names by ifindex.
func names(ls []drops.Link) map[uint32]string {
	m := make(map[uint32]string, len(ls))
	for _, l := range ls {
		m[l.Index] = l.Name
	}
	return m
}

// wantLinkDumps fails the test unless r has made n RTM_GETLINK dumps.
func wantLinkDumps(t *testing.T, r *counters.Reader, n int, when string) {
	t.Helper()
	if got := counters.LinkDumps(r); got != n {
		t.Errorf("%s: %d RTM_GETLINK dumps, want %d", when, got, n)
	}
}

// TestKernelLinksStatsEqualGetLink reads a quiet namespace whose veth has
// dropped frames through RTM_GETSTATS (names from the cache) and through
// the RTM_GETLINK fallback of a kernel that refuses RTM_GETSTATS: both
// must give the same interfaces, names and counters.
func TestKernelLinksStatsEqualGetLink(t *testing.T) {
	const n = 11
	l := kerneltest.NewLink(t)
	if err := l.SendFrames(0x88b5, n); err != nil {
		t.Fatal(err)
	}
	fallback := openReader(t, l)
	counters.RefuseStats(fallback)
	// The frames cross a veth: wait until the receiver has counted them,
	// after which nothing moves.
	var want []drops.Link
	for deadline := time.Now().Add(5 * time.Second); ; {
		want = links(t, fallback)
		i := slices.IndexFunc(want, func(dl drops.Link) bool { return dl.Index == uint32(l.ReceiverIndex) })
		if i >= 0 && want[i].Counters.Get(drops.RxDropped) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rx_dropped of %s never reached %d: %+v", l.ReceiverIf, n, want)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
	if counters.UsesStats(fallback) {
		t.Fatal("the kernel took an RTM_GETSTATS request with a zero filter_mask; the fallback was not tested")
	}
	polls := counters.LinkDumps(fallback)

	r := openReader(t, l)
	first := links(t, r) // names and counters from RTM_GETLINK
	wantLinkDumps(t, r, 1, "first call")
	got := links(t, r) // counters from RTM_GETSTATS, names from the cache
	wantLinkDumps(t, r, 1, "second call")
	if !counters.UsesStats(r) {
		t.Fatal("the kernel refused RTM_GETSTATS (Linux 4.7+)")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RTM_GETSTATS path differs from the RTM_GETLINK fallback (-getlink +getstats):\n%s", diff)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("second call differs from the first (-first +second):\n%s", diff)
	}
	if len(got) != 2 || got[1].Name != l.ReceiverIf {
		t.Errorf("want lo and %s, got %+v", l.ReceiverIf, got)
	}
	// The fallback stays on RTM_GETLINK: one dump a call.
	links(t, fallback)
	wantLinkDumps(t, fallback, polls+1, "fallback")
}

// TestKernelLinksFollowInterfaces creates a veth pair in the watched
// namespace after the first call and deletes it later: the call after each
// change shows it. The reader learns of both from the kernel's link events
// and dumps names only once, at the first call; without the events (a
// reader that could not open their socket) the call after each change
// dumps names again, and the calls between dump none.
func TestKernelLinksFollowInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name  string
		deaf  bool
		dumps [2]int // after creating, after deleting
	}{
		{"events", false, [2]int{1, 1}},
		{"no events", true, [2]int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := kerneltest.NewLink(t)
			r := openReader(t, l)
			if tc.deaf {
				counters.Deafen(r)
			}
			before := names(links(t, r))
			links(t, r)
			wantLinkDumps(t, r, 1, "two calls, nothing changed")

			ipIn(t, l.Receiver, "link", "add", "sknew0", "type", "veth", "peer", "name", "sknew1")
			want := maps.Clone(before)
			want[ifindex(t, l.Receiver, "sknew0")] = "sknew0"
			want[ifindex(t, l.Receiver, "sknew1")] = "sknew1"
			for call := range 3 {
				if diff := cmp.Diff(want, names(links(t, r))); diff != "" {
					t.Errorf("call %d after creating a veth pair: names (-want +got):\n%s", call+1, diff)
				}
			}
			wantLinkDumps(t, r, tc.dumps[0], "after creating")

			ipIn(t, l.Receiver, "link", "del", "sknew0") // its peer goes with it
			for call := range 3 {
				if diff := cmp.Diff(before, names(links(t, r))); diff != "" {
					t.Errorf("call %d after deleting the veth pair: names (-want +got):\n%s", call+1, diff)
				}
			}
			wantLinkDumps(t, r, tc.dumps[1], "after deleting")
		})
	}
}

// TestKernelLinksNamesSameSet makes the two changes that keep the set of
// ifindexes, which the RTM_GETSTATS dump cannot show: a rename, and a veth
// pair deleted and created again with the same ifindexes. With the link
// events the very next call has the new names, and no call dumps names
// again. Without them the cached names serve until namesEvery calls after
// the last names dump, and the next dump has the new names.
func TestKernelLinksNamesSameSet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, ns *netlab.Namespace, a, b uint32)
	}{
		{"rename", func(t *testing.T, ns *netlab.Namespace, _, _ uint32) {
			ipIn(t, ns, "link", "set", "skold0", "name", "sknew0")
			ipIn(t, ns, "link", "set", "skold1", "name", "sknew1")
		}},
		{"ifindexes reused", func(t *testing.T, ns *netlab.Namespace, a, b uint32) {
			ipIn(t, ns, "link", "del", "skold0")
			ipIn(t, ns, "link", "add", "sknew0", "index", fmt.Sprint(a), "type", "veth",
				"peer", "name", "sknew1", "index", fmt.Sprint(b))
		}},
	} {
		for _, deaf := range []bool{false, true} {
			name := tc.name
			if deaf {
				name += ", no events"
			}
			t.Run(name, func(t *testing.T) {
				l := kerneltest.NewLink(t)
				ipIn(t, l.Receiver, "link", "add", "skold0", "type", "veth", "peer", "name", "skold1")
				a, b := ifindex(t, l.Receiver, "skold0"), ifindex(t, l.Receiver, "skold1")
				r := openReader(t, l)
				if deaf {
					counters.Deafen(r)
				}
				old := names(links(t, r)) // the names dump
				tc.change(t, l.Receiver, a, b)
				if a2, b2 := ifindex(t, l.Receiver, "sknew0"), ifindex(t, l.Receiver, "sknew1"); a2 != a || b2 != b {
					t.Fatalf("ifindexes %d, %d became %d, %d: the set changed", a, b, a2, b2)
				}
				want := maps.Clone(old)
				want[a], want[b] = "sknew0", "sknew1"
				if !deaf {
					for call := 2; call <= counters.NamesEvery+1; call++ {
						if diff := cmp.Diff(want, names(links(t, r))); diff != "" {
							t.Fatalf("call %d: names (-want +got):\n%s", call, diff)
						}
					}
					wantLinkDumps(t, r, 1, fmt.Sprintf("%d calls", counters.NamesEvery+1))
					return
				}
				for call := 2; call <= counters.NamesEvery; call++ {
					if diff := cmp.Diff(old, names(links(t, r))); diff != "" {
						t.Fatalf("call %d served from the cache has other names (-cached +got):\n%s", call, diff)
					}
				}
				wantLinkDumps(t, r, 1, fmt.Sprintf("%d calls", counters.NamesEvery))
				if diff := cmp.Diff(want, names(links(t, r))); diff != "" {
					t.Errorf("call %d: names (-want +got):\n%s", counters.NamesEvery+1, diff)
				}
				wantLinkDumps(t, r, 2, fmt.Sprintf("%d calls", counters.NamesEvery+1))
			})
		}
	}
}

// TestKernelLinksEventsOverflow renames interfaces faster than a small
// events socket can hold their events: the kernel drops some (ENOBUFS),
// and the next call, no longer sure of its names, dumps them again.
func TestKernelLinksEventsOverflow(t *testing.T) {
	const pairs = 8
	l := kerneltest.NewLink(t)
	for i := range pairs {
		ipIn(t, l.Receiver, "link", "add", fmt.Sprintf("skold%d", 2*i), "type", "veth", "peer", "name", fmt.Sprintf("skold%d", 2*i+1))
	}
	r := openReader(t, l)
	if err := counters.ShrinkEvents(r); err != nil {
		t.Fatal(err)
	}
	old := names(links(t, r))
	wantLinkDumps(t, r, 1, "first call")
	want := maps.Clone(old)
	for i := range 2 * pairs {
		ipIn(t, l.Receiver, "link", "set", fmt.Sprintf("skold%d", i), "name", fmt.Sprintf("sknew%d", i))
		want[ifindex(t, l.Receiver, fmt.Sprintf("sknew%d", i))] = fmt.Sprintf("sknew%d", i)
	}
	if diff := cmp.Diff(want, names(links(t, r))); diff != "" {
		t.Errorf("after %d renames: names (-want +got):\n%s", 2*pairs, diff)
	}
	wantLinkDumps(t, r, 2, "after the events overflowed")
}

// loadReasons names the drop reasons of the running kernel, as skbtop does,
// or returns nil where the tracer found the kernel reports none.
func loadReasons(t *testing.T, tr *tracer.Tracer) *symbols.Reasons {
	t.Helper()
	if !tr.Reasons() {
		return nil
	}
	reasons, err := symbols.LoadReasons()
	if err != nil {
		t.Fatal(err)
	}
	return reasons
}
