package main

import (
	"sync"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/tracer"
)

// monitor is the one source of snapshots for every output: it reads the
// tracer's cumulative counts into the aggregator and adds what the view must
// warn about. The TUI pulls from it once per tick, headless modes likewise.
type monitor struct {
	tr  *tracer.Tracer
	agg *drops.Aggregator
	// links reads interface and protocol counters; nil when they could not
	// be opened, and then only traced drops are shown.
	links       *counters.Reader
	tracker     *counters.Tracker
	allCounters bool

	mu       sync.Mutex
	warnings []string
}

func newMonitor(tr *tracer.Tracer, agg *drops.Aggregator, warnings []string) *monitor {
	return &monitor{tr: tr, agg: agg, warnings: warnings, tracker: counters.NewTracker()}
}

// openCounters starts reading the kernel's counters of the namespace at
// netnsPath ("" for skbtop's own). On failure skbtop runs on without them
// and says why.
func (m *monitor) openCounters(netnsPath string) {
	r, err := counters.Open(netnsPath)
	if err != nil {
		m.warn("interface counters unavailable: " + err.Error())
		return
	}
	m.links = r
}

// warn adds a warning every later snapshot carries.
func (m *monitor) warn(msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.warnings = append(m.warnings, msg)
}

// Close releases the counter reader.
func (m *monitor) Close() error {
	if m.links == nil {
		return nil
	}
	return m.links.Close()
}

// Snapshot reads the kernel's counts and counters and returns the
// unfiltered view. Only a failure to read the tracer is an error; a counter
// source that fails shows as a warning in the snapshot.
func (m *monitor) Snapshot() (drops.Snapshot, error) {
	r, err := m.tr.Read()
	if err != nil {
		return drops.Snapshot{}, err
	}
	m.agg.Update(r)
	snap := m.agg.Snapshot()
	m.mu.Lock()
	defer m.mu.Unlock()
	snap.Warnings = append(snap.Warnings, m.warnings...)
	if m.links != nil {
		// A nil reading keeps the tracker's previous values for that source.
		links, err := m.links.Links()
		if err != nil {
			snap.Warnings = append(snap.Warnings, "interface counters: "+err.Error())
		}
		stack, err := m.links.Stack()
		if err != nil {
			snap.Warnings = append(snap.Warnings, "protocol counters: "+err.Error())
		}
		m.tracker.Update(r.Time, links, stack)
		snap.SetCounters(m.tracker.Interfaces(m.links.Netns()), m.tracker.StackCounters(m.allCounters))
	}
	return snap, nil
}

// Reset restarts every count and counter delta at zero.
func (m *monitor) Reset() {
	m.agg.Reset()
	m.tracker.Reset()
}
