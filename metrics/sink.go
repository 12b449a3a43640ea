// Package metrics is skbtop's Prometheus sink: it keeps running totals of
// the drops the snapshots show, bounded in cardinality, and serves them in
// the Prometheus text format. Like every other output it only formats what
// drops.Aggregator computed; the one thing it adds is memory across
// snapshots, because a Prometheus counter must never go backwards while a
// snapshot's counts restart at the live view's reset and its rows come and
// go with the kernel's keys and the host's interfaces.
package metrics

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/skbtop/skbtop/drops"
)

// DefaultMaxSeries is the default --metrics-max-series: far above the few
// dozen drop sites of a healthy host or an incident, and low enough that a
// fleet of thousands of hosts stays a modest load for one Prometheus.
const DefaultMaxSeries = 1000

// Other is the label value series fold into beyond the budget.
const Other = "other"

// Config sets up a Sink.
type Config struct {
	// MaxSeries bounds the series of each labelled counter
	// (skbtop_drops_total, skbtop_interface_traced_drops_total,
	// skbtop_interface_counted_drops_total); beyond it the least active
	// fold into label value "other" (see family).
	MaxSeries int
	// Version is skbtop's version and Attach how its program is attached
	// ("tp_btf"), for skbtop_build_info.
	Version, Attach string
}

// Sink keeps the running totals skbtop exports. Observe feeds it each
// snapshot; a Prometheus registry collects it (see Handler). Safe for
// concurrent use.
type Sink struct {
	cfg Config

	mu     sync.Mutex
	growth drops.Growth
	// sites: skbtop_drops_total by reason, function, interface,
	// namespace, protocol; traced: skbtop_interface_traced_drops_total by
	// interface and the counters that also count the drops; counted:
	// skbtop_interface_counted_drops_total, what those counters counted.
	sites, traced, counted *family
	// retrans is skbtop_tcp_retransmits_total (retrans.go).
	retrans *retransTotals
	// countedStart is the window the counted drops' last values are of,
	// countedLast those values by interface and counters.
	countedStart time.Time
	countedLast  map[countedKey]uint64
	countedNext  map[countedKey]uint64

	samplesLost, keysOverflowed, recursionMisses uint64
	keys, maxKeys                                uint32
	kernel                                       string
	// last is the time of the last snapshot, zero before the first.
	last time.Time
	// readErrors counts failed readings; lastError is the latest's time.
	readErrors uint64
	lastError  time.Time
	// Levels of the last snapshot, exported as they are.
	explained []explainedRatio
	stack     []drops.StackCounter
}

// countedKey is an interface's counters, as long as the interface is
// listed: one that is deleted and made again counts from zero.
type countedKey struct {
	name     string
	index    uint32
	counters string
}

type explainedRatio struct {
	iface, counters string
	ratio           float64
}

// Label positions of the drops family.
const (
	lReason = iota
	lFunction
	lInterface
	lNamespace
	lProtocol
)

// Label positions of the interface family.
const (
	lIface = iota
	lCounter
)

// NotCounted is the counter label of traced drops no interface counter
// counts (NO_SOCKET, the firewall, ...).
const NotCounted = "none"

// New returns a sink with no snapshot yet.
func New(cfg Config) *Sink {
	if cfg.MaxSeries < 1 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	return &Sink{
		cfg: cfg,
		// The function folds first: a budget is usually spent on many
		// sites of one interface and reason. Then where the drop was
		// (interface and namespace, which churn with containers), then
		// what and why.
		sites: newFamily(cfg.MaxSeries, [][]int{
			{lFunction},
			{lFunction, lInterface, lNamespace},
			{lFunction, lInterface, lNamespace, lReason, lProtocol},
		}),
		traced:      newFamily(cfg.MaxSeries, [][]int{{lIface}, {lIface, lCounter}}),
		counted:     newFamily(cfg.MaxSeries, [][]int{{lIface}, {lIface, lCounter}}),
		retrans:     newRetransTotals(cfg.MaxSeries),
		countedLast: map[countedKey]uint64{},
		countedNext: map[countedKey]uint64{},
	}
}

// Observe adds what snapshot s counted since the one before (see
// drops.Growth) and takes its levels: map fill, interface counters, the
// explained fractions, protocol counters. Snapshots must come in order.
func (k *Sink) Observe(s drops.Snapshot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := s.Time
	tot := k.growth.Next(s, func(site drops.Site, n uint64) {
		k.sites.add(siteLabels(site), n, now)
		if site.Ifindex != 0 && site.Namespace == "" {
			counter := drops.CountedIn(site)
			if counter == "" {
				counter = NotCounted
			}
			k.traced.add(labels{lIface: site.Interface, lCounter: counter}, n, now)
		}
	})
	k.sites.enforce()
	k.samplesLost += tot.SamplesLost
	k.keysOverflowed += tot.KeysOverflowed
	k.recursionMisses += tot.RecursionMisses
	k.keys, k.maxKeys = tot.Keys, tot.MaxKeys
	k.kernel, k.last = s.Kernel, now

	k.observeCounted(s)
	k.retrans.observe(s)
	k.stack = k.stack[:0]
	for _, c := range s.Stack {
		if !NodeExporterExports(c.Name) {
			k.stack = append(k.stack, c)
		}
	}
}

