package metrics

import (
	"net/netip"
	"testing"

	"github.com/skbtop/skbtop/drops"
)

// TestRetransmitsTotal: skbtop_tcp_retransmits_total goes on through the
// live view's reset and the kernel's retirement of keys, sums a peer's
// local ports into one series, and counts what found the map full under
// remote="[map full]"; a budget of one series folds them into "other"
// without losing a retransmission.
func TestRetransmitsTotal(t *testing.T) {
	peer := func(local uint16) drops.PeerKey {
		return drops.PeerKey{Netns: 1, Ifindex: 2, Remote: netip.MustParseAddr("198.18.0.7"), RemotePort: 6300, LocalPort: local}
	}
	rr := func(sec int, overflow uint64, retired []drops.RetransCount, counts ...drops.RetransCount) drops.Reading {
		r := reading(sec)
		r.Retransmits = &drops.RetransReading{Counts: counts, Retired: retired, Health: drops.RetransHealth{OverflowRetrans: overflow}}
		return r
	}
	c := func(k drops.PeerKey, n uint64) drops.RetransCount {
		return drops.RetransCount{PeerKey: k, Retrans: n, Segs: n, State: 1}
	}
	const series = "interface=eth0,namespace=,remote=198.18.0.7,remote_port=6300"
	for _, budget := range []int{DefaultMaxSeries, 1} {
		a, k := newAgg(), New(Config{MaxSeries: budget})
		observe := func(r drops.Reading) {
			a.Update(r)
			k.Observe(a.Snapshot())
		}
		observe(rr(0, 0, nil, c(peer(40000), 5)))
		observe(rr(1, 0, nil, c(peer(40000), 8), c(peer(40001), 2)))
		a.Reset()
		// Retired at 10, back from zero at 1; 3 found the map full.
		observe(rr(2, 3, []drops.RetransCount{c(peer(40000), 10)}, c(peer(40000), 1), c(peer(40001), 2)))
		got := gather(t, k, "skbtop_tcp_retransmits_total")
		// 3+2 before the reset, 2+1 after, and the 3 without a peer.
		if budget > 1 && (got[series] != 8 || got["interface=,namespace=,remote=[map full],remote_port="] != 3 || len(got) != 2) {
			t.Errorf("%v, want %s 8 and [map full] 3", got, series)
		}
		if sum(got) != 11 {
			t.Errorf("budget %d: %v, want 11 in all", budget, got)
		}
	}
}
