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

// Config sets up an Aggregator.
type Config struct {
	// Resolver names addresses, reasons and namespaces.
	Resolver Resolver
	// Host and Kernel stamp every snapshot.
	Host, Kernel string
	// History keeps each site's rate over the last HistoryLen intervals
	// (Site.History, the live view's sparklines). Headless outputs never
	// show it, and with a full map it is most of skbtop's memory.
	History bool
	// AllCounters shows protocol counters that did not change too.
	AllCounters bool
	// Warnings are shown in every snapshot (hidden kernel addresses, ...).
	Warnings []string
}

// Aggregator is the one place where readings become what skbtop shows:
// every source's cumulative values go in through Update, each through a
// meter (see window.go) with one reset rule, and Snapshot returns the
// finished document that every output only formats. The refresh loop, the
// sample reader and the UI may use it concurrently.
type Aggregator struct {
	cfg Config

	mu sync.Mutex
	// started is set by the first reading, which is the baseline.
	started bool
	// start is when the window began (first reading or Reset); last is
	// the latest reading and interval the length of the one before it.
	start, last time.Time
	interval    float64

	sites  map[Key]*siteState
	health healthMeters

	links      map[linkID]*linkState
	linksNetns uint32
	linksRead  bool
	stack      []stackState

	// names are interface names by namespace and ifindex, from the
	// tracer, samples and link counters.
	names    map[devKey]string
	samples  map[Key][]Packet
	errors   []string
	warnings []string
}

type siteState struct {
	packets, bytes meter
	hist           *history
	// seen is whether the latest reading had the key.
	seen bool
}

type healthMeters struct {
	sampled, suppressed, lost, overflowPackets, overflowBytes, recursion meter
}

// each calls fn with every health meter and the value of h it follows.
func (hm *healthMeters) each(h Health, fn func(m *meter, v uint64)) {
	fn(&hm.sampled, h.Sampled)
	fn(&hm.suppressed, h.Suppressed)
	fn(&hm.lost, h.Lost)
	fn(&hm.overflowPackets, h.OverflowPackets)
	fn(&hm.overflowBytes, h.OverflowBytes)
	fn(&hm.recursion, h.RecursionMisses)
}

type devKey struct{ netns, ifindex uint32 }

// linkID identifies an interface. An ifindex the kernel hands to a new
// interface with another name is another interface: its counters start
// from their own baseline rather than continuing the old one's.
type linkID struct {
	index uint32
	name  string
}

type linkState struct {
	fields [NumLinkFields]meter
	has    [NumLinkFields]bool
	// rated is false until the interface has been read twice.
	rated bool
	seen  bool
}

type stackState struct {
	name string
	m    meter
}

// NewAggregator returns an aggregator with no readings.
func NewAggregator(cfg Config) *Aggregator {
	return &Aggregator{
		cfg:     cfg,
		sites:   map[Key]*siteState{},
		links:   map[linkID]*linkState{},
		names:   map[devKey]string{},
		samples: map[Key][]Packet{},
	}
}

// Warn adds a warning every later snapshot carries.
func (a *Aggregator) Warn(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.warnings = append(a.warnings, msg)
}

// Update records a reading. The first one is the baseline: counts are drops
// since then.
func (a *Aggregator) Update(r Reading) {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := !a.started
	if first {
		a.started, a.start = true, r.Time
	} else {
		a.interval = r.Time.Sub(a.last).Seconds()
	}
	for _, d := range r.Devices {
		a.names[devKey{d.Netns, d.Ifindex}] = d.Name
	}
	a.updateSites(r, first)
	a.health.each(r.Health, func(m *meter, v uint64) {
		if first {
			*m = newMeter(v, r.Time, r.Time, false)
		} else {
			m.observe(v, r.Time)
		}
	})
	if r.Links != nil {
		a.updateLinks(r)
	}
	if r.Stack != nil {
		a.updateStack(r)
	}
	a.errors = r.Errors
	a.last = r.Time
}