// observeCounted adds what each interface's counters of a reconciliation
// rule (rx_dropped+rx_nohandler, ...) counted since the last snapshot, by
// the rule Growth follows for rows: the window's growth, less what it was,
// or all of it in a new window or for an interface not listed before. Both
// it and its traced drops are made at their first sight, at 0, so that
// increase() counts their first drops. It also takes the explained
// fractions.
func (k *Sink) observeCounted(s drops.Snapshot) {
	if !s.Start.Equal(k.countedStart) {
		clear(k.countedLast)
		k.countedStart = s.Start
	}
	k.explained = k.explained[:0]
	now := s.Time
	for _, ifc := range s.Interfaces {
		// Only the home namespace's interfaces have counters; gone ones
		// have none left to read.
		if ifc.Namespace != "" || ifc.Gone || !ifc.Reconciliation.HasCounters {
			continue
		}
		for _, c := range ifc.Reconciliation.Counters {
			key := countedKey{ifc.Name, ifc.Ifindex, c.Counters}
			last := k.countedLast[key]
			n := c.Counted - last
			if c.Counted < last {
				n = c.Counted
			}
			v := labels{lIface: ifc.Name, lCounter: c.Counters}
			k.counted.add(v, n, now)
			k.traced.add(v, 0, now)
			k.countedNext[key] = c.Counted
			if c.Counted > 0 {
				k.explained = append(k.explained, explainedRatio{ifc.Name, c.Counters, float64(c.Explained) / float64(c.Counted)})
			}
		}
	}
	k.counted.enforce()
	k.traced.enforce()
	// Interfaces no longer listed are forgotten: one made again under the
	// same name and index starts from zero in the aggregator too.
	k.countedLast, k.countedNext = k.countedNext, k.countedLast
	clear(k.countedNext)
}

// ReadFailed records a reading of a source that failed at t.
func (k *Sink) ReadFailed(t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.readErrors++
	k.lastError = t
}

// siteLabels are a site's label values. The function stands for its
// sites (offsets differ between kernel builds, and one per line would
// multiply the series); without symbols it is the raw address.
func siteLabels(s drops.Site) labels {
	fn := s.Function
	if fn == "" {
		fn = s.Address
	}
	return labels{lReason: s.Reason, lFunction: fn, lInterface: s.Interface, lNamespace: s.Namespace, lProtocol: s.Proto()}
}

// nodeExporterNetstat are the protocol counters skbtop shows that
// node_exporter's netstat collector exports by default under the same
// meaning (node_netstat_Udp_NoPorts, ...: the fields its
// --collector.netstat.fields default matches). skbtop leaves them to it.
var nodeExporterNetstat = map[string]bool{
	"IcmpInErrors": true, "Icmp6InErrors": true,
	"UdpInErrors": true, "UdpNoPorts": true, "UdpRcvbufErrors": true, "UdpSndbufErrors": true,
	"Udp6InErrors": true, "Udp6NoPorts": true, "Udp6RcvbufErrors": true, "Udp6SndbufErrors": true,
	"TcpInErrs": true, "TcpRetransSegs": true,
	"TcpExtListenDrops": true, "TcpExtListenOverflows": true, "TcpExtTCPRcvQDrop": true,
}

// NodeExporterExports reports whether node_exporter's netstat collector
// exports protocol counter name (nstat's name, "UdpNoPorts") by default.
func NodeExporterExports(name string) bool { return nodeExporterNetstat[name] }

// labels are a series' label values, by position; unused positions are
// empty.
type labels [5]string

// family is one labelled counter: a running total per label set, bounded
// to max series. Beyond the budget the least active series (the longest
// without growth, then the smallest) fold into a series whose labels of
// the next fold level read "other": the other series takes over its total,
// so the family's sum never changes, and the folded label set's later
// drops go there too. A folded series disappears from the exposition
// (Prometheus marks it stale); series that stay never go backwards.
//
// A fold only happens where it merges series (into an existing other
// series, or with another candidate): renaming a lone series would lose
// its labels and win nothing. The last level folds every label into one
// series, so the budget always holds.
//
// Folded label sets are remembered (up to memory of them, the least
// recently folded or dropping forgotten first) so that their drops keep
// going to "other"; one forgotten and dropping again starts a new series
// at 0, which Prometheus's rate and increase read as a counter reset.
type family struct {
	max    int
	levels [][]int
	series map[labels]*series
	// live counts the exported series, folded the remembered folded ones,
	// up to memory.
	live, folded, memory int
	// seq orders folds and uses of folded label sets; folds counts the
	// folds, made the series made.
	seq, folds, made uint64
	// cand and keys are enforce's buffers.
	cand []*series
	keys []target
}

// target is where a series folds to.
type target struct {
	values labels
	lvl    int
}

// A family remembers foldMemory times its budget of folded label sets, and
// at least minFoldMemory: a full kernel map at the default --max-keys, so
// that a map full of distinct label sets does not churn through series. A
// few hundred bytes each.
const (
	foldMemory    = 4
	minFoldMemory = 16384
)

