package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/ui"
)

// errNoTerminal says the live view was asked for without a terminal.
var errNoTerminal = errors.New("the live view needs a terminal: use --once or --json to write to a pipe or file")

// runTUI runs the live view until the user quits or a signal cancels ctx.
// The terminal is restored before it returns, so main can print its error.
func runTUI(ctx context.Context, mon *monitor, o options) error {
	// The live view's hides live in the user's configuration; --hide
	// adds to them for this run.
	hidesPath, hides, err := liveHides()
	if err != nil {
		return err
	}
	return ui.Run(ctx, liveSource{mon}, ui.Options{
		Hides:       append(hides, o.hides...),
		HidesPath:   hidesPath,
		Interval:    o.interval,
		SnapshotDir: o.snapshotDir,
		Filter:      o.filter,
		Group:       o.group,
		HasFunction: mon.hasFunction,
		// https://no-color.org: set and not empty.
		NoColor: os.Getenv("NO_COLOR") != "",
	})
}

// liveHides reads the hides the live view saved ('W'): from
// $XDG_CONFIG_HOME/skbtop/hides, or ~/.config/skbtop/hides. Without a
// configuration directory the view runs without saved hides and cannot
// save them.
func liveHides() (path string, hides []drops.Hide, err error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", nil, nil
	}
	path = filepath.Join(dir, "skbtop", "hides")
	hides, err = drops.LoadHides(path)
	return path, hides, err
}

// liveSource is the monitor as the live view reads it. A failure to read
// the tracer (errTracer) means the counts are gone: it is marked ui.Fatal,
// so the view quits and runTUI returns it for main to print, rather than
// showing a frozen picture under a status message. Anything else is shown
// on the status line and the next refresh tries again.
type liveSource struct{ ui.Source }

// Snapshot reads the source, marking tracer failures fatal.
func (s liveSource) Snapshot() (drops.Snapshot, error) {
	snap, err := s.Source.Snapshot()
	if errors.Is(err, errTracer) {
		err = ui.Fatal(err)
	}
	return snap, err
}

// Stacks collects the kernel stacks of a row's drops ('t'), when the
// source is the monitor.
func (s liveSource) Stacks(ctx context.Context, site drops.Site, d time.Duration) (drops.StackReport, error) {
	mon, ok := s.Source.(*monitor)
	if !ok {
		return drops.StackReport{}, errors.New("kernel stacks cannot be collected from this source")
	}
	return mon.Stacks(ctx, site, d)
}

// needTerminal checks, before anything is loaded, that the live view has a
// terminal to draw on and read keys from.
func needTerminal() error {
	for _, f := range []*os.File{os.Stdin, os.Stdout} {
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
			return errNoTerminal
		}
	}
	return nil
}
