package main

import (
	"sync"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/symbols"
	"github.com/skbtop/skbtop/tracer"
)

// monitor is the one source of snapshots for every output: it reads the
// tracer's cumulative counts into the aggregator and adds what the view must
// warn about. The TUI pulls from it once per tick, headless modes likewise.
type monitor struct {
	tr  *tracer.Tracer
	agg *drops.Aggregator

	mu       sync.Mutex
	warnings []string
}

func newMonitor(tr *tracer.Tracer, agg *drops.Aggregator, warnings []string) *monitor {
	return &monitor{tr: tr, agg: agg, warnings: warnings}
}

// Snapshot reads the kernel's counters and returns the unfiltered view.
func (m *monitor) Snapshot() (drops.Snapshot, error) {
	r, err := m.tr.Read()
	if err != nil {
		return drops.Snapshot{}, err
	}
	m.agg.Update(r)
	snap := m.agg.Snapshot()
	m.mu.Lock()
	snap.Warnings = append(snap.Warnings, m.warnings...)
	m.mu.Unlock()
	return snap, nil
}

// Reset restarts every count at zero.
func (m *monitor) Reset() {
	m.agg.Reset()
}

// resolver names kernel numbers: kallsyms for addresses, the kernel's enum
// for reasons, and the tracer's record of devices for interfaces.
type resolver struct {
	syms    *symbols.Kallsyms // nil when kallsyms could not be read
	reasons *symbols.Reasons  // nil when reason names could not be loaded
	tracer  *tracer.Tracer
}

func (r *resolver) Locate(addr uint64) (drops.Location, bool) {
	loc := drops.Location{Address: addr}
	if r.syms == nil {
		return loc, false
	}
	sym, off, ok := r.syms.Lookup(addr)
	if !ok {
		return loc, false
	}
	loc.Function, loc.Offset, loc.Module = sym.Name, off, sym.Module
	return loc, true
}

func (r *resolver) Reason(code uint32) string { return r.reasons.Name(code) }

func (r *resolver) Interface(netns, ifindex uint32) string {
	return r.tracer.Interface(netns, ifindex)
}
