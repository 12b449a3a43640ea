package drops

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// PeerKey identifies one bucket of the kernel's retransmit counts: a TCP
// connection's peer (remote address and port), its local port, its
// network namespace and the interface of its route.
type PeerKey struct {
	Netns       uint32
	NetnsCookie uint64
	// Ifindex is the interface of the socket's cached route, 0 when it
	// had none.
	Ifindex uint32
	// Remote is the peer's address; an IPv4 peer of an IPv6 socket is
	// given as IPv4.
	Remote     netip.Addr
	RemotePort uint16
	LocalPort  uint16
}

// RetransCount is the cumulative count of one PeerKey as the kernel keeps
// it.
type RetransCount struct {
	PeerKey
	// Retrans counts the retransmissions the kernel counted, Segs the
	// segments they stood for (what it adds to TcpRetransSegs), Unsent
	// those of Retrans whose transmission failed (Linux 6.16+), Failed
	// the attempts it gave up before counting (Linux 6.16+).
	Retrans, Segs, Unsent, Failed uint64
	// State is the socket's TCP state at its latest retransmission
	// (TCP_ESTABLISHED is 1), LastNs when that was (CLOCK_MONOTONIC).
	State  uint8
	LastNs uint64
}

// RetransHealth is the retransmit program's self-accounting, cumulative
// like Health.
type RetransHealth struct {
	// OverflowRetrans, OverflowSegs, OverflowUnsent and OverflowFailed
	// count what found the kernel map full: counted, without a peer.
	OverflowRetrans, OverflowSegs, OverflowUnsent, OverflowFailed uint64
	// RecursionMisses counts runs the kernel skipped.
	RecursionMisses uint64
	// Keys and MaxKeys are the map's fill, as Health's.
	Keys, MaxKeys uint32
}

// RetransReading is one read of the retransmit program; nil in a Reading
// when skbtop does not trace retransmits.
type RetransReading struct {
	// Counts and Retired are as Reading's: the live keys, and the final
	// counts of the keys taken out in this read.
	Counts, Retired []RetransCount
	Health          RetransHealth
}

// tcpStates names the kernel's TCP states (include/net/tcp_states.h).
var tcpStates = [...]string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE"}

// TCPStateName names a TCP state number, in hex when the kernel has one
// skbtop does not know.
func TCPStateName(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return fmt.Sprintf("0x%x", s)
}

// Retransmits is the snapshot's account of TCP retransmissions: per peer,
// with the kernel's own counter beside them and what they mean.
type Retransmits struct {
	// Count, Segs, Unsent and Failed sum the peers and what found the
	// map full; Rate is retransmissions per second.
	Count  uint64  `json:"count"`
	Segs   uint64  `json:"segs"`
	Unsent uint64  `json:"unsent"`
	Failed uint64  `json:"failed"`
	Rate   float64 `json:"rate"`
	// KeysOverflowed counts retransmissions that found the kernel map
	// full: in Count, without a peer.
	KeysOverflowed  uint64 `json:"keys_overflowed"`
	RecursionMisses uint64 `json:"recursion_misses"`
	Keys            uint32 `json:"keys"`
	MaxKeys         uint32 `json:"max_keys"`
	// Counter is TcpRetransSegs of the namespace reported on (the
	// watched one, or skbtop's own), the kernel's own count to check
	// HomeSegs against; nil when the protocol counters were not read.
	Counter *StackCounter `json:"counter,omitempty"`
	// HomeSegs is the traced segments of the peers in that namespace.
	HomeSegs uint64 `json:"home_segs"`
	Peers    []Peer `json:"peers"`
	// Notes say, for each remote address and port whose retransmits
	// rose while its namespace dropped nothing, that the loss is outside
	// this host (OutsideNote).
	Notes []string `json:"notes,omitempty"`

	// What found the map full: in the totals, without a peer.
	overflowSegs, overflowUnsent, overflowFailed uint64
	overflowRate                                 float64
}

