package drops

import (
	"slices"
	"testing"
)

// TestHistoryShared adds rates to a history over several of its arrays,
// with quiet minutes between bursts, and holds every slice it handed out
// to the last HistoryLen rates at the time, unchanged by all that came
// after, including appends by the slices' holders.
func TestHistoryShared(t *testing.T) {
	var h history
	var all []float64
	type handed struct {
		got, want []float64
	}
	var kept []handed
	quiet := 0
	for i := range 6 * HistoryLen {
		rate := float64(i%7 + 1)
		if (i/HistoryLen)%3 == 1 {
			rate = 0 // a quiet minute and more
		}
		window := all[max(len(all)-HistoryLen, 0):]
		wantChanged := rate != 0 || slices.ContainsFunc(window, func(r float64) bool { return r != 0 })
		if changed := h.add(rate); changed != wantChanged {
			t.Fatalf("add %d (%v): changed %v, want %v", i, rate, changed, wantChanged)
		}
		all = append(all, rate)
		want := all[max(len(all)-HistoryLen, 0):]
		got := h.slice()
		if !slices.Equal(got, want) {
			t.Fatalf("after %d rates: %v, want %v", i+1, got, want)
		}
		if !slices.ContainsFunc(want, func(r float64) bool { return r != 0 }) {
			quiet++
			if &got[0] != &quietHistory[0] {
				t.Fatalf("after %d rates: a quiet minute is not the shared quiet history", i+1)
			}
		}
		kept = append(kept, handed{got, slices.Clone(want)})
	}
	// Whoever holds a slice may append to it.
	for _, k := range kept {
		_ = append(k.got, -1)
	}
	for i, k := range kept {
		if !slices.Equal(k.got, k.want) {
			t.Fatalf("the slice handed out after %d rates changed: %v, want %v", i+1, k.got, k.want)
		}
	}
	if quiet == 0 {
		t.Fatal("the rates never had a quiet minute")
	}
}
