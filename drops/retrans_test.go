package drops

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	// peer7 is a connection in the home namespace (1) to 198.18.0.7:6300
	// on eth0; peerWeb one in web (7) on veth1.
	peer7   = PeerKey{Netns: 1, Ifindex: 2, Remote: netip.MustParseAddr("198.18.0.7"), RemotePort: 6300, LocalPort: 40000}
	peerWeb = PeerKey{Netns: 7, Ifindex: 3, Remote: netip.MustParseAddr("2001:db8::9"), RemotePort: 443, LocalPort: 50000}
)

// retransReading is a reading with retransmit counts and the home
// namespace's TcpRetransSegs.
func retransReading(sec int, retransSegs uint64, drops []Count, peers ...RetransCount) Reading {
	r := reading(sec, Health{}, drops...)
	r.Retransmits = &RetransReading{Counts: peers, Health: RetransHealth{Keys: uint32(len(peers)), MaxKeys: 4096}}
	r.Stack = Stack{{Name: "UdpNoPorts", Value: 3}, {Name: "TcpRetransSegs", Value: retransSegs}}
	return r
}

func peerRow(t *testing.T, r *Retransmits, k PeerKey) Peer {
	t.Helper()
	if r == nil {
		t.Fatal("no retransmits in the snapshot")
	}
	for _, p := range r.Peers {
		if p.Key == k {
			return p
		}
	}
	t.Fatalf("no peer %v in %+v", k, r.Peers)
	return Peer{}
}

// TestLossOutside checks the fact behind "the loss is outside this host":
// said for a peer whose retransmits rose in the last interval while its
// namespace had no drop in the window, and not when a drop there could
// explain them, when they did not rise, or when drops found the drop map
// full (their namespace is unknown).
func TestLossOutside(t *testing.T) {
	const note7 = "retransmits to 198.18.0.7:6300 with no local drops: the loss is outside this host"
	a := newAgg()
	a.Update(retransReading(0, 100, nil))
	// 3 retransmits to each peer; a drop in web, none at home.
	a.Update(retransReading(1, 103, []Count{{Key: lldp, Packets: 2}},
		RetransCount{PeerKey: peer7, Retrans: 3, Segs: 3, State: 1, LastNs: 10},
		RetransCount{PeerKey: peerWeb, Retrans: 3, Segs: 4, State: 4, LastNs: 10}))
	s := a.Snapshot()
	r := s.Retransmits
	if !slices.Equal(r.Notes, []string{note7}) {
		t.Errorf("notes %q, want [%q]", r.Notes, note7)
	}
	p := peerRow(t, r, peer7)
	if !p.Outside || p.Count != 3 || p.Segs != 3 || p.Rate != 3 || p.State != "ESTABLISHED" || p.Interface != "eth0" || p.Endpoint() != "198.18.0.7:6300" {
		t.Errorf("home peer %+v", p)
	}
	if w := peerRow(t, r, peerWeb); w.Outside || w.Interface != "veth1" || w.Namespace != "web" || w.State != "FIN_WAIT1" || w.InterfaceLabel() != "veth1@web" {
		t.Errorf("web's peer, whose namespace dropped: %+v", w)
	}
	if r.Count != 6 || r.Segs != 7 || r.HomeSegs != 3 || r.Counter == nil || r.Counter.Delta != 3 {
		t.Errorf("totals count %d segs %d home %d counter %+v; want 6, 7, 3, TcpRetransSegs +3", r.Count, r.Segs, r.HomeSegs, r.Counter)
	}
	if got := r.Summary(); got != "6 retransmits · TcpRetransSegs +3 (traced here 3)" {
		t.Errorf("summary %q", got)
	}

	// Retransmits stop: nothing rose in the last interval, nothing said.
	a.Update(retransReading(2, 103, nil,
		RetransCount{PeerKey: peer7, Retrans: 3, Segs: 3, State: 1, LastNs: 10},
		RetransCount{PeerKey: peerWeb, Retrans: 3, Segs: 4, State: 4, LastNs: 10}))
	if r := a.Snapshot().Retransmits; len(r.Notes) != 0 || peerRow(t, r, peer7).Outside {
		t.Errorf("after retransmits stopped: notes %q", r.Notes)
	}
	// Over the whole window (--once) they did rise, and still no drop
	// at home.
	if r := a.Snapshot().WindowRates().Retransmits; !slices.Equal(r.Notes, []string{note7}) || peerRow(t, r, peer7).Rate != 1.5 {
		t.Errorf("over the window: notes %q, rate %v", r.Notes, peerRow(t, r, peer7).Rate)
	}

	// They rise again, and a drop at home may explain them now.
	a.Update(retransReading(3, 105, []Count{{Key: udp, Packets: 1}},
		RetransCount{PeerKey: peer7, Retrans: 5, Segs: 5, State: 1, LastNs: 20}))
	if r := a.Snapshot().Retransmits; len(r.Notes) != 0 {
		t.Errorf("with a drop at home: notes %q", r.Notes)
	}
	// After a reset the drop is out of the window: the loss is outside
	// again once retransmits rise.
	a.Reset()
	// Just after the reset the drop is out of the window but was in the
	// last interval, beside the retransmits: still nothing said.
	if r := a.Snapshot().Retransmits; len(r.Notes) != 0 {
		t.Errorf("just after a reset, a drop in the last interval: notes %q", r.Notes)
	}
	a.Update(retransReading(4, 106, []Count{{Key: udp, Packets: 1}},
		RetransCount{PeerKey: peer7, Retrans: 6, Segs: 6, State: 1, LastNs: 30}))
	r = a.Snapshot().Retransmits
	if p := peerRow(t, r, peer7); !slices.Equal(r.Notes, []string{note7}) || p.Count != 1 {
		t.Errorf("after a reset: notes %q, count %d (want 1)", r.Notes, p.Count)
	}

	// Drops that found the drop map full have no namespace: nothing said.
	a.Update(Reading{Time: start.Add(5 * time.Second), Health: Health{OverflowPackets: 1}, Devices: devices,
		Retransmits: &RetransReading{Counts: []RetransCount{{PeerKey: peer7, Retrans: 7, Segs: 7, State: 1, LastNs: 40}}}})
	if r := a.Snapshot().Retransmits; len(r.Notes) != 0 {
		t.Errorf("with the drop map full: notes %q", r.Notes)
	}
}

