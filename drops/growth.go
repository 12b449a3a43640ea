package drops

import "time"

// Row names a site's row across snapshots: its kernel key during one
// lifetime of its interface. A row's Count only grows within a window, and
// its labels (the interface's or namespace's name) may be learnt later, so
// sinks that keep their own running totals follow rows, not labels. The
// overflow site ([map full]) is the row of the zero Key: no kernel key has
// location 0.
type Row struct {
	Key      Key
	Lifetime uint32
}

// Row returns the site's row.
func (s Site) Row() Row { return Row{s.Key, s.Lifetime} }

// Growth turns consecutive snapshots into how much each row and each of the
// tracer's health counters grew between them, for sinks that keep running
// totals across resets (metrics): a snapshot's counts cover its window,
// which restarts at the live view's reset ('c'), and its rows come and go
// as keys are retired from the kernel's map and interfaces are deleted and
// made again.
//
// The rule: two snapshots with the same Start count from the same moment,
// so a row grew by the difference of its counts (a row missing from the
// earlier one had 0). A snapshot with another Start began a new window
// after the earlier one was taken: everything it counts is new. Snapshots
// may be skipped, but not across a Reset: what a window counted after the
// last snapshot Growth saw of it is gone with the window. So nothing is
// counted twice or lost provided that every reading reaches Growth in a
// snapshot before the next Reset (the monitor takes the snapshot with the
// reading and feeds it to the sinks under the lock Reset takes).
//
// The zero Growth is ready to use; it is not safe for concurrent use.
type Growth struct {
	start   time.Time
	started bool
	// last is each row's count in the previous snapshot, and the number
	// of that snapshot; rows it did not list are absent (their count was
	// 0: a row only leaves a snapshot when nothing dropped there in its
	// window).
	last  map[Row]rowCount
	epoch uint64
	// totals are the previous snapshot's health counters.
	totals Totals
}

type rowCount struct{ count, epoch uint64 }

// Next reads snapshot s, which must be later than the one before it,
// calling fn with each site that grew since the previous snapshot and by
// how much, and returns how much the totals' counters grew (Drops, Bytes,
// SamplesLost, SamplesSuppressed, KeysOverflowed, RecursionMisses; the
// levels Keys and MaxKeys and the Rate are s's own). The first snapshot is
// compared with nothing: all it counts is growth.
func (g *Growth) Next(s Snapshot, fn func(site Site, grew uint64)) Totals {
	same := g.started && s.Start.Equal(g.start)
	if g.last == nil {
		g.last = make(map[Row]rowCount, len(s.Sites))
	}
	if !same {
		clear(g.last)
		g.totals = Totals{}
	}
	g.epoch++
	for _, site := range s.Sites {
		row := site.Row()
		if d := grew(site.Count, g.last[row].count); d > 0 {
			fn(site, d)
		}
		g.last[row] = rowCount{site.Count, g.epoch}
	}
	// A row missing from s had nothing in the window: forget it, so that
	// the map holds only the rows of the window's last snapshot.
	if len(g.last) > len(s.Sites) {
		for row, c := range g.last {
			if c.epoch != g.epoch {
				delete(g.last, row)
			}
		}
	}
	t := s.Totals
	out := Totals{
		Drops:             grew(t.Drops, g.totals.Drops),
		Bytes:             grew(t.Bytes, g.totals.Bytes),
		Rate:              t.Rate,
		SamplesLost:       grew(t.SamplesLost, g.totals.SamplesLost),
		SamplesSuppressed: grew(t.SamplesSuppressed, g.totals.SamplesSuppressed),
		KeysOverflowed:    grew(t.KeysOverflowed, g.totals.KeysOverflowed),
		RecursionMisses:   grew(t.RecursionMisses, g.totals.RecursionMisses),
		Keys:              t.Keys,
		MaxKeys:           t.MaxKeys,
	}
	g.totals, g.start, g.started = t, s.Start, true
	return out
}
