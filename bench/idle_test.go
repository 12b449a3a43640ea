package main

import (
	"strings"
	"testing"
	"time"
)

// TestIdleReport checks the idle table and that each mode's target line
// judges its worst trial.
func TestIdleReport(t *testing.T) {
	head := func(trial int, cpu time.Duration) idleRun {
		return idleRun{Config: idleHeadless, Trial: trial, Truth: 16384, Counted: 16384, Sites: 16384,
			CPU: cpu, Window: 15 * time.Second, LineBytes: []float64{400, 402}, TermBytes: -1, RSS: 50 << 20}
	}
	tui := func(trial int, cpu time.Duration) idleRun {
		return idleRun{Config: idleTUI, Trial: trial, Truth: 16384, Counted: -1, Sites: 16384,
			CPU: cpu, Window: 15 * time.Second, TermBytes: 1500, RSS: 60 << 20,
			Fade: 2 * cpu, FadeWindow: 15 * time.Second}
	}
	s := &idleResult{Sites: 16384, Types: 8192, Pairs: 2, Rate: 8192, Refreshes: 15, Interval: time.Second, Trials: 3,
		Runs: []idleRun{
			head(1, 150*time.Millisecond), tui(1, 4500*time.Millisecond),
			tui(2, 4800*time.Millisecond), head(2, 180*time.Millisecond),
			head(3, 330*time.Millisecond), {Config: idleTUI, Trial: 3, Err: errSkip},
		}}
	sec := idleSection(s)
	for _, want := range []string{
		"| skbtop --json | 16384 | +0 | 1.20 (1.00–2.20) | n/a | 401 (400–402) | n/a | 50.0 |",
		"| skbtop TUI (tmux 120x40) (1 runs failed) | 16384 | n/a | 31.00 (30.00–32.00) | 62.00 (60.00–64.00) | n/a | 100 | 60.0 |",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("idle section lacks %q:\n%s", want, sec)
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	got := idleTargets(s, verdict)
	for _, want := range []string{
		"- idle CPU <= 2% of a core holding 16384 sites, skbtop --json: missed — median 1.20%, at most 2.20% over 3 trials; idle NDJSON lines of 401 bytes\n",
		"- idle CPU <= 2% of a core holding 16384 sites, live view: missed — median 31.00%, at most 32.00% over 2 trials\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("idle targets:\n%s\nwant them to contain %q", got, want)
		}
	}
}