// TestRetransmitsFiltered checks that an interface filter keeps the peers
// on that interface, with their totals and notes, and that NDJSON lines
// keep the peers that retransmitted in their interval.
func TestRetransmitsFiltered(t *testing.T) {
	a := newAgg()
	a.Update(retransReading(0, 0, nil))
	a.Update(retransReading(1, 0, nil,
		RetransCount{PeerKey: peer7, Retrans: 2, Segs: 2, State: 1, LastNs: 1},
		RetransCount{PeerKey: peerWeb, Retrans: 5, Segs: 5, State: 1, LastNs: 1}))
	a.Update(retransReading(2, 0, nil,
		RetransCount{PeerKey: peer7, Retrans: 2, Segs: 2, State: 1, LastNs: 1},
		RetransCount{PeerKey: peerWeb, Retrans: 6, Segs: 6, State: 1, LastNs: 2}))
	s := a.Snapshot()
	if got := s.Retransmits.Peers; len(got) != 2 || got[0].Key != peerWeb {
		t.Fatalf("peers %+v, want web's first (it retransmitted last interval)", got)
	}
	const noteWeb = "retransmits to [2001:db8::9]:443 with no local drops: the loss is outside this host"
	f := s.Filtered(Filter{Interface: "veth1@web"}).Retransmits
	if len(f.Peers) != 1 || f.Peers[0].Key != peerWeb || f.Count != 6 || !slices.Equal(f.Notes, []string{noteWeb}) {
		t.Errorf("filtered on veth1@web: %+v", f)
	}
	if c := s.Changes().Retransmits; len(c.Peers) != 1 || c.Peers[0].Key != peerWeb {
		t.Errorf("changes: %+v, want web's peer alone", c.Peers)
	}
}
