package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/netlab"
)

// idleConfig sizes the idle scenario: skbtop holding many sites after the
// drops stopped.
type idleConfig struct {
	// Sites is how many distinct keys the load makes, each dropped once:
	// Sites/idlePairs ethertypes on each of idlePairs veth pairs.
	Sites int
	// Rate is frames per second while the sites are made. Well below
	// skbtop's --max-keys a second, so that with its default the kernel
	// map (which holds the keys of one interval) never fills.
	Rate int
	// Refreshes is how many refreshes of no drops each trial measures.
	Refreshes int
	Trials    int
}

const (
	idleHeadless = "skbtop --json"
	idleTUI      = "skbtop TUI (tmux 120x40)"
	// idleInterval is skbtop's refresh interval in the idle scenario.
	idleInterval = time.Second
	// idlePairs is the veth pairs the load spreads its ethertypes over.
	idlePairs = 2
	// idleBudget is the target CPU while nothing drops, % of one core.
	idleBudget = 2.0
)

// idleRun is one trial of one way of running skbtop in the idle scenario.
type idleRun struct {
	Config string
	Trial  int
	// Truth is the drops the receiver's counters saw; Counted skbtop's
	// count of them in its last NDJSON line (headless; -1 for the live
	// view).
	Truth   uint64
	Counted int64
	// Sites is how many sites skbtop listed: distinct sites over its
	// NDJSON lines (headless), the live view's site count.
	Sites int
	// CPU is skbtop's CPU time over Window, the idle stretch.
	CPU    time.Duration
	Window time.Duration
	// Fade is the live view's CPU time over FadeWindow, as many
	// refreshes right after the drops stopped, while the sparklines
	// still move; the idle stretch (CPU) begins once they are flat, a
	// minute after the last drop. Zero for headless, which draws none.
	Fade, FadeWindow time.Duration
	// LineBytes are the lengths of the NDJSON lines written during the
	// idle stretch (headless), newlines included.
	LineBytes []float64
	// TermBytes is what the live view wrote to its terminal during the
	// idle stretch; -1 for headless.
	TermBytes int64
	RSS       uint64
	Skipped   string
	Err       error
}

// cpuPercent is the idle CPU in % of one core.
func (r idleRun) cpuPercent() float64 {
	return 100 * r.CPU.Seconds() / r.Window.Seconds()
}

// fadePercent is the CPU in the minute after the drops, in % of one core.
func (r idleRun) fadePercent() float64 {
	return 100 * r.Fade.Seconds() / r.FadeWindow.Seconds()
}

// idleResult is the idle scenario: its load and every run.
type idleResult struct {
	Sites, Types, Pairs int
	Rate                int
	Refreshes           int
	Interval            time.Duration
	Trials              int
	Runs                []idleRun
	// LoadBefore and LoadAfter are the host's 1-minute load averages
	// when the scenario started and ended.
	LoadBefore, LoadAfter string
}

// measured returns the successful runs of config.
func (s *idleResult) measured(config string) []idleRun {
	var out []idleRun
	for _, r := range s.Runs {
		if r.Config == config && r.Err == nil && r.Skipped == "" {
			out = append(out, r)
		}
	}
	return out
}

// runIdle makes skbtop, headless and in the live view, hold ic.Sites sites
// in a namespace of the generator's, then stops the drops and measures its
// CPU over ic.Refreshes refreshes in which nothing drops.
func runIdle(ctx context.Context, out io.Writer, bin, dir string, ic idleConfig) (res *idleResult, err error) {
	types, err := netlab.UnhandledEthertypes()
	if err != nil {
		return nil, err
	}
	n := ic.Sites / idlePairs
	if n > len(types) {
		return nil, fmt.Errorf("idle: %d sites need %d unhandled ethertypes on %d pairs, the kernel leaves %d", ic.Sites, n, idlePairs, len(types))
	}
	res = &idleResult{Sites: n * idlePairs, Types: n, Pairs: idlePairs, Rate: ic.Rate, Refreshes: ic.Refreshes,
		Interval: idleInterval, Trials: ic.Trials}
	fmt.Fprintf(out, "== idle: %d sites (%d ethertypes x %d veth pairs) made at %d/s, then %d refreshes without drops\n",
		res.Sites, n, idlePairs, ic.Rate, ic.Refreshes)
	res.LoadBefore = loadAverage()
	defer func() { res.LoadAfter = loadAverage() }()
	g, err := netlab.NewGenerator(idlePairs)
	if err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	defer g.Close()
	load := netlab.GenConfig{Kind: netlab.Frames, Ethertypes: types[:n], Count: uint64(res.Sites), Rate: ic.Rate}

	configs := []trialConfig[idleRun]{
		{idleHeadless, func(trial int) idleRun { return idleHeadlessRun(ctx, bin, g, load, res, trial) }},
		{idleTUI, func(trial int) idleRun { return idleTUIRun(ctx, bin, dir, g, load, res, trial) }},
	}
	err = runTrials(ctx, out, ic.Trials, configs, &res.Runs,
		func(r idleRun) string { return r.Skipped },
		func(config string, trial int, why string) idleRun {
			return idleRun{Config: config, Trial: trial, Skipped: why}
		},
		func(r idleRun) { idleProgress(out, r) })
	return res, err
}

