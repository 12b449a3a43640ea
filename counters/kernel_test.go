package counters_test

import (
	"net"
	"os"
	"runtime"
	"slices"
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
	reasons, err := symbols.LoadReasons()
	if err != nil {
		t.Fatal(err)
	}
	unhandled, ok := reasons.Code("UNHANDLED_PROTO")
	if !ok {
		t.Fatal("this kernel has no SKB_DROP_REASON_UNHANDLED_PROTO")
	}
	kallsyms, err := symbols.OpenKallsyms("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons}, Home: drops.NamespaceID{Inode: l.Receiver.Inode}})
	traced := func(rd drops.Reading) (sum uint64) {
		for _, c := range rd.Counts {
			if c.Netns == l.Receiver.Inode && c.Ifindex == uint32(l.ReceiverIndex) && c.Reason == unhandled {
				sum += c.Packets
			}
		}
		return sum
	}
	read := func() drops.Reading {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rd.Links, rd.LinksNetns, rd.Stack = links(t, r), l.Receiver.Inode, stack(t, r)
		agg.Update(rd)
		return rd
	}

	before := read()
	if err := l.SendFrames(0x88b5, n); err != nil {
		t.Fatal(err)
	}
	after := read()

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
	if got := traced(after) - traced(before); got != n {
		t.Errorf("traced UNHANDLED_PROTO drops on %s = %d, want %d", l.ReceiverIf, got, n)
	}

	want := drops.Reconciliation{HasCounters: true, Counted: n, Traced: n, Explained: n, Fraction: 1,
		Counters: []drops.CounterReconciliation{{Counters: "rx_dropped+rx_nohandler", Counted: n, Traced: n, Explained: n},
			{Counters: "rx_otherhost_dropped"}}}
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
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{}})
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
			agg.Update(drops.Reading{Time: time.Now(), Links: ls, LinksNetns: l.Receiver.Inode, Stack: s})
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
	reasons, err := symbols.LoadReasons()
	if err != nil {
		t.Fatal(err)
	}
	kallsyms, err := symbols.OpenKallsyms("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	agg := drops.NewAggregator(drops.Config{Resolver: symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons}, Home: drops.NamespaceID{Inode: l.Receiver.Inode}})
	read := func() {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rd.Links, rd.LinksNetns = links(t, r), l.Receiver.Inode
		agg.Update(rd)
	}
	read()
	if !agg.Snapshot().Interfaces[0].Counters.Has(drops.RxOtherhostDropped) {
		kerneltest.SkipOrFail(t, "this kernel has no rx_otherhost_dropped (Linux 6.0+)")
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
