package main

import (
	"context"

	"github.com/skbtop/skbtop/ui"
)

// runTUI runs the live view until the user quits or a signal cancels ctx.
// The terminal is restored before it returns, so main can print its error.
func runTUI(ctx context.Context, mon *monitor, o options) error {
	return ui.Run(ctx, mon, ui.Options{
		Interval:    o.interval,
		SnapshotDir: o.snapshotDir,
		Filter:      o.filter,
	})
}
