package counters

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skbtop/skbtop/drops"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func link(index uint32, name string, rxPackets, rxDropped uint64) Link {
	return Link{Name: name, Index: index, Stats64: true,
		Counters: drops.LinkCounters{RxPackets: rxPackets, RxDropped: rxDropped}}
}

// ifaceFigures is the part of drops.Interface a test compares.
type ifaceFigures struct {
	Name     string
	Ifindex  uint32
	Counters drops.LinkCounters
	Delta    drops.LinkCounters
	Rates    *drops.LinkRates
}

func figures(t *testing.T, ifaces []drops.Interface, netns uint32) []ifaceFigures {
	t.Helper()
	var out []ifaceFigures
	for _, ifc := range ifaces {
		if ifc.Netns != netns {
			t.Errorf("%s: netns %d, want %d", ifc.Name, ifc.Netns, netns)
		}
		if ifc.Counters == nil || ifc.Delta == nil {
			t.Fatalf("%s: counters %v, delta %v; want both", ifc.Name, ifc.Counters, ifc.Delta)
		}
		if ifc.TracedDrops != 0 || ifc.TracedRate != 0 {
			t.Errorf("%s: traced figures set by the tracker", ifc.Name)
		}
		out = append(out, ifaceFigures{ifc.Name, ifc.Ifindex, *ifc.Counters, *ifc.Delta, ifc.Rates})
	}
	return out
}

func TestTrackerInterfaces(t *testing.T) {
	const netns = 4026531840
	tr := NewTracker()
	check := func(step string, want []ifaceFigures) {
		t.Helper()
		if diff := cmp.Diff(want, figures(t, tr.Interfaces(netns), netns)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step, diff)
		}
	}

	tr.Update(t0, []Link{link(2, "eth0", 1000, 50), link(1, "lo", 10, 0)}, nil)
	check("first reading: baseline, no rates", []ifaceFigures{
		{"lo", 1, drops.LinkCounters{RxPackets: 10}, drops.LinkCounters{}, nil},
		{"eth0", 2, drops.LinkCounters{RxPackets: 1000, RxDropped: 50}, drops.LinkCounters{}, nil},
	})

	tr.Update(t0.Add(2*time.Second), []Link{link(1, "lo", 10, 0), link(2, "eth0", 1200, 60)}, nil)
	check("second reading", []ifaceFigures{
		{"lo", 1, drops.LinkCounters{RxPackets: 10}, drops.LinkCounters{}, &drops.LinkRates{}},
		{"eth0", 2, drops.LinkCounters{RxPackets: 1200, RxDropped: 60},
			drops.LinkCounters{RxPackets: 200, RxDropped: 10}, &drops.LinkRates{RxPackets: 100, RxDropped: 5}},
	})

	// eth0's counters went back (driver reset): the interval counts from
	// the new values, added to what the window already held.
	tr.Update(t0.Add(4*time.Second), []Link{link(1, "lo", 10, 0), link(2, "eth0", 30, 4)}, nil)
	check("counter reset", []ifaceFigures{
		{"lo", 1, drops.LinkCounters{RxPackets: 10}, drops.LinkCounters{}, &drops.LinkRates{}},
		{"eth0", 2, drops.LinkCounters{RxPackets: 30, RxDropped: 4},
			drops.LinkCounters{RxPackets: 230, RxDropped: 14}, &drops.LinkRates{RxPackets: 15, RxDropped: 2}},
	})

	tr.Reset()
	check("reset: deltas restart, rates kept", []ifaceFigures{
		{"lo", 1, drops.LinkCounters{RxPackets: 10}, drops.LinkCounters{}, &drops.LinkRates{}},
		{"eth0", 2, drops.LinkCounters{RxPackets: 30, RxDropped: 4},
			drops.LinkCounters{}, &drops.LinkRates{RxPackets: 15, RxDropped: 2}},
	})

	// A failed dump (nil) keeps the interfaces as they were.
	tr.Update(t0.Add(5*time.Second), nil, map[string]uint64{})
	// eth0 vanished; its ifindex now belongs to a new interface, whose
	// counters start their own window. Rates are over the 2s since eth0 and
	// lo were last read.
	tr.Update(t0.Add(6*time.Second), []Link{link(1, "lo", 12, 0), link(2, "veth0", 500, 9), link(3, "eth1", 7, 1)}, nil)
	check("vanished, reused ifindex, new", []ifaceFigures{
		{"lo", 1, drops.LinkCounters{RxPackets: 12}, drops.LinkCounters{RxPackets: 2}, &drops.LinkRates{RxPackets: 1}},
		{"veth0", 2, drops.LinkCounters{RxPackets: 500, RxDropped: 9}, drops.LinkCounters{}, nil},
		{"eth1", 3, drops.LinkCounters{RxPackets: 7, RxDropped: 1}, drops.LinkCounters{}, nil},
	})

	tr.Update(t0.Add(7*time.Second), []Link{}, nil)
	if got := tr.Interfaces(netns); len(got) != 0 {
		t.Errorf("after an empty dump: %d interfaces, want none", len(got))
	}
}

