package main

import (
	"context"
	"errors"
)

// runTUI runs the live view.
func runTUI(ctx context.Context, mon *monitor, o options) error {
	return errors.New("the live view is not built yet; use --once or --json")
}
