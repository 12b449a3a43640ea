package drops

import "time"

// meter turns one cumulative counter, read again and again, into what a
// snapshot shows: its growth over the window (since the start or the last
// Reset) and its rate over the last interval. Every counter skbtop shows —
// a site's drops and bytes, the tracer's health, an interface's counters, a
// protocol counter — goes through a meter, so there is one reset rule:
//
//   - Growth is added up interval by interval rather than taken against a
//     baseline value. A counter that goes backwards (the kernel map was
//     recreated, an interface recreated under the same index and name, a
//     driver reset its statistics, a 32-bit counter wrapped) grew by its
//     new value in that interval, as far as anyone can tell, and what it
//     counted before stays in the window.
//   - Reset zeroes the growth; the rate, which describes the last interval,
//     stays.
//   - A counter missing from a reading keeps its growth and has rate zero.
type meter struct {
	cur   uint64
	delta uint64
	rate  float64
	// at is when cur was read.
	at time.Time
}

// newMeter starts a meter at its first reading v taken at now. When fresh,
// the counter was born inside the window (a kernel map key added since the
// last reading: every one of its drops happened since), so v counts in full
// and its rate is over the interval since prev; otherwise v is the baseline
// and nothing has grown yet.
func newMeter(v uint64, now, prev time.Time, fresh bool) meter {
	m := meter{cur: v, at: now}
	if fresh {
		m.delta = v
		m.rate = rate(v, now.Sub(prev).Seconds())
	}
	return m
}

// observe records reading v taken at now.
func (m *meter) observe(v uint64, now time.Time) {
	d := grew(v, m.cur)
	m.delta += d
	m.rate = rate(d, now.Sub(m.at).Seconds())
	m.cur, m.at = v, now
}

// idle records that the counter was not in the reading taken at now.
func (m *meter) idle() { m.rate = 0 }

// reset starts the window again.
func (m *meter) reset() { m.delta = 0 }

// grew returns how much a counter grew from prev to cur; a counter that went
// backwards was reset and grew by cur since.
func grew(cur, prev uint64) uint64 {
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
