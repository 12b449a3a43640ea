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
