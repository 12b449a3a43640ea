package counters

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skbtop/skbtop/drops"
)

// TestNamedFromCache checks when Links may name an RTM_GETSTATS dump from
// its cache: only when the dump has exactly the cached ifindexes, each
// once. Anything else must send it to an RTM_GETLINK dump.
func TestNamedFromCache(t *testing.T) {
	c := func(v uint64) drops.LinkCounters {
		return drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: v})
	}
	stats := func(idx ...uint32) []LinkStats {
		var out []LinkStats
		for _, i := range idx {
			out = append(out, LinkStats{Index: i, Counters: c(uint64(i) * 10)})
		}
		return out
	}
	r := &Reader{names: map[uint32]cachedName{1: {name: "lo"}, 5: {name: "eth0"}, 9: {name: "veth9"}}}
	for _, tc := range []struct {
		name  string
		stats []LinkStats
		ok    bool
	}{
		{"same set", stats(1, 5, 9), true},
		{"same set in another order", stats(9, 1, 5), true},
		{"again: the marks of the last dump do not count", stats(1, 5, 9), true},
		{"one created", stats(1, 5, 9, 12), false},
		{"one deleted", stats(1, 9), false},
		{"one replaced by a new ifindex", stats(1, 5, 12), false},
		{"one twice, one missing", stats(1, 5, 5), false},
		{"empty dump", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.named(tc.stats)
			if ok != tc.ok {
				t.Fatalf("named(%v) ok = %v, want %v", tc.stats, ok, tc.ok)
			}
			if !ok {
				if got != nil {
					t.Errorf("named returned %v with false", got)
				}
				return
			}
			var want []drops.Link
			for _, s := range tc.stats {
				want = append(want, drops.Link{Name: r.names[s.Index].name, Index: s.Index, Counters: s.Counters})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := (&Reader{}).named(nil); ok {
		t.Error("a reader that never dumped names named an empty dump")
	}
}
