package drops

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// HistoryLen is how many intervals of rate history a site keeps: a minute at
// the default one-second interval.
const HistoryLen = 60

// SamplesPerSite is how many recent sampled packets a site keeps.
const SamplesPerSite = 8

// Aggregator turns cumulative readings into windowed counts and rates. The
// tracer's sample goroutine and the refresh loop may use it concurrently.
type Aggregator struct {
	res    Resolver
	host   string
	kernel string

	mu sync.Mutex
	// cur and prev are the last two readings; rates come from their
	// difference.
	cur, prev *Reading
	// base is the reading counts are measured from (start or last Reset).
	base     map[Key]Count
	baseTime time.Time
	baseHlth Health
	// prevIndex is prev's counts by key.
	prevIndex map[Key]Count
	// history is kept only when keepHistory: headless output never shows
	// it, and with a full map it is most of skbtop's memory.
	keepHistory bool
	history     map[Key]*history
	gen         uint64 // counts Updates, to find keys a reading no longer has
	samples     map[Key][]Packet
}

// history is a ring of rates; float32 halves it, and a sparkline needs no
// more precision.
type history struct {
	rates [HistoryLen]float32
	n     int    // number of rates recorded, capped at HistoryLen
	next  int    // index of the next write
	gen   uint64 // the last Update that saw the key
}

func (h *history) add(rate float64) {
	h.rates[h.next] = float32(rate)
	h.next = (h.next + 1) % HistoryLen
	h.n = min(h.n+1, HistoryLen)
}

func (h *history) slice() []float64 {
	out := make([]float64, 0, h.n)
	for i := HistoryLen - h.n; i < HistoryLen; i++ {
		out = append(out, float64(h.rates[(h.next+i)%HistoryLen]))
	}
	return out
}

// NewAggregator returns an aggregator that names sites with res and stamps
// snapshots with the host and kernel names.
func NewAggregator(res Resolver, host, kernel string) *Aggregator {
	return &Aggregator{
		res:         res,
		host:        host,
		kernel:      kernel,
		keepHistory: true,
		history:     map[Key]*history{},
		samples:     map[Key][]Packet{},
	}
}

// SetHistory turns the per-site rate history (Site.History, the
// sparklines) on or off; it is on by default.
func (a *Aggregator) SetHistory(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keepHistory = on
	if !on {
		clear(a.history)
	}
}

// Update records a cumulative reading. The first reading becomes the
// baseline: counts are drops since then.
func (a *Aggregator) Update(r Reading) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		a.cur = &r
		a.setBaseLocked()
		return
	}
	a.prev, a.cur = a.cur, &r
	dt := a.cur.Time.Sub(a.prev.Time).Seconds()
	a.prevIndex = index(a.prev.Counts)
	if !a.keepHistory {
		return
	}
	prev := a.prevIndex
	a.gen++
	for _, c := range r.Counts {
		h := a.history[c.Key]
		if h == nil {
			h = &history{}
			a.history[c.Key] = h
		}
		h.gen = a.gen
		h.add(rate(c.Packets, prev[c.Key].Packets, dt))
	}
	// A key the kernel no longer reports (its map was replaced) keeps no
	// history.
	for k, h := range a.history {
		if h.gen != a.gen {
			delete(a.history, k)
		}
	}
}

// Reset makes the latest reading the new baseline: counts restart at zero.
func (a *Aggregator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setBaseLocked()
}

func (a *Aggregator) setBaseLocked() {
	if a.cur == nil {
		return
	}
	a.base = index(a.cur.Counts)
	a.baseTime = a.cur.Time
	a.baseHlth = a.cur.Health
}

// AddSample keeps a sampled packet for its site's detail view.
func (a *Aggregator) AddSample(s Sample) {
	p := DecodePacket(s)
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.samples[s.Key]
	if len(list) == SamplesPerSite {
		list = append(list[:0:0], list[1:]...)
	}
	a.samples[s.Key] = append(list, p)
}

