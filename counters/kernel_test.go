package counters_test

import (
	"os"
	"runtime"
	"testing"
	"time"

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
	r, err := counters.Open(l.Receiver.Path)
	if err != nil {
		t.Fatalf("open counters in %s: %v", l.Receiver.Path, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close counters reader: %v", err)
		}
	})
	if r.Netns() != l.Receiver.Inode {
		t.Errorf("reader netns = %d, want the receiver's %d", r.Netns(), l.Receiver.Inode)
	}
	return r
}

func links(t *testing.T, r *counters.Reader) []counters.Link {
	t.Helper()
	ls, err := r.Links()
	if err != nil {
		t.Fatalf("links: %v", err)
	}
	return ls
}

func stack(t *testing.T, r *counters.Reader) map[string]uint64 {
	t.Helper()
	s, err := r.Stack()
	if err != nil {
		t.Fatalf("stack counters: %v", err)
	}
	return s
}

// rxPackets is the cumulative rx_packets of interface ifindex.
func rxPackets(t *testing.T, r *counters.Reader, ifindex int) uint64 {
	t.Helper()
	for _, l := range links(t, r) {
		if int(l.Index) == ifindex {
			return l.Counters.RxPackets
		}
	}
	t.Fatalf("no interface %d", ifindex)
	return 0
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
	tr, err := tracer.Open(tracer.Config{Netns: l.Receiver.Inode, SampleLimit: -1})
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
	agg := drops.NewAggregator(symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons, Interfaces: tr.Interface}, "test", "test")
	tracker := counters.NewTracker()
	traced := func(rd drops.Reading) (sum uint64) {
		for _, c := range rd.Counts {
			if c.Netns == l.Receiver.Inode && c.Ifindex == uint32(l.ReceiverIndex) && c.Reason == unhandled {
				sum += c.Packets
			}
		}
		return sum
	}
	read := func(now time.Time) drops.Reading {
		rd, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		agg.Update(rd)
		tracker.Update(now, links(t, r), stack(t, r))
		return rd
	}

	before := read(time.Now())
	if err := l.SendFrames(0x88b5, n); err != nil {
		t.Fatal(err)
	}
	after := read(time.Now())

	ifc := iface(t, tracker.Interfaces(r.Netns()), l.ReceiverIndex)
	if ifc.Name != l.ReceiverIf {
		t.Errorf("interface %d is %q, want %q", ifc.Ifindex, ifc.Name, l.ReceiverIf)
	}
	if got := ifc.Delta.RxDropped; got != n {
		t.Errorf("rx_dropped delta = %d, want %d", got, n)
	}
	if got := ifc.Delta.RxNoHandler; got != 0 {
		t.Errorf("rx_nohandler delta = %d, want 0 (no exact-delivery rx_handler on a veth)", got)
	}
	if got := traced(after) - traced(before); got != n {
		t.Errorf("traced UNHANDLED_PROTO drops on %s = %d, want %d", l.ReceiverIf, got, n)
	}

	snap := agg.Snapshot()
	snap.SetCounters(tracker.Interfaces(r.Netns()), tracker.StackCounters(false))
	merged := iface(t, snap.Interfaces, l.ReceiverIndex)
	rec := drops.Reconcile(merged, snap.Sites)
	want := drops.Reconciliation{HasCounters: true, Counted: n, Traced: n, Explained: n, Fraction: 1}
	if rec != want {
		t.Errorf("Reconcile = %+v, want %+v; sites:%v", rec, want, snap.Sites)
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
	tracker := counters.NewTracker()
	read := func(now time.Time) {
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
			tracker.Update(now, ls, s)
		}()
		<-done
	}
	t0 := time.Now()
	read(t0)
	before, beforeLink := stack(t, r)["UdpNoPorts"], rxPackets(t, r, l.ReceiverIndex)
	if err := l.SendUDP(9, n, 32); err != nil {
		t.Fatal(err)
	}
	// Sending returns before the receiver has processed every datagram (a
	// veth hands them to a backlog that softirq drains, at times later, on
	// ksoftirqd): wait for the namespace's own counters to settle before
	// the reading under test.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		noPorts, rx := stack(t, r)["UdpNoPorts"]-before, rxPackets(t, r, l.ReceiverIndex)-beforeLink
		if noPorts == n && rx == n {
			break
		}
		if noPorts > n || rx > n || time.Now().After(deadline) {
			t.Fatalf("after sending %d datagrams: UdpNoPorts grew by %d, rx_packets by %d", n, noPorts, rx)
		}
	}
	read(t0.Add(time.Second))

	var noPorts *drops.StackCounter
	for _, c := range tracker.StackCounters(false) {
		if c.Name == "UdpNoPorts" {
			noPorts = &c
		}
	}
	if noPorts == nil || noPorts.Delta != n {
		t.Errorf("UdpNoPorts = %+v, want delta %d", noPorts, n)
	}
	ifc := iface(t, tracker.Interfaces(r.Netns()), l.ReceiverIndex)
	if ifc.Delta.RxPackets != n || ifc.Delta.RxDropped != 0 {
		t.Errorf("%s: rx_packets delta %d, rx_dropped delta %d; want %d and 0",
			l.ReceiverIf, ifc.Delta.RxPackets, ifc.Delta.RxDropped, n)
	}
}

// TestKernelOpenErrors checks that a bad namespace path is an error, not a
// reader of the wrong namespace.
func TestKernelOpenErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		kerneltest.SkipOrFail(t, "entering a namespace needs root")
	}
	for _, path := range []string{"/run/netns/skbtop-does-not-exist", "/etc/hostname"} {
		if r, err := counters.Open(path); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
	r, err := counters.Open("")
	if err != nil {
		t.Fatalf("Open(\"\"): %v", err)
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
