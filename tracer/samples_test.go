package tracer

import (
	"testing"
	"time"
)

// TestDrainFor: the drain interval is the time the ring takes to fill to a
// quarter at the most samples the CPUs may send, within 100 ms and 1 s.
func TestDrainFor(t *testing.T) {
	for _, tc := range []struct {
		limit uint32
		ncpu  int
		want  time.Duration
	}{
		{64, 2, time.Second},             // 25.6 KB/s: a quarter of 256 KiB in 2.56 s
		{64, 16, 320 * time.Millisecond}, // 204.8 KB/s
		{64, 64, 100 * time.Millisecond}, // 819.2 KB/s: 80 ms, raised to the least
		{0, 2, time.Second},              // sampling off
	} {
		if got := drainFor(256<<10, tc.limit, tc.ncpu, 200); got != tc.want {
			t.Errorf("drainFor(256 KiB, %d a CPU, %d CPUs, 200 B) = %v, want %v", tc.limit, tc.ncpu, got, tc.want)
		}
	}
}

// TestDue: the Samples loop reads the ring when no one has for a drain
// interval, or for one and a half after a refresh's read, and otherwise
// sleeps until then.
func TestDue(t *testing.T) {
	const period = time.Second
	for _, tc := range []struct {
		ago       time.Duration
		byRefresh bool
		read      bool
		// wait is how long until the next read is due, within 100 ms.
		wait time.Duration
	}{
		{800 * time.Millisecond, false, false, 200 * time.Millisecond},
		{1200 * time.Millisecond, false, true, period},
		{1200 * time.Millisecond, true, false, 300 * time.Millisecond},
		{1600 * time.Millisecond, true, true, period},
	} {
		s := &sampleReader{last: time.Now().Add(-tc.ago), byRefresh: tc.byRefresh}
		wait := s.due(period)
		if read := s.reads == 1; read != tc.read {
			t.Errorf("last read %v ago (by a refresh: %v): read %v, want %v", tc.ago, tc.byRefresh, read, tc.read)
		}
		if d := wait - tc.wait; d < -100*time.Millisecond || d > 0 {
			t.Errorf("last read %v ago (by a refresh: %v): next due in %v, want %v", tc.ago, tc.byRefresh, wait, tc.wait)
		}
		if tc.read && (s.byRefresh || time.Since(s.last) > 100*time.Millisecond) {
			t.Errorf("last read %v ago: the loop's read is not recorded as the last (%v ago, by a refresh: %v)", tc.ago, time.Since(s.last), s.byRefresh)
		}
	}
}
