package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// trialConfig is one of the configurations a scenario compares: its name,
// and run, which measures it once (trial counts from 1).
type trialConfig[R any] struct {
	name string
	run  func(trial int) R
}

// runTrials runs every config once per trial, starting each trial one
// config further on so that none always runs first, and appends the runs
// to *runs. A config whose run says it was skipped (skippedOf) is not run
// again: its later trials are recorded with skip(name, trial, why). Each
// run is reported on out with progress. It stops with ctx's error when ctx
// is done, without recording the run it interrupted.
func runTrials[R any](ctx context.Context, out io.Writer, trials int, configs []trialConfig[R], runs *[]R,
	skippedOf func(R) string, skip func(config string, trial int, why string) R, progress func(R)) error {
	skipped := map[string]string{}
	for t := range trials {
		for i := range configs {
			c := configs[(i+t)%len(configs)]
			if why := skipped[c.name]; why != "" {
				*runs = append(*runs, skip(c.name, t+1, why))
				continue
			}
			r := c.run(t + 1)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if why := skippedOf(r); why != "" {
				skipped[c.name] = why
				fmt.Fprintf(out, "   %-26s skipped: %s\n", c.name, why)
			} else {
				progress(r)
			}
			*runs = append(*runs, r)
		}
	}
	return nil
}

// startFailed records err, a monitor's failure to start, in a run: as why
// it was skipped when the monitor cannot run here (errSkip), otherwise as
// its error. It says whether there was such a failure.
func startFailed(err error, skipped *string, runErr *error) bool {
	switch {
	case errors.Is(err, errSkip):
		*skipped = err.Error()
	case err != nil:
		*runErr = err
	}
	return err != nil
}

// cpuOver waits d and returns the CPU time (user and system) process pid used
// meanwhile and how long the wait took, or ctx's error when it ends first.
func cpuOver(ctx context.Context, pid int, d time.Duration) (cpu, window time.Duration, err error) {
	cpu0, err := processCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	cpu1, err := processCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	return cpu1 - cpu0, time.Since(t0), nil
}