func TestTrackerAllLinkFields(t *testing.T) {
	// Every field takes part in deltas and rates.
	tr := NewTracker()
	tr.Update(t0, []Link{{Name: "eth0", Index: 2}}, nil)
	c := drops.LinkCounters{RxPackets: 2, TxPackets: 4, RxDropped: 6, TxDropped: 8, RxMissed: 10,
		RxFIFO: 12, RxNoHandler: 14, RxErrors: 16, TxErrors: 18}
	tr.Update(t0.Add(2*time.Second), []Link{{Name: "eth0", Index: 2, Counters: c}}, nil)
	got := tr.Interfaces(1)[0]
	if *got.Delta != c {
		t.Errorf("delta = %+v, want %+v", *got.Delta, c)
	}
	want := drops.LinkRates{RxPackets: 1, TxPackets: 2, RxDropped: 3, TxDropped: 4, RxMissed: 5,
		RxFIFO: 6, RxNoHandler: 7, RxErrors: 8, TxErrors: 9}
	if *got.Rates != want {
		t.Errorf("rates = %+v, want %+v", *got.Rates, want)
	}
}

func TestTrackerStackCounters(t *testing.T) {
	tr := NewTracker()
	tr.Update(t0, nil, map[string]uint64{"UdpNoPorts": 100, "TcpExtListenDrops": 5, "IpInDiscards": 0, "Zz": 1})
	if got := tr.StackCounters(false); len(got) != 0 {
		t.Errorf("first reading shows %v, want nothing moved yet", got)
	}
	wantAll := []drops.StackCounter{
		{Name: "IpInDiscards"}, {Name: "UdpNoPorts", Value: 100}, {Name: "TcpExtListenDrops", Value: 5}, {Name: "Zz", Value: 1},
	}
	if diff := cmp.Diff(wantAll, tr.StackCounters(true)); diff != "" {
		t.Errorf("all, in StackCounterNames order then by name (-want +got):\n%s", diff)
	}

	tr.Update(t0.Add(time.Second), nil, map[string]uint64{"UdpNoPorts": 130, "TcpExtListenDrops": 5, "IpInDiscards": 0, "Zz": 1})
	// ListenDrops reset to 2 (namespace recreated under the same name).
	tr.Update(t0.Add(3*time.Second), nil, map[string]uint64{"UdpNoPorts": 140, "TcpExtListenDrops": 2, "Zz": 1})
	want := []drops.StackCounter{
		{Name: "UdpNoPorts", Value: 140, Delta: 40, Rate: 5},
		{Name: "TcpExtListenDrops", Value: 2, Delta: 2, Rate: 1},
	}
	if diff := cmp.Diff(want, tr.StackCounters(false)); diff != "" {
		t.Errorf("moved counters (-want +got):\n%s", diff)
	}
	if got := tr.StackCounters(true); len(got) != 3 {
		t.Errorf("all = %v, want 3 counters (IpInDiscards vanished)", got)
	}

	// A failed read keeps the counters; Reset zeroes the deltas but a
	// counter that moved in the last interval still shows with its rate.
	tr.Update(t0.Add(4*time.Second), []Link{}, nil)
	tr.Reset()
	want = []drops.StackCounter{
		{Name: "UdpNoPorts", Value: 140, Rate: 5},
		{Name: "TcpExtListenDrops", Value: 2, Rate: 1},
	}
	if diff := cmp.Diff(want, tr.StackCounters(false)); diff != "" {
		t.Errorf("after reset (-want +got):\n%s", diff)
	}
	tr.Update(t0.Add(5*time.Second), nil, map[string]uint64{"UdpNoPorts": 140, "TcpExtListenDrops": 2, "Zz": 1})
	if got := tr.StackCounters(false); len(got) != 0 {
		t.Errorf("quiet interval after reset shows %v, want nothing", got)
	}
}

// TestTrackerSnapshot checks that the tracker's output merges into a
// snapshot with traced drops, and that Reconcile reads the merged rows.
func TestTrackerSnapshot(t *testing.T) {
	const netns = 4026532000
	tr := NewTracker()
	tr.Update(t0, []Link{link(2, "eth0", 0, 100)}, nil)
	tr.Update(t0.Add(time.Second), []Link{link(2, "eth0", 0, 110)}, nil)
	snap := drops.Snapshot{Sites: []drops.Site{
		{Function: "__netif_receive_skb_core.constprop.0", Reason: "UNHANDLED_PROTO", Ifindex: 2, Netns: netns, Count: 4},
		{Function: "__udp4_lib_rcv", Reason: "NO_SOCKET", Ifindex: 2, Netns: netns, Count: 3},
	}}
	snap.SetCounters(tr.Interfaces(netns), tr.StackCounters(false))
	if len(snap.Interfaces) != 1 {
		t.Fatalf("interfaces = %+v, want eth0 only", snap.Interfaces)
	}
	ifc := snap.Interfaces[0]
	if ifc.TracedDrops != 7 || ifc.Delta.RxDropped != 10 {
		t.Errorf("eth0: traced %d, rx_dropped delta %d; want 7 and 10", ifc.TracedDrops, ifc.Delta.RxDropped)
	}
	got := drops.Reconcile(ifc, snap.Sites)
	want := drops.Reconciliation{HasCounters: true, Counted: 10, Traced: 4, Explained: 4, Unexplained: 6, Elsewhere: 3, Fraction: 0.4}
	if got != want {
		t.Errorf("Reconcile = %+v, want %+v", got, want)
	}
}
