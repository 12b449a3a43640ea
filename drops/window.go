package drops

import "time"

// meter turns one cumulative counter, read again and again, into what a
// snapshot shows: its growth over the window (since the start or the last
// Reset) and its rate over the last interval. Every counter skbtop shows —
// a site's drops and bytes, the tracer's health, an interface's counters, a
// protocol counter — goes through a meter, so there is one reset rule:
//
//   - Growth is added up reading by reading rather than taken against a
//     baseline value. A counter that goes backwards (an interface recreated
//     under the same index and name, a driver reset its statistics, a
//     32-bit counter wrapped) grew by its new value in that interval, as far
//     as anyone can tell, and what it counted before stays in the window.
//   - A counter the source retires (a key the tracer took out of the
//     kernel map) first grows to its final value, then counts from zero.
//   - Reset zeroes the growth; the rate, which describes the last interval,
//     stays.
//   - A counter missing from a reading keeps its growth and has rate zero.
//
// Within one reading a meter may be added to more than once (a key's final
// value, then its new live one); settle closes the reading.
type meter struct {
	cur   uint64
	delta uint64
	rate  float64
	// at is when the meter last settled (sinceEpoch); pending is what it
	// grew since.
	at      time.Duration
	pending uint64
}

// epoch is what meters tell time from. A time.Time holds a pointer (its
// location): meters by the ten thousand, settled every refresh, each
// storing one, were a write barrier apiece while the collector ran and
// pointers for it to scan.
var epoch = time.Now()

// sinceEpoch is t as meters keep it: by the monotonic clock where t has
// a reading of it (time.Now's), else by the wall clock.
func sinceEpoch(t time.Time) time.Duration { return t.Sub(epoch) }

// baseline starts a meter at value v read at now: nothing has grown yet.
func baseline(v uint64, now time.Time) meter { return meter{cur: v, at: sinceEpoch(now)} }

// fresh starts a meter for a counter born since the reading at prev (a
// kernel map key added since): it counts from zero, so all of its first
// value is growth, at a rate over the interval since prev.
func fresh(prev time.Time) meter { return meter{at: sinceEpoch(prev)} }

// add records value v.
func (m *meter) add(v uint64) {
	m.pending += grew(v, m.cur)
	m.cur = v
}

// retire records that the counter restarts from zero after its last value.
func (m *meter) retire() { m.cur = 0 }

// settle closes the reading taken at at (sinceEpoch of its time, worked
// out once for the thousands of meters of one reading): the growth since
// the last one joins the window and sets the rate. A meter nothing was
// added to since settles at rate zero.
func (m *meter) settle(at time.Duration) {
	m.delta += m.pending
	m.rate = rate(m.pending, (at - m.at).Seconds())
	m.at, m.pending = at, 0
}

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
