package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/skbtop/skbtop/internal/netlab"
)

// scenario is one load and the configurations that watch it.
type scenario struct {
	Name, Title string
	// Pairs is the number of veth pairs the load spreads over (default 1).
	Pairs   int
	Load    netlab.GenConfig
	Reasons reasonSet
	Configs []config
	// Once runs a single trial whatever -trials says.
	Once bool
}

type bencher struct {
	ctx context.Context
	out io.Writer
}

// runScenario runs every configuration of sc trials times, interleaved: trial
// t starts with configuration t (mod n), so no configuration always runs
// first or right after a particular other one.
func (b *bencher) runScenario(sc scenario, trials int) ([]result, error) {
	g, err := netlab.NewGenerator(max(1, sc.Pairs))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	defer g.Close()
	fmt.Fprintf(b.out, "== %s: %s\n", sc.Name, sc.Title)
	// Warm up the path (page cache, slab, neighbour entries) untimed.
	warm := sc.Load
	warm.Count, warm.Duration = 0, 300*time.Millisecond
	if _, err := g.Run(b.ctx, warm); err != nil {
		return nil, err
	}
	if sc.Once {
		trials = 1
	}
	skipped := map[string]string{}
	var results []result
	for t := range trials {
		for i := range sc.Configs {
			c := sc.Configs[(i+t)%len(sc.Configs)]
			if why := skipped[c.Name]; why != "" {
				results = append(results, result{Scenario: sc.Name, Config: c.Name, Trial: t + 1, Skipped: why})
				continue
			}
			r := b.runOne(g, sc, c, t+1)
			if b.ctx.Err() != nil {
				return results, b.ctx.Err()
			}
			if r.Skipped != "" {
				skipped[c.Name] = r.Skipped
				fmt.Fprintf(b.out, "   %-26s skipped: %s\n", c.Name, r.Skipped)
			} else {
				b.progress(r)
			}
			results = append(results, r)
		}
	}
	return results, nil
}

func (b *bencher) progress(r result) {
	if r.Err != nil {
		fmt.Fprintf(b.out, "   %-26s trial %d: error: %v\n", r.Config, r.Trial, r.Err)
		return
	}
	cnt := "-"
	if r.Obs.Counted >= 0 {
		cnt = fmt.Sprintf("%d (error %+.0f)", r.Obs.Counted, r.countError())
	}
	fmt.Fprintf(b.out, "   %-26s trial %d: truth %d, counted %s, %.0f drops/s, cpu %.2f%%, rss %.1f MiB, ready %s\n",
		r.Config, r.Trial, r.Truth, cnt, r.Rate, r.CPU, float64(r.RSS)/(1<<20), fmtDur(r.Ready))
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return d.Round(time.Millisecond).String()
}

// runOne starts the monitor, runs the load, and measures.
func (b *bencher) runOne(g *netlab.Generator, sc scenario, c config, trial int) result {
	r := result{Scenario: sc.Name, Config: c.Name, Trial: trial, CPU: math.NaN(), Ready: -1}
	var m monitor
	if c.Start != nil {
		var err error
		m, err = c.Start(b.ctx, g.Receiver.Path, sc.Reasons)
		if startFailed(err, &r.Skipped, &r.Err) {
			return r
		}
		r.Ready = m.Ready()
	}
	before, err := g.Drops()
	if err != nil {
		r.Err = err
		return r
	}
	var cpu0 time.Duration
	if m != nil {
		cpu0, _ = processCPU(m.PID())
	}
	start := time.Now()
	if m != nil {
		m.LoadStarted(start)
	}
	res, err := g.Run(b.ctx, sc.Load)
	end := time.Now()
	if m != nil {
		if cpu1, err := processCPU(m.PID()); err == nil {
			r.CPU = 100 * (cpu1 - cpu0).Seconds() / end.Sub(start).Seconds()
		}
	}
	after, derr := g.Drops()
	r.Elapsed = res.Elapsed
	r.Err = errors.Join(err, derr)
	r.Truth = after.Sub(before).Total()
	if res.Elapsed > 0 {
		r.Rate = float64(r.Truth) / res.Elapsed.Seconds()
	}
	if m == nil {
		r.Obs = observed{Counted: -1, Lost: -1, Suppressed: -1, Overflow: -1, TermBps: -1}
		return r
	}
	serr := m.Settle(b.ctx, end)
	r.RSS, _ = peakRSS(m.PID())
	obs, err := m.Stop()
	r.Obs = obs
	r.Err = errors.Join(r.Err, serr, err)
	return r
}