func (a *Aggregator) updateSites(r Reading, first bool) {
	for _, st := range a.sites {
		st.seen = false
	}
	for _, c := range r.Counts {
		st := a.sites[c.Key]
		if st == nil {
			// A key added since the last reading: all of its drops are
			// new. In the first reading, they are the baseline.
			st = &siteState{
				packets: newMeter(c.Packets, r.Time, a.last, !first),
				bytes:   newMeter(c.Bytes, r.Time, a.last, !first),
			}
			a.sites[c.Key] = st
		} else {
			st.packets.observe(c.Packets, r.Time)
			st.bytes.observe(c.Bytes, r.Time)
		}
		st.seen = true
	}
	for k, st := range a.sites {
		if !st.seen {
			st.packets.idle()
			st.bytes.idle()
			if st.packets.delta == 0 {
				// Gone from the kernel with nothing in the window: no
				// row to keep.
				delete(a.sites, k)
				delete(a.samples, k)
				continue
			}
		}
		if a.cfg.History && !first {
			if st.hist == nil {
				st.hist = &history{}
			}
			st.hist.add(st.packets.rate)
		}
	}
}

func (a *Aggregator) updateLinks(r Reading) {
	a.linksRead, a.linksNetns = true, r.LinksNetns
	for _, st := range a.links {
		st.seen = false
	}
	for _, l := range r.Links {
		id := linkID{l.Index, l.Name}
		a.names[devKey{r.LinksNetns, l.Index}] = l.Name
		st := a.links[id]
		if st == nil {
			// An interface seen for the first time starts its window
			// here: its counters count from its creation, not from ours.
			st = &linkState{}
			for f := range NumLinkFields {
				st.fields[f] = newMeter(l.Counters.Get(f), r.Time, r.Time, false)
				st.has[f] = l.Counters.Has(f)
			}
			a.links[id] = st
		} else {
			for f := range NumLinkFields {
				st.fields[f].observe(l.Counters.Get(f), r.Time)
				st.has[f] = l.Counters.Has(f)
			}
			st.rated = true
		}
		st.seen = true
	}
	for id, st := range a.links {
		if !st.seen {
			delete(a.links, id)
		}
	}
}

func (a *Aggregator) updateStack(r Reading) {
	old := make(map[string]meter, len(a.stack))
	for _, s := range a.stack {
		old[s.name] = s.m
	}
	a.stack = a.stack[:0]
	for _, v := range r.Stack {
		m, ok := old[v.Name]
		if ok {
			m.observe(v.Value, r.Time)
		} else {
			m = newMeter(v.Value, r.Time, r.Time, false)
		}
		a.stack = append(a.stack, stackState{v.Name, m})
	}
}

// Reset starts the window again at the latest reading: counts restart at
// zero. Rates, which describe the last interval, are kept.
func (a *Aggregator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.start = a.last
	for k, st := range a.sites {
		st.packets.reset()
		st.bytes.reset()
		if !st.seen {
			delete(a.sites, k)
			delete(a.samples, k)
		}
	}
	a.health.each(Health{}, func(m *meter, _ uint64) { m.reset() })
	for _, st := range a.links {
		for f := range st.fields {
			st.fields[f].reset()
		}
	}
	for i := range a.stack {
		a.stack[i].m.reset()
	}
}

// AddSample keeps a sampled packet for its site's detail view; its device
// name is the newest the kernel had.
func (a *Aggregator) AddSample(s Sample) {
	p := DecodePacket(s)
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.Ifindex != 0 && s.Ifname != "" {
		a.names[devKey{s.Netns, s.Ifindex}] = s.Ifname
	}
	list := a.samples[s.Key]
	if len(list) == SamplesPerSite {
		list = append(list[:0:0], list[1:]...)
	}
	a.samples[s.Key] = append(list, p)
}

