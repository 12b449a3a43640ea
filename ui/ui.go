// Package ui is skbtop's live terminal view: a bubbletea model that pulls one
// drops.Snapshot per refresh tick from a Source and shows where the kernel
// drops packets, how fast, on which interface and of what protocol. It sees
// plain Go types only: no BPF, no netlink.
package ui

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/skbtop/skbtop/drops"
)

// Source is what the model pulls once per refresh tick.
type Source interface {
	// Snapshot returns the full, unfiltered view, its sites sorted by rate
	// (drops.SortSites with drops.ByRate) as the aggregator returns them;
	// the model applies its filter with Snapshot.Filtered. An error wrapped with Fatal ends the
	// program; any other error is shown on the status line and the model
	// keeps the data it had.
	Snapshot() (drops.Snapshot, error)
	// Reset makes counts start from now ('c').
	Reset()
}

// StackSource is a Source that can collect the kernel stacks of a row's
// drops ('t' in the detail): for d, or until ctx is done.
type StackSource interface {
	Stacks(ctx context.Context, site drops.Site, d time.Duration) (drops.StackReport, error)
}

// StackDuration is how long 't' collects stacks.
const StackDuration = 3 * time.Second

// Options configure the UI.
type Options struct {
	// Interval is the refresh tick, 1s when zero.
	Interval time.Duration
	// SnapshotDir is where 's' writes snapshot files and 'w' pcap-ng
	// files, "." when empty.
	SnapshotDir string
	// Filter is the initial filter, from the --iface and --symbol flags.
	Filter drops.Filter
	// Hides are the hide rules in force at start: the saved ones and
	// --hide's.
	Hides []drops.Hide
	// HidesPath is where 'W' saves the hide rules; "" when they cannot
	// be saved.
	HidesPath string
	// Group is the initial grouping of the drop sites (--group).
	Group drops.Grouping
	// HasFunction says whether a kernel function's name contains a text,
	// for the header to say when a symbol filter can match nothing; nil
	// when the kernel's symbols are not known.
	HasFunction func(substr string) bool
	// Now is the clock, time.Now when nil; tests inject their own.
	Now func() time.Time
	// NoColor draws with attributes only (bold, faint, reverse), for a
	// NO_COLOR environment; the caller reads the environment.
	NoColor bool
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.SnapshotDir == "" {
		o.SnapshotDir = "."
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fatal marks a Source error as fatal: the model stores it and quits, and
// Run returns it once the terminal is restored.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// isFatal reports whether err was marked with Fatal, returning the
// underlying error.
func isFatal(err error) (error, bool) {
	var fe fatalError
	if errors.As(err, &fe) {
		return fe.err, true
	}
	return nil, false
}

// panicError turns a recovered panic into an error that carries the stack.
func panicError(r any) error {
	return fmt.Errorf("ui: panic: %v\n%s", r, debug.Stack())
}

// Run runs the TUI in the alternate screen until the user quits or ctx is
// done. The terminal is restored in every case, including a panic. It
// returns the fatal error the model stored, if any (a Source failing hard,
// a panic in the Source, with its stack), or an error wrapping
// tea.ErrProgramPanic for a panic in the model, which bubbletea has printed
// once the terminal was restored; quitting and ctx being cancelled return
// nil.
func Run(ctx context.Context, src Source, opts Options) error {
	return run(ctx, New(src, opts))
}

// maxFPS is the most frames a second the live view draws.
const maxFPS = 20

// run is Run for a model, with extra program options, which tests use to
// replace the terminal.
func run(ctx context.Context, m Model, extra ...tea.ProgramOption) error {
	// bubbletea's own signal handler stays on: main cancels ctx on
	// SIGINT/SIGTERM/SIGHUP, and this keeps SIGTERM graceful even if it
	// does not.
	// 20 frames a second at most, not bubbletea's 60: the view changes
	// once a refresh and on keys, and each frame tick wakes the process
	// (at 60 the ticks and the runtime's wake-ups were most of the idle
	// live view's CPU). A key shows within 50 ms.
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(maxFPS)}, extra...)...)
	final, runErr := p.Run()
	if fm, ok := final.(Model); ok && fm.fatal != nil {
		return fm.fatal
	}
	switch {
	case runErr == nil:
		return nil
	case errors.Is(runErr, tea.ErrInterrupted):
		return nil
	case errors.Is(runErr, tea.ErrProgramPanic):
		return fmt.Errorf("ui: %w", runErr)
	case errors.Is(runErr, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil
	}
	return fmt.Errorf("ui: %w", runErr)
}