// Snapshot returns the current view, unfiltered, with sites sorted by rate,
// then count. Interfaces hold traced drops only; callers add counters.
func (a *Aggregator) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	snap := Snapshot{
		Schema: SchemaV1,
		Host:   a.host,
		Kernel: a.kernel,
		Sites:  []Site{},
	}
	if a.cur == nil {
		snap.Time = time.Now()
		snap.Protocols = []Protocol{}
		snap.Interfaces = []Interface{}
		return snap
	}
	snap.Time = a.cur.Time
	// Room for every key and the overflow site: a full map is thousands.
	snap.Sites = make([]Site, 0, len(a.cur.Counts)+1)
	snap.WindowS = a.cur.Time.Sub(a.baseTime).Seconds()
	var prev map[Key]Count
	var dt float64
	if a.prev != nil {
		prev = a.prevIndex
		dt = a.cur.Time.Sub(a.prev.Time).Seconds()
		snap.IntervalS = dt
	}
	for _, c := range a.cur.Counts {
		base := a.base[c.Key]
		count := sub(c.Packets, base.Packets)
		var r float64
		if prev != nil {
			r = rate(c.Packets, prev[c.Key].Packets, dt)
		}
		if count == 0 && r == 0 {
			// Nothing dropped here since the baseline.
			continue
		}
		site := a.siteLocked(c.Key)
		site.Count, site.Rate = count, r
		site.Bytes = sub(c.Bytes, base.Bytes)
		if h := a.history[c.Key]; h != nil {
			site.History = h.slice()
		}
		site.Samples = slices.Clone(a.samples[c.Key])
		snap.Sites = append(snap.Sites, site)
	}
	h, bh := a.cur.Health, a.baseHlth
	if n := sub(h.OverflowPackets, bh.OverflowPackets); n > 0 {
		site := Site{Function: OverflowFunction, Count: n, Bytes: sub(h.OverflowBytes, bh.OverflowBytes)}
		if a.prev != nil {
			site.Rate = rate(h.OverflowPackets, a.prev.Health.OverflowPackets, dt)
		}
		snap.Sites = append(snap.Sites, site)
	}
	sortSites(snap.Sites)
	snap.Totals.SamplesLost = sub(h.Lost, bh.Lost)
	snap.Totals.SamplesSuppressed = sub(h.Suppressed, bh.Suppressed)
	snap.Totals.KeysOverflowed = sub(h.OverflowPackets, bh.OverflowPackets)
	snap.Totals.RecursionMisses = sub(h.RecursionMisses, bh.RecursionMisses)
	snap.Recount()
	return snap
}

// sortSites orders sites by rate, then count, then name. Sites that tie on
// rate and count (a map full of keys hit equally often) are told apart by
// their symbol, which is built once per site here rather than twice per
// comparison: n log n strings for 16384 sites were most of a snapshot's
// garbage.
func sortSites(sites []Site) {
	type entry struct {
		sym string
		i   int
	}
	order := make([]entry, len(sites))
	for i := range sites {
		order[i] = entry{sites[i].Symbol(), i}
	}
	slices.SortFunc(order, func(x, y entry) int {
		a, b := &sites[x.i], &sites[y.i]
		return cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Count, a.Count),
			cmp.Compare(x.sym, y.sym), cmp.Compare(a.Reason, b.Reason),
			cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.L3, b.L3), cmp.Compare(a.L4, b.L4))
	})
	sorted := make([]Site, len(sites))
	for k, e := range order {
		sorted[k] = sites[e.i]
	}
	copy(sites, sorted)
}

// siteLocked names the parts of a key.
func (a *Aggregator) siteLocked(k Key) Site {
	loc, _ := a.res.Locate(k.Location)
	s := Site{
		Function:   loc.Function,
		Module:     loc.Module,
		Address:    fmt.Sprintf("0x%x", k.Location),
		Reason:     a.res.Reason(k.Reason),
		ReasonCode: k.Reason,
		Ifindex:    k.Ifindex,
		Netns:      k.Netns,
		Namespace:  a.res.Namespace(k.Netns),
		L3:         L3Name(k.L3),
		L4:         L4Name(k.L4),
		Key:        k,
	}
	if loc.Function != "" {
		s.Offset = fmt.Sprintf("0x%x", loc.Offset)
	}
	if k.Ifindex != 0 {
		s.Interface = a.res.Interface(k.Netns, k.Ifindex)
		if s.Interface == "" {
			s.Interface = fmt.Sprintf("if%d", k.Ifindex)
		}
	}
	return s
}

func index(counts []Count) map[Key]Count {
	m := make(map[Key]Count, len(counts))
	for _, c := range counts {
		m[c.Key] = c
	}
	return m
}

// sub returns cur-base, or cur when the counter went backwards (the kernel
// map was recreated), so a reset never shows as a huge number.
func sub(cur, base uint64) uint64 {
	if cur < base {
		return cur
	}
	return cur - base
}

func rate(cur, prev uint64, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(sub(cur, prev)) / dt
}
