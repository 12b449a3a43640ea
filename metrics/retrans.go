package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skbtop/skbtop/drops"
)

var retransDesc = prometheus.NewDesc("skbtop_tcp_retransmits_total",
	"TCP retransmissions the kernel sent (tcp:tcp_retransmit_skb), by remote address and port, interface of the route and namespace (empty for the one skbtop reports on); retransmissions that found the kernel map full have remote=\"[map full]\". Label sets beyond --metrics-max-series fold into \"other\", the remote port first.",
	[]string{"remote", "remote_port", "interface", "namespace"}, nil)

// Label positions of the retransmits family.
const (
	lRemote = iota
	lRemotePort
	lRInterface
	lRNamespace
)

// retransTotals keeps skbtop_tcp_retransmits_total: the rows are the
// snapshots' peers, which follow Growth's rule (a peer's count grows within
// a window and restarts in the next), and the local port, which is mostly
// ephemeral, is summed away.
type retransTotals struct {
	family *family
	start  time.Time
	// last is each peer's count (and the overflow's, under the zero
	// key) in the window's previous snapshot; next is being filled.
	last, next map[drops.PeerKey]uint64
}

func newRetransTotals(budget int) *retransTotals {
	return &retransTotals{
		family: newFamily(budget, [][]int{{lRemotePort}, {lRemote, lRemotePort}, {lRemote, lRemotePort, lRInterface, lRNamespace}}),
		last:   map[drops.PeerKey]uint64{},
		next:   map[drops.PeerKey]uint64{},
	}
}

// observe adds what each peer retransmitted since the last snapshot.
func (rt *retransTotals) observe(s drops.Snapshot) {
	r := s.Retransmits
	if r == nil {
		return
	}
	if !s.Start.Equal(rt.start) {
		clear(rt.last)
		rt.start = s.Start
	}
	add := func(k drops.PeerKey, count uint64, v labels) {
		last := rt.last[k]
		n := count - last
		if count < last {
			n = count
		}
		rt.family.add(v, n, s.Time)
		rt.next[k] = count
	}
	for _, p := range r.Peers {
		add(p.Key, p.Count, labels{lRemote: p.Remote, lRemotePort: strconv.Itoa(int(p.RemotePort)),
			lRInterface: p.Interface, lRNamespace: p.Namespace})
	}
	if r.KeysOverflowed > 0 {
		add(drops.PeerKey{}, r.KeysOverflowed, labels{lRemote: drops.OverflowFunction})
	}
	rt.family.enforce()
	rt.last, rt.next = rt.next, rt.last
	clear(rt.next)
}

// collect sends the family's series and its bookkeeping.
func (rt *retransTotals) collect(ch chan<- prometheus.Metric) {
	rt.family.each(func(s *series) {
		v := s.values
		ch <- prometheus.MustNewConstMetric(retransDesc, prometheus.CounterValue, float64(s.total),
			v[lRemote], v[lRemotePort], v[lRInterface], v[lRNamespace])
	})
	ch <- prometheus.MustNewConstMetric(seriesDesc, prometheus.GaugeValue, float64(rt.family.live), "skbtop_tcp_retransmits_total")
	ch <- prometheus.MustNewConstMetric(foldedDesc, prometheus.CounterValue, float64(rt.family.folds), "skbtop_tcp_retransmits_total")
}
