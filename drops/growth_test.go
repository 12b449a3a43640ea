package drops

import (
	"math/rand/v2"
	"testing"
)

// grown feeds snapshot s to g and returns what each row grew by.
func grown(g *Growth, s Snapshot) (map[Row]uint64, Totals) {
	out := map[Row]uint64{}
	t := g.Next(s, func(site Site, d uint64) {
		if _, dup := out[site.Row()]; dup {
			panic("row listed twice")
		}
		out[site.Row()] = d
	})
	return out, t
}

// TestGrowthAcrossReset: after a reset the window's counts restart, and a
// count that is already above the last one seen is still all new: only the
// window's start tells a reset apart, not the counts going down.
func TestGrowthAcrossReset(t *testing.T) {
	a := newAgg()
	var g Growth
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 100}))
	if got, tot := grown(&g, a.Snapshot()); len(got) != 0 || tot.Drops != 0 {
		t.Fatalf("baseline grew %v, %+v", got, tot)
	}
	a.Update(reading(1, Health{Lost: 2}, Count{Key: udp, Packets: 110}))
	got, tot := grown(&g, a.Snapshot())
	row := Row{Key: udp}
	if got[row] != 10 || tot.Drops != 10 || tot.SamplesLost != 2 {
		t.Fatalf("first interval: %v, %+v; want udp 10, drops 10, lost 2", got, tot)
	}
	a.Reset()
	// 15 more after the reset: the window says 15, above the 10 seen.
	a.Update(reading(2, Health{Lost: 5}, Count{Key: udp, Packets: 125}))
	got, tot = grown(&g, a.Snapshot())
	if got[row] != 15 || tot.Drops != 15 || tot.SamplesLost != 3 {
		t.Fatalf("after reset: %v, %+v; want udp 15, drops 15, lost 3", got, tot)
	}
	// The same window again: only the difference.
	a.Update(reading(3, Health{Lost: 5}, Count{Key: udp, Packets: 126}))
	if got, tot = grown(&g, a.Snapshot()); got[row] != 1 || tot.Drops != 1 || tot.SamplesLost != 0 {
		t.Fatalf("same window: %v, %+v; want udp 1, drops 1, lost 0", got, tot)
	}
	// An idle snapshot (the aggregator's cached one) grows nothing.
	if got, tot = grown(&g, a.Snapshot()); len(got) != 0 || tot.Drops != 0 {
		t.Fatalf("idle: %v, %+v; want nothing", got, tot)
	}
}

// TestGrowthRetiredKeys: keys the tracer takes out of the kernel map and
// that come back counting from zero grow exactly by their drops.
func TestGrowthRetiredKeys(t *testing.T) {
	a := newAgg()
	var g Growth
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 10}))
	grown(&g, a.Snapshot())
	r := reading(1, Health{}, Count{Key: udp, Packets: 3})
	r.Retired = []Count{{Key: udp, Packets: 15}, {Key: nft, Packets: 4}}
	a.Update(r)
	got, _ := grown(&g, a.Snapshot())
	if got[Row{Key: udp}] != 8 || got[Row{Key: nft}] != 4 {
		t.Fatalf("retired: %v, want udp 8, nft 4", got)
	}
	// Gone from the kernel, then back from zero.
	a.Update(reading(2, Health{}))
	if got, _ = grown(&g, a.Snapshot()); len(got) != 0 {
		t.Fatalf("idle: %v", got)
	}
	a.Update(reading(3, Health{}, Count{Key: udp, Packets: 2}))
	if got, _ = grown(&g, a.Snapshot()); got[Row{Key: udp}] != 2 || len(got) != 1 {
		t.Fatalf("back: %v, want udp 2", got)
	}
}

