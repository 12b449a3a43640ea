package drops

import (
	"testing"
	"time"
)

// linkReading is a reading of eth0's counters (netns 1) alone.
func linkReading(sec int, links ...Link) Reading {
	r := reading(sec, Health{})
	r.Links = links
	return r
}

func eth(name string, index uint32, rxDropped, rxPackets uint64) Link {
	return Link{Name: name, Index: index, Counters: LinkCountersOf(map[LinkField]uint64{RxDropped: rxDropped, RxPackets: rxPackets})}
}

func ifaceNamed(t *testing.T, s Snapshot, name string) Interface {
	t.Helper()
	for _, ifc := range s.Interfaces {
		if ifc.Name == name {
			return ifc
		}
	}
	t.Fatalf("no interface %s in %+v", name, s.Interfaces)
	return Interface{}
}

// TestWindowLinks checks the one reset rule on interface counters: growth
// adds up interval by interval, a counter that goes backwards grew by its
// new value, Reset zeroes growth and keeps rates, and a source that was not
// read keeps its previous values.
func TestWindowLinks(t *testing.T) {
	a := newAgg()
	a.Update(linkReading(0, eth("eth0", 2, 100, 1000)))
	a.Update(linkReading(2, eth("eth0", 2, 110, 1100)))
	ifc := ifaceNamed(t, a.Snapshot(), "eth0")
	if got := ifc.Delta.Get(RxDropped); got != 10 {
		t.Errorf("rx_dropped delta %d, want 10", got)
	}
	if got := ifc.Rates.Get(RxPackets); got != 50 {
		t.Errorf("rx_packets rate %v, want 50", got)
	}
	if got := ifc.Counters.Get(RxPackets); got != 1100 {
		t.Errorf("rx_packets %d, want 1100", got)
	}
	if ifc.Counters.Has(TxDropped) {
		t.Error("tx_dropped was never read but is present")
	}
	// The driver reset its statistics: 110 -> 4 grew by 4.
	a.Update(linkReading(3, eth("eth0", 2, 4, 1104)))
	if got := ifaceNamed(t, a.Snapshot(), "eth0").Delta.Get(RxDropped); got != 14 {
		t.Errorf("after a counter reset: rx_dropped delta %d, want 14", got)
	}
	// A reading without link counters (the netlink dump failed) keeps them.
	a.Update(reading(4, Health{}))
	if got := ifaceNamed(t, a.Snapshot(), "eth0").Delta.Get(RxDropped); got != 14 {
		t.Errorf("after a failed read: rx_dropped delta %d, want 14", got)
	}
	a.Reset()
	ifc = ifaceNamed(t, a.Snapshot(), "eth0")
	if ifc.Delta.Get(RxDropped) != 0 || ifc.Rates.Get(RxPackets) != 4 {
		t.Errorf("after Reset: delta %d (want 0), rate %v (want the last interval's 4)", ifc.Delta.Get(RxDropped), ifc.Rates.Get(RxPackets))
	}
	// The same ifindex under another name is another interface: its
	// counters start from their own baseline.
	a.Update(linkReading(6, eth("veth9", 2, 500, 9000)))
	s := a.Snapshot()
	if len(s.Interfaces) != 1 {
		t.Fatalf("interfaces %+v, want veth9 alone", s.Interfaces)
	}
	if ifc := ifaceNamed(t, s, "veth9"); ifc.Delta.Get(RxDropped) != 0 || ifc.Rates != nil {
		t.Errorf("a new interface inherits the old one's counters: %+v", ifc)
	}
}

// TestWindowSites checks keys: one added after the start counts in full, one
// the kernel no longer reports keeps its count with rate zero, and after a
// Reset a key with nothing new is gone.
func TestWindowSites(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 100}))
	a.Update(reading(2, Health{}, Count{Key: udp, Packets: 100}, Count{Key: nft, Packets: 8, Bytes: 480}))
	s := a.Snapshot()
	if n := site(t, s, "nft_do_chain"); n.Count != 8 || n.Bytes != 480 || n.Rate != 4 {
		t.Errorf("a key added in the window: count %d bytes %d rate %v, want 8, 480, 4", n.Count, n.Bytes, n.Rate)
	}
	a.Update(reading(3, Health{}, Count{Key: udp, Packets: 100}))
	s = a.Snapshot()
	if n := site(t, s, "nft_do_chain"); n.Count != 8 || n.Rate != 0 {
		t.Errorf("a key gone from the kernel: count %d rate %v, want 8, 0", n.Count, n.Rate)
	}
	if s.Totals.Drops != 8 {
		t.Errorf("total %d, want 8", s.Totals.Drops)
	}
	a.Reset()
	a.Update(reading(4, Health{}, Count{Key: udp, Packets: 100}))
	for _, st := range a.Snapshot().Sites {
		t.Errorf("after Reset with no new drops, site %s is shown", st.Symbol())
	}
}

// TestWindowStack checks protocol counters: in the source's order, only
// those that moved unless AllCounters.
func TestWindowStack(t *testing.T) {
	stack := func(noPorts, inErrors uint64) Stack {
		return Stack{{"UdpNoPorts", noPorts}, {"UdpInErrors", inErrors}}
	}
	for _, all := range []bool{false, true} {
		a := NewAggregator(Config{Resolver: res, AllCounters: all, Home: NamespaceID{Inode: 1}})
		r := reading(0, Health{})
		r.Stack = stack(10, 3)
		a.Update(r)
		r = reading(1, Health{})
		r.Stack = stack(25, 3)
		a.Update(r)
		got := a.Snapshot().StackCounters
		want := []StackCounter{{Name: "UdpNoPorts", Value: 25, Delta: 15, Rate: 15}}
		if all {
			want = append(want, StackCounter{Name: "UdpInErrors", Value: 3})
		}
		if len(got) != len(want) {
			t.Fatalf("all=%v: %+v, want %+v", all, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("all=%v: counter %d = %+v, want %+v", all, i, got[i], want[i])
			}
		}
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Unix(0, 0)
	m := baseline(7, t0)
	m.add(17)
	m.settle(sinceEpoch(t0.Add(2 * time.Second)))
	if m.delta != 10 || m.rate != 5 {
		t.Errorf("delta %d rate %v, want 10, 5", m.delta, m.rate)
	}
	m.settle(sinceEpoch(t0.Add(2 * time.Second)))
	if m.rate != 0 {
		t.Errorf("rate over no time %v, want 0", m.rate)
	}
	// Retired at 25, then live again at 4 in the same reading: 8+4 grew.
	m.add(25)
	m.retire()
	m.add(4)
	m.settle(sinceEpoch(t0.Add(4 * time.Second)))
	if m.delta != 22 || m.rate != 6 {
		t.Errorf("after a retirement: delta %d rate %v, want 22, 6", m.delta, m.rate)
	}
	f := fresh(t0)
	f.add(6)
	f.settle(sinceEpoch(t0.Add(3 * time.Second)))
	if f.delta != 6 || f.rate != 2 {
		t.Errorf("fresh meter delta %d rate %v, want 6, 2", f.delta, f.rate)
	}
}