func idleProgress(out io.Writer, r idleRun) {
	if r.Err != nil {
		fmt.Fprintf(out, "   %-26s trial %d: error: %v\n", r.Config, r.Trial, r.Err)
		return
	}
	o := ""
	if len(r.LineBytes) > 0 {
		o = fmt.Sprintf(", idle NDJSON line %.0f bytes (median)", summarize(r.LineBytes).Median)
	}
	if r.TermBytes >= 0 {
		o = fmt.Sprintf(", %d bytes to the terminal", r.TermBytes)
	}
	fmt.Fprintf(out, "   %-26s trial %d: %d sites, idle cpu %.2f%% (%s over %s)%s, rss %.1f MiB\n",
		r.Config, r.Trial, r.Sites, r.cpuPercent(), r.CPU, r.Window.Round(time.Millisecond), o, float64(r.RSS)/(1<<20))
}

// makeSites runs the load and returns the drops the receiver counted and
// when the load ended.
func makeSites(ctx context.Context, g *netlab.Generator, load netlab.GenConfig) (uint64, time.Time, error) {
	before, err := g.Drops()
	if err != nil {
		return 0, time.Time{}, err
	}
	_, err = g.Run(ctx, load)
	end := time.Now()
	after, derr := g.Drops()
	if err = errors.Join(err, derr); err != nil {
		return 0, end, err
	}
	return after.Sub(before).Total(), end, nil
}

// siteID is what tells sites apart in skbtop's JSON: the fields of the
// kernel's key.
type siteID struct {
	Address     string
	Reason      uint32
	Ifindex     uint32
	Netns       uint32
	NetnsCookie uint64
	L3, L4      string
}

func idOf(s drops.Site) siteID {
	return siteID{s.Address, uint32(s.ReasonCode), s.Ifindex, s.Netns, s.NetnsCookie, s.L3, s.L4}
}

// idleHeadlessRun runs `skbtop --json --interval 1s --netns RECEIVER`,
// makes the sites, and reads NDJSON lines until one covers the whole load
// and one more refresh has passed; then it measures skbtop's CPU over
// res.Refreshes lines, from just after a line to just after the last.
// Each line after the first lists the sites that dropped in its interval,
// so the sites skbtop holds are the distinct sites over all lines.
func idleHeadlessRun(ctx context.Context, bin string, g *netlab.Generator, load netlab.GenConfig, res *idleResult, trial int) idleRun {
	r := idleRun{Config: idleHeadless, Trial: trial, TermBytes: -1, Counted: -1}
	m, err := startHeadless(bin, "--interval", res.Interval.String())(ctx, g.Receiver.Path, nil)
	if err != nil {
		r.Err = err
		return r
	}
	h := m.(*headless)
	defer func() {
		_, err := h.Stop()
		r.Err = errors.Join(r.Err, err)
	}()
	seen := map[siteID]bool{}
	wait := 2*res.Interval + 5*time.Second
	next := func() (drops.Snapshot, error) {
		s, _, err := h.next(ctx, wait)
		for _, site := range s.Sites {
			seen[idOf(site)] = true
		}
		return s, err
	}
	type made struct {
		truth uint64
		end   time.Time
		err   error
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan made, 1)
	go func() {
		var m made
		m.truth, m.end, m.err = makeSites(loadCtx, g, load)
		loadDone <- m
	}()
	// Lines are read while the load runs, as they come.
	var end time.Time
	for running := true; running; {
		select {
		case m := <-loadDone:
			if m.err != nil {
				r.Err = m.err
				return r
			}
			r.Truth, end, running = m.truth, m.end, false
		case l, ok := <-h.lines:
			if !ok {
				stopLoad()
				<-loadDone
				r.Err = errors.New("skbtop stopped writing snapshots")
				return r
			}
			h.last, h.lastSize = l.snap, l.size
			for _, site := range l.snap.Sites {
				seen[idOf(site)] = true
			}
		}
	}
	// The first line stamped after the load ended holds all of it; the
	// one after it is the first refresh of no drops.
	for {
		s, err := next()
		if err != nil {
			r.Err = err
			return r
		}
		if s.Time.After(end) {
			break
		}
	}
	if _, err := next(); err != nil {
		r.Err = err
		return r
	}
	held := len(seen)
	cpu0, err := processCPU(h.PID())
	if err != nil {
		r.Err = err
		return r
	}
	t0 := time.Now()
	var active int
	for range res.Refreshes {
		s, err := next()
		if err != nil {
			r.Err = err
			return r
		}
		active += len(s.Sites)
		r.LineBytes = append(r.LineBytes, float64(h.lastSize))
	}
	cpu1, err := processCPU(h.PID())
	if err != nil {
		r.Err = err
		return r
	}
	r.CPU, r.Window = cpu1-cpu0, time.Since(t0)
	r.RSS, _ = peakRSS(h.PID())
	r.Sites, r.Counted = len(seen), int64(h.last.Totals.Drops)
	switch {
	case active > 0:
		r.Err = fmt.Errorf("the idle stretch was not idle: its lines list %d sites that dropped (%d new)", active, len(seen)-held)
	case r.Counted != int64(r.Truth):
		r.Err = fmt.Errorf("skbtop counted %d drops, the kernel's counters %d", r.Counted, r.Truth)
	case r.Sites < res.Sites:
		r.Err = fmt.Errorf("skbtop listed %d sites, want %d", r.Sites, res.Sites)
	}
	return r
}