type series struct {
	values labels
	total  uint64
	// last is when it last grew.
	last time.Time
	// level is the fold level of its own labels (0: none is "other");
	// born orders the series by when they were made.
	level int
	born  uint64
	// foldedTo is the level it was folded to, 0 while it is exported;
	// seq orders the folds and uses.
	foldedTo int
	seq      uint64
}

func newFamily(budget int, levels [][]int) *family {
	return &family{max: budget, levels: levels, series: map[labels]*series{}, memory: max(foldMemory*budget, minFoldMemory)}
}

// fold returns v with the labels of level lvl set to "other".
func (f *family) fold(v labels, lvl int) labels {
	if lvl > 0 {
		for _, i := range f.levels[lvl-1] {
			v[i] = Other
		}
	}
	return v
}

// resolve returns where drops of label set v go now, starting from fold
// level lvl: the exported series (nil if there is none yet), its labels and
// level.
func (f *family) resolve(v labels, lvl int) (*series, labels, int) {
	for {
		key := f.fold(v, lvl)
		s := f.series[key]
		if s == nil {
			return nil, key, lvl
		}
		if s.foldedTo == 0 {
			return s, key, lvl
		}
		// Folded levels only grow; max guards label values that read
		// "other" themselves.
		lvl = max(s.foldedTo, lvl+1)
		if lvl > len(f.levels) {
			return s, key, lvl
		}
	}
}

// get returns the exported series for v from fold level lvl on, making it
// if needed.
func (f *family) get(v labels, lvl int) *series {
	s, key, lvl := f.resolve(v, lvl)
	if s == nil {
		s = f.make(key, lvl)
	} else if s.foldedTo != 0 {
		// Only reachable when a label value is "other" itself: count
		// on the folded series rather than lose the drops.
		s.foldedTo = 0
		f.live++
		f.folded--
	}
	return s
}

// make makes the exported series for labels v of fold level lvl.
func (f *family) make(v labels, lvl int) *series {
	f.made++
	s := &series{values: v, level: lvl, born: f.made}
	f.series[v] = s
	f.live++
	return s
}

// add counts n more for label set v at time now.
// Adding 0 makes the series without making it more active.
func (f *family) add(v labels, n uint64, now time.Time) {
	if t := f.series[v]; t != nil && t.foldedTo != 0 {
		if n == 0 {
			return
		}
		f.seq++
		t.seq = f.seq
	}
	s := f.get(v, 0)
	if n == 0 {
		return
	}
	s.total += n
	if now.After(s.last) {
		s.last = now
	}
}

// enforce folds the least active series until the family is within its
// budget, then forgets the oldest folded label sets beyond its memory.
func (f *family) enforce() {
	for lvl := 1; f.live > f.max && lvl <= len(f.levels); lvl++ {
		cand := f.cand[:0]
		for _, s := range f.series {
			if s.foldedTo == 0 && s.level < lvl {
				cand = append(cand, s)
			}
		}
		// Least active first: the longest without growth, then the
		// smallest, then the youngest (a storm of new label sets folds
		// before the series that were there).
		slices.SortFunc(cand, func(a, b *series) int {
			return cmp.Or(a.last.Compare(b.last), cmp.Compare(a.total, b.total), cmp.Compare(b.born, a.born))
		})
		// Where each would fold to, and how many series each target
		// would merge.
		keys := slices.Grow(f.keys[:0], len(cand))[:len(cand)]
		group := make(map[labels]int, len(cand)/4)
		for i, s := range cand {
			_, keys[i].values, keys[i].lvl = f.resolve(s.values, lvl)
			group[keys[i].values]++
		}
		for key := range group {
			if t := f.series[key]; t != nil && t.foldedTo == 0 {
				group[key]++
			}
		}
		for i, s := range cand {
			if f.live <= f.max {
				break
			}
			key := keys[i]
			if group[key.values] < 2 {
				continue
			}
			t := f.series[key.values]
			if t == nil {
				t = f.make(key.values, key.lvl)
			}
			t.total += s.total
			if s.last.After(t.last) {
				t.last = s.last
			}
			s.total, s.foldedTo = 0, lvl
			f.seq++
			s.seq = f.seq
			f.live--
			f.folded++
			f.folds++
		}
		// Kept for the next time, without what they point to.
		clear(cand)
		f.cand, f.keys = cand, keys
	}
	if limit := f.memory; f.folded > limit {
		// Forget down to half, so that this sort is rare.
		old := make([]*series, 0, f.folded)
		for _, s := range f.series {
			if s.foldedTo != 0 {
				old = append(old, s)
			}
		}
		slices.SortFunc(old, func(a, b *series) int { return cmp.Compare(a.seq, b.seq) })
		for _, s := range old[:f.folded-limit/2] {
			delete(f.series, s.values)
			f.folded--
		}
	}
}

// each calls fn with every exported series.
func (f *family) each(fn func(*series)) {
	for _, s := range f.series {
		if s.foldedTo == 0 {
			fn(s)
		}
	}
}