// Snapshot returns the finished, unfiltered view: sites sorted by rate,
// totals, protocols, interfaces with their counters and reconciliation,
// protocol counters and warnings. Outputs format it; none recomputes it.
func (a *Aggregator) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	snap := Snapshot{
		Schema:     SchemaV1,
		Host:       a.cfg.Host,
		Kernel:     a.cfg.Kernel,
		Sites:      []Site{},
		Interfaces: []Interface{},
	}
	snap.Warnings = append(append(append(snap.Warnings, a.cfg.Warnings...), a.warnings...), a.errors...)
	if !a.started {
		snap.Time = time.Now()
		snap.Protocols = []Protocol{}
		return snap
	}
	snap.Time = a.last
	snap.WindowS = a.last.Sub(a.start).Seconds()
	snap.IntervalS = a.interval
	// Room for every key and the overflow site: a full map is thousands.
	snap.Sites = make([]Site, 0, len(a.sites)+1)
	for k, st := range a.sites {
		if st.packets.delta == 0 && st.packets.rate == 0 {
			// Nothing dropped here in the window.
			continue
		}
		site := a.siteLocked(k)
		site.Count, site.Rate, site.Bytes = st.packets.delta, st.packets.rate, st.bytes.delta
		if st.hist != nil {
			site.History = st.hist.slice()
		}
		site.Samples = slices.Clone(a.samples[k])
		snap.Sites = append(snap.Sites, site)
	}
	h := &a.health
	if h.overflowPackets.delta > 0 || h.overflowPackets.rate > 0 {
		snap.Sites = append(snap.Sites, Site{Function: OverflowFunction,
			Count: h.overflowPackets.delta, Bytes: h.overflowBytes.delta, Rate: h.overflowPackets.rate})
	}
	SortSites(snap.Sites, ByRate)
	snap.Totals.SamplesLost = h.lost.delta
	snap.Totals.SamplesSuppressed = h.suppressed.delta
	snap.Totals.KeysOverflowed = h.overflowPackets.delta
	snap.Totals.RecursionMisses = h.recursion.delta
	snap.Interfaces = a.interfacesLocked()
	snap.StackCounters = a.stackLocked()
	snap.Recount()
	return snap
}

// interfacesLocked returns the interfaces whose counters were read, in
// ifindex order; Recount adds their traced drops.
func (a *Aggregator) interfacesLocked() []Interface {
	out := make([]Interface, 0, len(a.links))
	ns := a.cfg.Resolver.Namespace(a.linksNetns)
	for id, st := range a.links {
		ifc := Interface{Name: id.name, Ifindex: id.index, Netns: a.linksNetns, Namespace: ns,
			Counters: &LinkCounters{}, Delta: &LinkCounters{}}
		if st.rated {
			ifc.Rates = &LinkRates{}
		}
		for f := range NumLinkFields {
			if !st.has[f] {
				continue
			}
			m := st.fields[f]
			ifc.Counters.Set(f, m.cur)
			ifc.Delta.Set(f, m.delta)
			if ifc.Rates != nil {
				ifc.Rates.Set(f, m.rate)
			}
		}
		out = append(out, ifc)
	}
	slices.SortFunc(out, func(x, y Interface) int {
		return cmp.Or(cmp.Compare(x.Ifindex, y.Ifindex), cmp.Compare(x.Name, y.Name))
	})
	return out
}

// stackLocked returns the protocol counters in the source's order; unless
// AllCounters, only those that moved (in the window, or in the last
// interval just before a Reset).
func (a *Aggregator) stackLocked() []StackCounter {
	var out []StackCounter
	for _, s := range a.stack {
		if !a.cfg.AllCounters && s.m.delta == 0 && s.m.rate == 0 {
			continue
		}
		out = append(out, StackCounter{Name: s.name, Value: s.m.cur, Delta: s.m.delta, Rate: s.m.rate})
	}
	return out
}

// siteLocked names the parts of a key.
func (a *Aggregator) siteLocked(k Key) Site {
	res := a.cfg.Resolver
	loc, _ := res.Locate(k.Location)
	s := Site{
		Function:   loc.Function,
		Module:     loc.Module,
		Address:    fmt.Sprintf("0x%x", k.Location),
		Reason:     res.Reason(k.Reason),
		ReasonCode: k.Reason,
		Ifindex:    k.Ifindex,
		Netns:      k.Netns,
		Namespace:  res.Namespace(k.Netns),
		L3:         L3Name(k.L3),
		L4:         L4Name(k.L4),
		Key:        k,
	}
	if loc.Function != "" {
		s.Offset = fmt.Sprintf("0x%x", loc.Offset)
	}
	if k.Ifindex != 0 {
		s.Interface = a.names[devKey{k.Netns, k.Ifindex}]
		if s.Interface == "" {
			s.Interface = fmt.Sprintf("if%d", k.Ifindex)
		}
	}
	return s
}

// history is a ring of rates; float32 halves it, and a sparkline needs no
// more precision.
type history struct {
	rates [HistoryLen]float32
	n     int // number of rates recorded, capped at HistoryLen
	next  int // index of the next write
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
