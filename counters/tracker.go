package counters

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/skbtop/skbtop/drops"
)

// Tracker turns cumulative counter readings into what a snapshot shows: the
// counters, their growth since the baseline (start, or the last Reset) and
// their rate over the last interval. The refresh loop updates it while the
// UI reads it; its methods may be called concurrently.
//
// Deltas are accumulated interval by interval rather than taken against a
// baseline value, so that a counter that goes backwards (the interface was
// recreated under the same name and index, a driver reset its statistics,
// a 32-bit IFLA_STATS counter wrapped) counts from its new value for that
// interval and never shows as a huge number, while what it counted before
// the reset stays in the window.
type Tracker struct {
	mu    sync.Mutex
	links map[linkID]*linkState
	stack map[string]*stackState
	// gen numbers the updates; a state not stamped with the current one
	// was missing from the latest reading.
	gen uint64
}

// linkID identifies an interface. An ifindex the kernel hands to a new
// interface with another name is another interface: its counters start
// from their own baseline rather than continuing the old one's.
type linkID struct {
	index uint32
	name  string
}

type linkState struct {
	cur   drops.LinkCounters
	delta drops.LinkCounters
	rates drops.LinkRates
	// hasRate is false until the interface has been seen twice.
	hasRate bool
	// at is when cur was read; gen is the update that read it.
	at  time.Time
	gen uint64
}

type stackState struct {
	cur, delta uint64
	rate       float64
	at         time.Time
	gen        uint64
}

// NewTracker returns a tracker with no readings.
func NewTracker() *Tracker {
	return &Tracker{links: map[linkID]*linkState{}, stack: map[string]*stackState{}}
}

// Update records a reading taken at now. Interfaces and counters seen for
// the first time start their window here (delta zero, no rate yet);
// interfaces and counters missing from the reading are forgotten. A nil
// links or stack means that source could not be read this time: its
// previous values are kept as they were, so one failed read neither empties
// the view nor loses the window.
func (t *Tracker) Update(now time.Time, links []Link, stack map[string]uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	if links != nil {
		for _, l := range links {
			id := linkID{l.Index, l.Name}
			s := t.links[id]
			if s == nil {
				t.links[id] = &linkState{cur: l.Counters, at: now, gen: t.gen}
				continue
			}
			// Rates are over the time since this interface was last read,
			// which is longer than the refresh interval after a failed read.
			dt := now.Sub(s.at).Seconds()
			d := diffLinks(l.Counters, s.cur)
			addLinks(&s.delta, d)
			s.rates = rateLinks(d, dt)
			s.hasRate = dt > 0
			s.cur, s.at, s.gen = l.Counters, now, t.gen
		}
		for id, s := range t.links {
			if s.gen != t.gen {
				delete(t.links, id)
			}
		}
	}
	if stack != nil {
		for name, v := range stack {
			s := t.stack[name]
			if s == nil {
				t.stack[name] = &stackState{cur: v, at: now, gen: t.gen}
				continue
			}
			d := sub(v, s.cur)
			s.delta += d
			s.rate = rate(d, now.Sub(s.at).Seconds())
			s.cur, s.at, s.gen = v, now, t.gen
		}
		for name, s := range t.stack {
			if s.gen != t.gen {
				delete(t.stack, name)
			}
		}
	}
}

// Reset makes the latest reading the new baseline: deltas restart at zero.
// Rates, which describe the last interval, are kept.
func (t *Tracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.links {
		s.delta = drops.LinkCounters{}
	}
	for _, s := range t.stack {
		s.delta = 0
	}
}

// Interfaces returns the interfaces of the latest reading, sorted by
// ifindex, stamped with netns (the Reader's Netns) so that
// drops.Snapshot.SetCounters can match them to traced drops. Counters are
// cumulative, Delta is the growth since the baseline, Rates the per-second
// growth over the last interval (nil until the interface has been seen
// twice). The traced fields are left zero for SetCounters to fill.
func (t *Tracker) Interfaces(netns uint32) []drops.Interface {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]drops.Interface, 0, len(t.links))
	for id, s := range t.links {
		ifc := drops.Interface{Name: id.name, Ifindex: id.index, Netns: netns}
		cur, delta := s.cur, s.delta
		ifc.Counters, ifc.Delta = &cur, &delta
		if s.hasRate {
			rates := s.rates
			ifc.Rates = &rates
		}
		out = append(out, ifc)
	}
	slices.SortFunc(out, func(a, b drops.Interface) int {
		return cmp.Or(cmp.Compare(a.Ifindex, b.Ifindex), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// StackCounters returns the protocol counters in the order of
// StackCounterNames (others, if any, after them by name). Unless all is
// true, counters that did not move are left out: those with a zero delta
// and a zero rate (a counter that moved in the last interval just before a
// Reset still shows, with its rate).
func (t *Tracker) StackCounters(all bool) []drops.StackCounter {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]drops.StackCounter, 0, len(t.stack))
	for name, s := range t.stack {
		if !all && s.delta == 0 && s.rate == 0 {
			continue
		}
		out = append(out, drops.StackCounter{Name: name, Value: s.cur, Delta: s.delta, Rate: s.rate})
	}
	slices.SortFunc(out, func(a, b drops.StackCounter) int {
		ia, oka := stackOrder[a.Name]
		ib, okb := stackOrder[b.Name]
		switch {
		case oka && okb:
			return cmp.Compare(ia, ib)
		case oka:
			return -1
		case okb:
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// linkFields lists pointers to the fields of c, in one fixed order, so that
// arithmetic over LinkCounters and LinkRates is written once.
func linkFields(c *drops.LinkCounters) []*uint64 {
	return []*uint64{&c.RxPackets, &c.TxPackets, &c.RxDropped, &c.TxDropped, &c.RxMissed,
		&c.RxFIFO, &c.RxNoHandler, &c.RxErrors, &c.TxErrors}
}

func rateFields(r *drops.LinkRates) []*float64 {
	return []*float64{&r.RxPackets, &r.TxPackets, &r.RxDropped, &r.TxDropped, &r.RxMissed,
		&r.RxFIFO, &r.RxNoHandler, &r.RxErrors, &r.TxErrors}
}

// diffLinks returns cur-prev field by field, each with sub's reset rule.
func diffLinks(cur, prev drops.LinkCounters) drops.LinkCounters {
	var d drops.LinkCounters
	df, cf, pf := linkFields(&d), linkFields(&cur), linkFields(&prev)
	for i := range df {
		*df[i] = sub(*cf[i], *pf[i])
	}
	return d
}

func addLinks(sum *drops.LinkCounters, d drops.LinkCounters) {
	sf, df := linkFields(sum), linkFields(&d)
	for i := range sf {
		*sf[i] += *df[i]
	}
}

func rateLinks(d drops.LinkCounters, dt float64) drops.LinkRates {
	var r drops.LinkRates
	rf, df := rateFields(&r), linkFields(&d)
	for i := range rf {
		*rf[i] = rate(*df[i], dt)
	}
	return r
}

// sub returns how much a counter grew from prev to cur. A counter that went
// backwards was reset (or, for 32-bit stats, wrapped): it grew by cur since
// the reset, as far as anyone can tell.
func sub(cur, prev uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

func rate(d uint64, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(d) / dt
}