// Peer is one row of the retransmits pane: one connection's peer as seen
// from one local port.
type Peer struct {
	Remote     string `json:"remote"`
	RemotePort uint16 `json:"remote_port"`
	LocalPort  uint16 `json:"local_port"`
	Interface  string `json:"interface"`
	Ifindex    uint32 `json:"ifindex"`
	Netns      uint32 `json:"netns"`
	// NetnsCookie, Namespace and Gone are as Site's.
	NetnsCookie uint64 `json:"netns_cookie,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Gone        bool   `json:"gone,omitempty"`
	// Count is the retransmissions the kernel counted, Segs their
	// segments (what TcpRetransSegs adds), Unsent those of Count that
	// the transmission itself failed, Failed the attempts given up
	// before counting (see RetransCount).
	Count  uint64  `json:"count"`
	Segs   uint64  `json:"segs"`
	Unsent uint64  `json:"unsent"`
	Failed uint64  `json:"failed"`
	Rate   float64 `json:"rate"`
	// State is the TCP state at the latest retransmission.
	State string `json:"state"`
	// Outside says the peer's retransmits rose in the last interval
	// while its namespace had no drop in the window: the loss is
	// outside this host.
	Outside bool `json:"outside,omitempty"`
	// Key is the kernel bucket the row shows.
	Key PeerKey `json:"-"`
}

// Endpoint renders the remote address and port: 198.18.0.7:6300,
// [2001:db8::7]:6300.
func (p Peer) Endpoint() string {
	a, err := netip.ParseAddr(p.Remote)
	if err != nil {
		return p.Remote + ":" + fmt.Sprint(p.RemotePort)
	}
	return netip.AddrPortFrom(a, p.RemotePort).String()
}

// InterfaceLabel names the peer's interface as Site.InterfaceLabel does;
// "" when the socket had no route.
func (p Peer) InterfaceLabel() string { return ifaceLabel(p.Interface, p.Namespace, p.Gone) }

// OutsideNote is the sentence every output shows for a peer whose
// retransmits no local drop explains.
func OutsideNote(endpoint string) string {
	return "retransmits to " + endpoint + " with no local drops: the loss is outside this host"
}

// peerState is the aggregator's row of a PeerKey.
type peerState struct {
	key                           PeerKey
	retrans, segs, unsent, failed meter
	state                         uint8
	lastNs                        uint64
	seen                          bool
}

// retransAgg is the Aggregator's part for retransmits.
type retransAgg struct {
	traced bool
	peers  map[PeerKey]*peerState
	health struct{ retrans, segs, unsent, failed, recursion meter }
	keys   [2]uint32
}

// updateRetrans records the retransmit part of a reading: every count
// through a meter, as the drops.
func (a *Aggregator) updateRetrans(rr *RetransReading, now time.Time, first bool) {
	if rr == nil {
		return
	}
	ra := &a.retrans
	if ra.peers == nil {
		ra.peers = map[PeerKey]*peerState{}
	}
	ra.traced = true
	for _, p := range ra.peers {
		p.seen = false
	}
	get := func(c RetransCount) *peerState {
		p := ra.peers[c.PeerKey]
		if p == nil {
			p = &peerState{key: c.PeerKey, retrans: fresh(a.last), segs: fresh(a.last), unsent: fresh(a.last), failed: fresh(a.last)}
			if first {
				p.retrans, p.segs, p.unsent, p.failed = baseline(0, now), baseline(0, now), baseline(0, now), baseline(0, now)
			}
			ra.peers[c.PeerKey] = p
			if _, ok := a.namespaces[NamespaceID{c.Netns, c.NetnsCookie}]; !ok {
				// Named at first sight, as sites' namespaces.
				a.namespaceLocked(NamespaceID{c.Netns, c.NetnsCookie})
			}
			a.dirty = true
		}
		if c.LastNs >= p.lastNs {
			p.state, p.lastNs = c.State, c.LastNs
		}
		return p
	}
	ignored := func(k PeerKey) bool {
		return a.cfg.Only && a.home.Cookie != 0 && k.NetnsCookie != 0 && k.NetnsCookie != a.home.Cookie
	}
	for _, c := range rr.Retired {
		if ignored(c.PeerKey) {
			continue
		}
		p := get(c)
		if first {
			p.retrans.cur, p.segs.cur, p.unsent.cur, p.failed.cur = c.Retrans, c.Segs, c.Unsent, c.Failed
		}
		p.retrans.add(c.Retrans)
		p.segs.add(c.Segs)
		p.unsent.add(c.Unsent)
		p.failed.add(c.Failed)
		p.retrans.retire()
		p.segs.retire()
		p.unsent.retire()
		p.failed.retire()
		p.seen = true
	}
	for _, c := range rr.Counts {
		if ignored(c.PeerKey) {
			continue
		}
		p := get(c)
		if first && !p.seen {
			p.retrans.cur, p.segs.cur, p.unsent.cur, p.failed.cur = c.Retrans, c.Segs, c.Unsent, c.Failed
		}
		p.retrans.add(c.Retrans)
		p.segs.add(c.Segs)
		p.unsent.add(c.Unsent)
		p.failed.add(c.Failed)
		p.seen = true
	}
	for k, p := range ra.peers {
		if first {
			p.retrans.pending, p.segs.pending, p.unsent.pending, p.failed.pending = 0, 0, 0, 0
		}
		a.settle(&p.retrans)
		p.segs.settle(a.at)
		p.unsent.settle(a.at)
		a.settle(&p.failed)
		if !p.seen && p.retrans.delta == 0 && p.failed.delta == 0 {
			delete(ra.peers, k)
		}
	}
	h := rr.Health
	for _, f := range []struct {
		m *meter
		v uint64
	}{{&ra.health.retrans, h.OverflowRetrans}, {&ra.health.segs, h.OverflowSegs}, {&ra.health.unsent, h.OverflowUnsent},
		{&ra.health.failed, h.OverflowFailed}, {&ra.health.recursion, h.RecursionMisses}} {
		if first {
			*f.m = baseline(f.v, now)
			continue
		}
		f.m.add(f.v)
		a.settle(f.m)
	}
	ra.keys = [2]uint32{h.Keys, h.MaxKeys}
}

// resetRetrans starts the retransmit window again, as Reset does the rest.
func (a *Aggregator) resetRetrans() {
	ra := &a.retrans
	for k, p := range ra.peers {
		p.retrans.reset()
		p.segs.reset()
		p.unsent.reset()
		p.failed.reset()
		if !p.seen {
			delete(ra.peers, k)
		}
	}
	ra.health.retrans.reset()
	ra.health.segs.reset()
	ra.health.unsent.reset()
	ra.health.failed.reset()
	ra.health.recursion.reset()
}

// retransLocked returns the snapshot's retransmits, nil when they are not
// traced; sites are the snapshot's, for the loss-outside fact.
func (a *Aggregator) retransLocked(sites []Site, stack []StackCounter) *Retransmits {
	ra := &a.retrans
	if !ra.traced {
		return nil
	}
	out := &Retransmits{Peers: []Peer{}}
	for _, p := range ra.peers {
		if p.retrans.delta == 0 && p.retrans.rate == 0 && p.failed.delta == 0 && p.failed.rate == 0 {
			continue
		}
		k := p.key
		peer := Peer{Remote: k.Remote.String(), RemotePort: k.RemotePort, LocalPort: k.LocalPort,
			Ifindex: k.Ifindex, Netns: k.Netns, NetnsCookie: k.NetnsCookie,
			Count: p.retrans.delta, Segs: p.segs.delta, Unsent: p.unsent.delta, Failed: p.failed.delta, Rate: p.retrans.rate,
			State: TCPStateName(p.state), Key: k}
		peer.Namespace, peer.Gone = a.namespaceLocked(NamespaceID{k.Netns, k.NetnsCookie})
		if k.Ifindex != 0 {
			peer.Interface = fmt.Sprintf("if%d", k.Ifindex)
			if life := a.ifaces[ifaceID{k.NetnsCookie, k.Netns, k.Ifindex}]; life != nil {
				if life.name != "" {
					peer.Interface = life.name
				}
				peer.Gone = peer.Gone || life.gone
			}
		}
		if a.isHome(k.Netns, k.NetnsCookie) {
			out.HomeSegs += peer.Segs
		}
		out.Peers = append(out.Peers, peer)
	}
	out.KeysOverflowed = ra.health.retrans.delta
	out.RecursionMisses = ra.health.recursion.delta
	out.Keys, out.MaxKeys = ra.keys[0], ra.keys[1]
	for _, c := range stack {
		if c.Name == RetransCounter {
			c := c
			out.Counter = &c
		}
	}
	out.overflowRate, out.overflowSegs, out.overflowUnsent, out.overflowFailed = ra.health.retrans.rate, ra.health.segs.delta, ra.health.unsent.delta, ra.health.failed.delta
	out.judge(sites, a.health.overflowPackets.delta > 0 || a.health.overflowPackets.rate > 0)
	out.recount()
	return out
}

// RetransCounter is the protocol counter the kernel adds retransmitted
// segments to: the cross-check of the traced ones.
const RetransCounter = "TcpRetransSegs"

// isHome reports whether a namespace is the one reported on.
func (a *Aggregator) isHome(inode uint32, cookie uint64) bool {
	h := a.home
	return inode == h.Inode && (cookie == h.Cookie || cookie == 0 || h.Cookie == 0)
}

// recount sets the totals from the peers and the overflow counts, sorts
// the peers (by rate, then count, then endpoint) and writes a note for
// each remote endpoint a peer with Outside has.
func (r *Retransmits) recount() {
	r.Count, r.Segs, r.Unsent, r.Failed, r.Rate = r.KeysOverflowed, r.overflowSegs, r.overflowUnsent, r.overflowFailed, r.overflowRate
	for _, p := range r.Peers {
		r.Count += p.Count
		r.Segs += p.Segs
		r.Unsent += p.Unsent
		r.Failed += p.Failed
		r.Rate += p.Rate
	}
	SortPeers(r.Peers)
	r.Notes = nil
	noted := map[string]bool{}
	for _, p := range r.Peers {
		if p.Outside && !noted[p.Endpoint()] {
			noted[p.Endpoint()] = true
			r.Notes = append(r.Notes, OutsideNote(p.Endpoint()))
		}
	}
}

// judge sets each peer's Outside from the drop sites of the window.
// mapFull says drops found the drop map full in the window: their
// namespaces are unknown, so no namespace can be said to have had none.
func (r *Retransmits) judge(sites []Site, mapFull bool) {
	for i := range r.Peers {
		r.Peers[i].Outside = LossOutside(r.Peers[i], sites, mapFull)
	}
}

// LossOutside is the fact behind OutsideNote: a peer's retransmits rose in
// the last interval and no drop in its namespace explains them, as the
// drop sites of the window say (any drop there counts, whatever its
// protocol: skbtop does not claim to know which drop hit which
// connection). With mapFull (drops counted without a key) nothing can be
// said.
func LossOutside(p Peer, sites []Site, mapFull bool) bool {
	if p.Rate <= 0 || mapFull {
		return false
	}
	for _, s := range sites {
		if s.Netns == p.Netns && (s.NetnsCookie == p.NetnsCookie || s.NetnsCookie == 0 || p.NetnsCookie == 0) &&
			(s.Count > 0 || s.Rate > 0) {
			return false
		}
	}
	return true
}

// SortPeers orders peers by rate, then count, then endpoint, local port
// and namespace: a total order, so rows never swap between refreshes.
func SortPeers(peers []Peer) {
	slices.SortFunc(peers, func(a, b Peer) int {
		return cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Count, a.Count),
			a.Key.Remote.Compare(b.Key.Remote), cmp.Compare(a.RemotePort, b.RemotePort),
			cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.Netns, b.Netns),
			cmp.Compare(a.NetnsCookie, b.NetnsCookie), cmp.Compare(a.Ifindex, b.Ifindex))
	})
}

// filtered returns the retransmits an interface filter keeps: the peers on
// that interface, with the totals and notes of those; retransmissions
// counted without a peer (map full) have no interface and go.
func (r *Retransmits) filtered(f Filter) *Retransmits {
	if r == nil || f.Interface == "" {
		return r
	}
	out := *r
	out.Peers = []Peer{}
	for _, p := range r.Peers {
		if f.matchInterface(p.Interface, p.InterfaceLabel()) {
			out.Peers = append(out.Peers, p)
		}
	}
	out.KeysOverflowed, out.overflowSegs, out.overflowUnsent, out.overflowFailed, out.overflowRate = 0, 0, 0, 0, 0
	out.recount()
	return &out
}

// changes keeps the peers that retransmitted in the last interval.
func (r *Retransmits) changes() *Retransmits {
	if r == nil {
		return r
	}
	out := *r
	out.Peers = slices.DeleteFunc(slices.Clone(r.Peers), func(p Peer) bool { return p.Rate == 0 })
	return &out
}

// windowRates sets the rates over a window of w seconds and judges the
// peers again: over the window, a peer's retransmits rose when it has any.
func (r *Retransmits) windowRates(w float64, sites []Site, mapFull bool) *Retransmits {
	if r == nil {
		return r
	}
	per := func(n uint64) float64 {
		if w <= 0 {
			return 0
		}
		return float64(n) / w
	}
	out := *r
	out.Peers = slices.Clone(r.Peers)
	for i := range out.Peers {
		out.Peers[i].Rate = per(out.Peers[i].Count)
	}
	out.overflowRate = per(r.KeysOverflowed)
	if out.Counter != nil {
		c := *out.Counter
		c.Rate = per(c.Delta)
		out.Counter = &c
	}
	out.judge(sites, mapFull)
	out.recount()
	return &out
}

// Summary is the one line the header and the table give the retransmits:
// "12 retransmits (2.4/s) · TcpRetransSegs +12".
func (r *Retransmits) Summary() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d retransmits", r.Count)
	if r.Unsent > 0 {
		fmt.Fprintf(&b, " (%d not sent)", r.Unsent)
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, " · %d given up", r.Failed)
	}
	if r.Counter != nil {
		fmt.Fprintf(&b, " · %s +%d (traced here %d)", r.Counter.Name, r.Counter.Delta, r.HomeSegs)
	}
	return b.String()
}