// idleTUIRun runs the live view over the receiver namespace in tmux, makes
// the sites, waits until the pane lists them all and one more refresh has
// passed, then measures skbtop's CPU and what it wrote to the terminal
// over res.Refreshes intervals.
func idleTUIRun(ctx context.Context, bin, dir string, g *netlab.Generator, load netlab.GenConfig, res *idleResult, trial int) idleRun {
	r := idleRun{Config: idleTUI, Trial: trial, Counted: -1}
	m, err := startTUI(bin, dir, "--interval", res.Interval.String())(ctx, g.Receiver.Path, nil)
	if startFailed(err, &r.Skipped, &r.Err) {
		return r
	}
	u := m.(*tui)
	defer func() {
		_, err := u.Stop()
		r.Err = errors.Join(r.Err, err)
	}()
	r.Truth, _, err = makeSites(ctx, g, load)
	if err != nil {
		r.Err = err
		return r
	}
	if _, err := u.waitListed(ctx, res.Sites, time.Now().Add(3*res.Interval+10*time.Second)); err != nil {
		r.Err = err
		return r
	}
	// The frame that lists every site comes from the refresh that read
	// the last drops; start a quarter interval after the next refresh
	// (which retires their keys), as headless starts after its line.
	time.Sleep(res.Interval + res.Interval/4)

	stopped := time.Now()
	if r.Fade, r.FadeWindow, err = cpuOver(ctx, u.PID(), time.Duration(res.Refreshes)*res.Interval); err != nil {
		r.Err = err
		return r
	}
	// Every sparkline is flat a minute after the last drop.
	select {
	case <-time.After(time.Until(stopped.Add(drops.HistoryLen * res.Interval))):
	case <-ctx.Done():
		r.Err = ctx.Err()
		return r
	}

	term0, err := fileSize(u.typescript)
	if err != nil {
		r.Err = err
		return r
	}
	if r.CPU, r.Window, err = cpuOver(ctx, u.PID(), time.Duration(res.Refreshes)*res.Interval); err != nil {
		r.Err = err
		return r
	}
	term1, err := fileSize(u.typescript)
	if err != nil {
		r.Err = err
		return r
	}
	r.TermBytes = term1 - term0
	r.RSS, _ = peakRSS(u.PID())
	pane, err := u.capture()
	if err != nil {
		r.Err = err
		return r
	}
	n, _, ok := paneSites(pane)
	if !ok {
		r.Err = fmt.Errorf("no drop-site title in the pane: %s", firstLine(pane))
		return r
	}
	r.Sites = n
	if n < res.Sites {
		r.Err = fmt.Errorf("the live view lists %d sites after the idle stretch, want %d", n, res.Sites)
	}
	return r
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// idleSection is the idle scenario's table and how it was measured.
func idleSection(s *idleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## idle: %d sites held, then no drops\n\n", s.Sites)
	fmt.Fprintf(&b, "- load: %d frames, one per site: %d unhandled ethertypes on each of %d veth pairs, each frame dropped by the veth that receives it (UNHANDLED_PROTO), at %d/s; skbtop's kernel map holds the keys of one interval (default `--max-keys` 16384), so it never fills, and skbtop keeps each site as a row after its key is retired\n",
		s.Sites, s.Types, s.Pairs, s.Rate)
	fmt.Fprintf(&b, "- skbtop watches the load's namespace (`--netns`) with `--interval %s`; the idle stretch starts one refresh after the one that read the last drops (headless: just after the NDJSON line that follows the first line stamped after the load; live view: %s after the pane first listed every site) and lasts %d refreshes; idle CPU is its CPU-time clock (user and system) over it, %% of one core\n",
		s.Interval, s.Interval+s.Interval/4, s.Refreshes)
	fmt.Fprintf(&b, "- the live view draws each site's last minute as a sparkline, so for a minute after the last drop every refresh moves them: its CPU over the %d refreshes right after the drops stopped is in its own column; its idle stretch then starts a minute after the last drop, when every sparkline is flat (headless draws none and starts at once)\n", s.Refreshes)
	b.WriteString("- sites listed: headless, the distinct sites over all its NDJSON lines (each line after the first lists the sites that dropped in its interval); live view, the count in the drop-site pane's title after the idle stretch. Count error is the last NDJSON line's total minus the receiver's counters\n")
	if s.LoadBefore != "" && s.LoadAfter != "" {
		fmt.Fprintf(&b, "- host load: 1-minute load average %s when the scenario started, %s when it ended, on %d cores\n",
			s.LoadBefore, s.LoadAfter, runtime.NumCPU())
	}
	fmt.Fprintf(&b, "- trials: %d per configuration, interleaved; cells are median (min–max) over the trials that succeeded (NDJSON line size over every idle line of them)\n\n", s.Trials)
	b.WriteString("| configuration | sites listed | count error | idle CPU % | CPU % in the minute after the drops | idle NDJSON line bytes | terminal bytes/s idle | peak RSS MiB |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, name := range []string{idleHeadless, idleTUI} {
		skip, errs := "", 0
		for _, r := range s.Runs {
			switch {
			case r.Config != name:
			case r.Skipped != "":
				skip = r.Skipped
			case r.Err != nil:
				errs++
			}
		}
		runs := s.measured(name)
		if skip != "" && len(runs) == 0 {
			fmt.Fprintf(&b, "| %s | skipped: %s ||||||\n", name, strings.TrimPrefix(skip, errSkip.Error()+": "))
			continue
		}
		var sites, cerr, cpu, fade, line, term, rss []float64
		for _, r := range runs {
			sites = append(sites, float64(r.Sites))
			if r.Counted >= 0 {
				cerr = append(cerr, float64(r.Counted)-float64(r.Truth))
			}
			cpu = append(cpu, r.cpuPercent())
			if r.FadeWindow > 0 {
				fade = append(fade, r.fadePercent())
			}
			line = append(line, r.LineBytes...)
			if r.TermBytes >= 0 {
				term = append(term, float64(r.TermBytes)/r.Window.Seconds())
			}
			if r.RSS > 0 {
				rss = append(rss, float64(r.RSS)/(1<<20))
			}
		}
		if errs > 0 {
			name += fmt.Sprintf(" (%d runs failed)", errs)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			summarize(sites).format("%.0f"), summarize(cerr).format("%+.0f"), summarize(cpu).format("%.2f"),
			summarize(fade).format("%.2f"), summarize(line).format("%.0f"), summarize(term).format("%.0f"), summarize(rss).format("%.1f"))
	}
	b.WriteString("\n")
	return b.String()
}

// idleTargets are the idle scenario's target lines, one per way of
// running skbtop: the worst trial must be under the budget.
func idleTargets(s *idleResult, verdict func(bool) string) string {
	var b strings.Builder
	for _, c := range []struct{ name, label string }{{idleHeadless, "skbtop --json"}, {idleTUI, "live view"}} {
		head := fmt.Sprintf("- idle CPU <= %.0f%% of a core holding %d sites, %s", idleBudget, s.Sites, c.label)
		var cpu, line []float64
		for _, r := range s.measured(c.name) {
			cpu = append(cpu, r.cpuPercent())
			line = append(line, r.LineBytes...)
		}
		st := summarize(cpu)
		if !st.valid {
			fmt.Fprintf(&b, "%s: not measured — no run succeeded (see the idle table)\n", head)
			continue
		}
		extra := ""
		if l := summarize(line); l.valid {
			extra = fmt.Sprintf("; idle NDJSON lines of %.0f bytes", l.Median)
		}
		fmt.Fprintf(&b, "%s: %s — median %.2f%%, at most %.2f%% over %d trials%s\n",
			head, verdict(st.Max <= idleBudget), st.Median, st.Max, st.N, extra)
	}
	return b.String()
}
