package main

import (
	"strings"
	"testing"
	"time"
)

func TestPaneSites(t *testing.T) {
	pane := "skbtop vm · 6.18\n4,002 drops/s\n▌ Drop sites  2007 · by total\nDROP SITE  REASON\n"
	n, order, ok := paneSites(pane)
	if !ok || n != 2007 || order != "total" {
		t.Errorf("paneSites = %d, %q, %v; want 2007, \"total\", true", n, order, ok)
	}
	if _, _, ok := paneSites("loading...\n"); ok {
		t.Error("paneSites found a title in a pane without one")
	}
	for _, c := range []struct{ from, to string }{{"rate", "total"}, {"total", "name"}, {"name", "rate"}} {
		if got := nextOrder(c.from); got != c.to {
			t.Errorf("nextOrder(%q) = %q, want %q", c.from, got, c.to)
		}
	}
}

// TestScaleCrowded checks that a trial with many sites from elsewhere is
// named and left out of the figures and the target line.
func TestScaleCrowded(t *testing.T) {
	run := func(config string, trial, sites int, cpu time.Duration) scaleRun {
		return scaleRun{Config: config, Trial: trial, Sites: sites, Refreshes: 10, CPU: 10 * cpu,
			Ready: 200 * time.Millisecond, AllShown: time.Second}
	}
	s := &scaleResult{Namespaces: 1000, Interfaces: 2000, Rate: 4000, Interval: time.Second, Trials: 2, Runs: []scaleRun{
		run(scaleHeadless, 1, 2010, 80*time.Millisecond),
		run(scaleHeadless, 2, 4563, 147*time.Millisecond),
		run(scaleTUI, 1, 2000, 90*time.Millisecond),
		run(scaleTUI, 2, 2099, 95*time.Millisecond),
	}}
	sec := scaleSection(s)
	for _, want := range []string{
		"| skbtop --json | 80.0 | 2010 |",
		"| skbtop TUI (tmux 120x40) | 92.5 (90.0–95.0) | 2050 (2000–2099) |",
		"Left out as crowded, because drops elsewhere on the host added more than 5% to the 2000 sites of the fleet: skbtop --json trial 2 (4563 sites, 147 ms per refresh).",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("scale section lacks %q:\n%s", want, sec)
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	if got, want := scaleTargets(s, verdict), "missed — at most 80.0 ms headless, 95.0 ms in the live view"; !strings.Contains(got, want) {
		t.Errorf("scale targets:\n%s\nwant them to contain %q", got, want)
	}
}