// TestGrowthInterfaceLifetimes: an interface deleted and made again with
// the same index and name is another row; each grows by its own drops, and
// the old one's growth stops.
func TestGrowthInterfaceLifetimes(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 7}})
	var g Growth
	k := Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 5, Netns: 1, NetnsCookie: 7, L3: 0x0800, L4: 17}
	links := func(sec int, ls []Link, counts ...Count) Reading {
		r := reading(sec, Health{}, counts...)
		r.Links = ls
		return r
	}
	lo, veth := Link{Name: "lo", Index: 1}, Link{Name: "veth5", Index: 5}
	a.Update(links(0, []Link{lo, veth}))
	grown(&g, a.Snapshot())
	a.Update(links(1, []Link{lo, veth}, Count{Key: k, Packets: 30}))
	got, _ := grown(&g, a.Snapshot())
	old := Row{Key: k}
	if got[old] != 30 {
		t.Fatalf("first lifetime: %v", got)
	}
	a.Update(links(2, []Link{lo}, Count{Key: k, Packets: 30}))
	grown(&g, a.Snapshot())
	a.Update(links(3, []Link{lo, veth}, Count{Key: k, Packets: 37}))
	s := a.Snapshot()
	got, tot := grown(&g, s)
	young := Row{Key: k, Lifetime: 1}
	if got[young] != 7 || got[old] != 0 || tot.Drops != 7 {
		t.Fatalf("second lifetime: %v, %+v; want the new row 7, the old one nothing", got, tot)
	}
	for _, site := range s.Sites {
		if site.Row() == old && (!site.Gone || site.Interface != "veth5") {
			t.Errorf("old row %+v: want veth5, gone", site)
		}
	}
}

// TestGrowthOverflow: the [map full] site is a row of its own, and the
// health counters grow with it.
func TestGrowthOverflow(t *testing.T) {
	a := newAgg()
	var g Growth
	a.Update(reading(0, Health{OverflowPackets: 4, RecursionMisses: 1}))
	grown(&g, a.Snapshot())
	a.Update(reading(1, Health{OverflowPackets: 9, RecursionMisses: 3}, Count{Key: udp, Packets: 1}))
	got, tot := grown(&g, a.Snapshot())
	if got[Row{}] != 5 || got[Row{Key: udp}] != 1 || tot.Drops != 6 || tot.KeysOverflowed != 5 || tot.RecursionMisses != 2 {
		t.Fatalf("%v, %+v; want [map full] 5, udp 1, drops 6, overflowed 5, recursion 2", got, tot)
	}
}

// TestGrowthAddsUp drives the aggregator with a simulated kernel: random
// drops on random keys, keys retired and coming back, overflow, resets
// (after a snapshot, as the monitor does them), snapshots taken or skipped
// at random. Whatever happens, what Growth
// reports adds up, per key and in all, to exactly the drops made after the
// first reading.
func TestGrowthAddsUp(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		a := newAgg()
		var g Growth
		keys := make([]Key, 12)
		for i := range keys {
			keys[i] = Key{Location: 0xffffffff81000000 + uint64(i), Reason: 3, Ifindex: 2, Netns: 1, L3: 0x0800, L4: 17}
		}
		kernel := map[Key]uint64{}
		var overflow uint64
		truth := map[Row]uint64{}
		sum := map[Row]uint64{}
		var truthTotal, sumTotal uint64
		for step := range 300 {
			r := reading(step, Health{})
			for range rng.IntN(5) {
				k := keys[rng.IntN(len(keys))]
				n := uint64(rng.IntN(50))
				kernel[k] += n
				if step > 0 {
					truth[Row{Key: k}] += n
					truthTotal += n
				}
			}
			if rng.IntN(4) == 0 {
				n := uint64(rng.IntN(5))
				overflow += n
				if step > 0 {
					truth[Row{}] += n
					truthTotal += n
				}
			}
			for k, v := range kernel {
				if rng.IntN(6) == 0 {
					r.Retired = append(r.Retired, Count{Key: k, Packets: v})
					delete(kernel, k)
					continue
				}
				r.Counts = append(r.Counts, Count{Key: k, Packets: v})
			}
			r.Health.OverflowPackets = overflow
			a.Update(r)
			if step == 299 || rng.IntN(3) > 0 {
				got, tot := grown(&g, a.Snapshot())
				for row, d := range got {
					sum[row] += d
				}
				sumTotal += tot.Drops
				// A reset comes between the monitor's snapshots,
				// never between a reading and its snapshot.
				if rng.IntN(5) == 0 {
					a.Reset()
				}
			}
		}
		if sumTotal != truthTotal {
			t.Errorf("seed %d: totals grew by %d in all, want %d", seed, sumTotal, truthTotal)
		}
		for row, n := range truth {
			if sum[row] != n {
				t.Errorf("seed %d: row %+v grew by %d in all, want %d", seed, row, sum[row], n)
			}
		}
		if len(sum) > len(truth) {
			t.Errorf("seed %d: rows %v, want only %v", seed, sum, truth)
		}
	}
}
