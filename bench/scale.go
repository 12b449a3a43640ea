package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/skbtop/skbtop/internal/netlab"
)

// scaleConfig sizes the scale scenario: skbtop watching a node with many
// namespaces, each with a veth that drops.
type scaleConfig struct {
	Namespaces int
	// PerInterface is frames per second dropped on each veth end.
	PerInterface int
	// Refreshes is how many refreshes each trial measures the CPU of.
	Refreshes int
	// Probes is how many key presses each live-view trial times.
	Probes int
	Trials int
}

// scaleRun is one trial of one way of running skbtop in the scale scenario.
type scaleRun struct {
	Config string
	Trial  int
	// Refreshes is the number of snapshots (headless) or intervals (live
	// view) CPU was measured over.
	Refreshes float64
	// CPU is skbtop's CPU time (user and system) over them.
	CPU time.Duration
	// Listed is how many of the fleet's interfaces the last snapshot had
	// a site for (headless); Sites how many sites it listed in all.
	Listed, Sites int
	RSS           uint64
	// Ready is exec to the first snapshot (headless) or frame (live view);
	// AllShown exec to the first that lists every interface of the fleet.
	Ready, AllShown time.Duration
	// Latency is the time from each key press to the screen that shows it.
	Latency []time.Duration
	Skipped string
	Err     error
}

// perRefresh is the CPU one refresh costs, in ms.
func (r scaleRun) perRefresh() float64 {
	return float64(r.CPU) / float64(time.Millisecond) / r.Refreshes
}

// scaleResult is the scale scenario: the fleet and every run.
type scaleResult struct {
	Namespaces, Interfaces int
	Rate                   int
	Setup, Teardown        time.Duration
	Sent                   uint64
	Interval               time.Duration
	Trials                 int
	Runs                   []scaleRun
	// LoadBefore and LoadAfter are the host's 1-minute load averages
	// when the scenario started and ended ("" when unreadable): wall-clock
	// figures mean little on a busy machine.
	LoadBefore, LoadAfter string
}

// crowded says whether drops made elsewhere on the host during the run
// added more than 5% (at least 20) sites to the fleet's: the trial then
// measured a bigger load than the scenario's, and is listed but left out of
// the figures. (Sites stay listed once seen, so the last count holds every
// site of the trial.)
func (s *scaleResult) crowded(r scaleRun) bool {
	return r.Sites > s.Interfaces+max(20, s.Interfaces/20)
}

// measured returns the runs of config whose figures count: successful and
// not crowded.
func (s *scaleResult) measured(config string) []scaleRun {
	var out []scaleRun
	for _, r := range s.Runs {
		if r.Config == config && r.Err == nil && r.Skipped == "" && !s.crowded(r) {
			out = append(out, r)
		}
	}
	return out
}

const (
	scaleHeadless = "skbtop --json"
	scaleTUI      = "skbtop TUI (tmux 120x40)"
	// scaleInterval is skbtop's refresh interval in the scale scenario.
	scaleInterval = time.Second
	// refreshBudget is the target CPU per refresh with 2000 interfaces.
	refreshBudget = 20 * time.Millisecond
	// keyBudget is how soon a key must show for the live view to count as
	// responsive: about the limit below which a response feels immediate.
	keyBudget = 100 * time.Millisecond
)

// runScale builds the fleet, keeps every veth dropping at a low steady
// rate, and measures skbtop headless and in the live view watching all of
// it. The fleet is torn down however the runs end, and checked gone.
func runScale(ctx context.Context, out io.Writer, bin, dir string, sc scaleConfig) (res *scaleResult, err error) {
	res = &scaleResult{Namespaces: sc.Namespaces, Interfaces: 2 * sc.Namespaces, Rate: 2 * sc.Namespaces * sc.PerInterface,
		Interval: scaleInterval, Trials: sc.Trials}
	fmt.Fprintf(out, "== scale: %d namespaces, %d veth interfaces with drops\n", res.Namespaces, res.Interfaces)
	res.LoadBefore = loadAverage()
	defer func() { res.LoadAfter = loadAverage() }()
	start := time.Now()
	fleet, err := netlab.NewFleet(sc.Namespaces)
	if err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}
	res.Setup = time.Since(start)
	fmt.Fprintf(out, "   fleet set up in %s\n", fmtDur(res.Setup))
	defer func() {
		t := time.Now()
		cerr := fleet.Close()
		res.Teardown = time.Since(t)
		if cerr == nil {
			cerr = checkNoNamespaces(fleet.Prefix())
		}
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("scale: tear down: %w", cerr))
		} else {
			fmt.Fprintf(out, "   fleet torn down in %s; ip netns list shows none of it\n", fmtDur(res.Teardown))
		}
	}()

	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan error, 1)
	go func() {
		n, err := fleet.Run(loadCtx, res.Rate)
		res.Sent = n
		loadDone <- err
	}()
	defer func() {
		stopLoad()
		if lerr := <-loadDone; lerr != nil {
			err = errors.Join(err, fmt.Errorf("scale: load: %w", lerr))
		}
	}()

	ifaces := map[[2]uint32]bool{}
	for _, m := range fleet.Members {
		ifaces[[2]uint32{fleet.HostNetns, uint32(m.HostIndex)}] = true
		ifaces[[2]uint32{m.NS.Inode, uint32(m.InnerIndex)}] = true
	}
	configs := []trialConfig[scaleRun]{
		{scaleHeadless, func(trial int) scaleRun { return scaleHeadlessRun(ctx, bin, ifaces, sc, trial) }},
		{scaleTUI, func(trial int) scaleRun { return scaleTUIRun(ctx, bin, dir, len(ifaces), sc, trial) }},
	}
	err = runTrials(ctx, out, sc.Trials, configs, &res.Runs,
		func(r scaleRun) string { return r.Skipped },
		func(config string, trial int, why string) scaleRun {
			return scaleRun{Config: config, Trial: trial, Skipped: why}
		},
		func(r scaleRun) { scaleProgress(out, r, res.Interfaces) })
	return res, err
}

func scaleProgress(out io.Writer, r scaleRun, ifaces int) {
	if r.Err != nil {
		fmt.Fprintf(out, "   %-26s trial %d: error: %v\n", r.Config, r.Trial, r.Err)
		return
	}
	lat := ""
	if len(r.Latency) > 0 {
		s := summarize(millis(r.Latency))
		lat = fmt.Sprintf(", key to screen %.0f ms median, %.0f max", s.Median, s.Max)
	}
	fmt.Fprintf(out, "   %-26s trial %d: %.1f ms CPU per refresh over %.0f, %d sites for %d interfaces, rss %.1f MiB, ready %s, all listed %s%s\n",
		r.Config, r.Trial, r.perRefresh(), r.Refreshes, r.Sites, ifaces, float64(r.RSS)/(1<<20), fmtDur(r.Ready), fmtDur(r.AllShown), lat)
}

// scaleHeadlessRun runs `skbtop --json --interval 1s` over every namespace
// and measures its CPU over sc.Refreshes snapshots, from the first after
// the one that listed every interface of the fleet.
func scaleHeadlessRun(ctx context.Context, bin string, ifaces map[[2]uint32]bool, sc scaleConfig, trial int) scaleRun {
	r := scaleRun{Config: scaleHeadless, Trial: trial, Ready: -1, AllShown: -1}
	m, err := startHeadless(bin, "--interval", scaleInterval.String())(ctx, "", nil)
	if err != nil {
		r.Err = err
		return r
	}
	h := m.(*headless)
	defer func() {
		_, err := h.Stop()
		r.Err = errors.Join(r.Err, err)
	}()
	r.Ready = h.Ready()
	wait := 3*scaleInterval + 5*time.Second
	listed := func() (int, error) {
		s, at, err := h.next(ctx, wait)
		if err != nil {
			return 0, err
		}
		r.Sites = len(s.Sites)
		seen := map[[2]uint32]bool{}
		for _, site := range s.Sites {
			if k := [2]uint32{site.Netns, site.Ifindex}; ifaces[k] {
				seen[k] = true
			}
		}
		if len(seen) == len(ifaces) && r.AllShown < 0 {
			r.AllShown = at.Sub(h.start)
		}
		return len(seen), nil
	}
	for n := 0; r.AllShown < 0; n++ {
		if r.Listed, err = listed(); err != nil {
			r.Err = err
			return r
		}
		if n > 10 {
			r.Err = fmt.Errorf("skbtop listed %d of the fleet's %d interfaces after %d snapshots", r.Listed, len(ifaces), n)
			return r
		}
	}
	// Start right after a snapshot was written, and stop right after the
	// last one: the window holds sc.Refreshes whole refreshes.
	if _, err := listed(); err != nil {
		r.Err = err
		return r
	}
	cpu0, err := processCPU(h.PID())
	if err != nil {
		r.Err = err
		return r
	}
	for range sc.Refreshes {
		if r.Listed, err = listed(); err != nil {
			r.Err = err
			return r
		}
	}
	cpu1, err := processCPU(h.PID())
	if err != nil {
		r.Err = err
		return r
	}
	r.CPU, r.Refreshes = cpu1-cpu0, float64(sc.Refreshes)
	if r.Listed != len(ifaces) {
		r.Err = fmt.Errorf("skbtop's last snapshot listed %d of the fleet's %d interfaces", r.Listed, len(ifaces))
	}
	r.RSS, _ = peakRSS(h.PID())
	return r
}

// sitesTitle is the live view's drop-site pane title: the number of sites
// and the sort order.
var sitesTitle = regexp.MustCompile(`Drop sites\s+(\d+) · by (\w+)`)

// paneSites reads the site count and sort order off the live view's pane.
func paneSites(pane string) (n int, order string, ok bool) {
	m := sitesTitle.FindStringSubmatch(pane)
	if m == nil {
		return 0, "", false
	}
	n, _ = strconv.Atoi(m[1])
	return n, m[2], true
}

// sortOrders is the cycle the live view's sort key steps through.
var sortOrders = []string{"rate", "total", "name"}

func nextOrder(o string) string {
	for i, x := range sortOrders {
		if x == o {
			return sortOrders[(i+1)%len(sortOrders)]
		}
	}
	return ""
}

// scaleTUIRun runs the live view over every namespace in tmux, waits until
// it lists a site per interface of the fleet, measures its CPU over
// sc.Refreshes intervals, then times key presses: 'o' changes the sort
// order the pane's title shows.
func scaleTUIRun(ctx context.Context, bin, dir string, ifaces int, sc scaleConfig, trial int) scaleRun {
	r := scaleRun{Config: scaleTUI, Trial: trial, Ready: -1, AllShown: -1}
	m, err := startTUI(bin, dir, "--interval", scaleInterval.String())(ctx, "", nil)
	if startFailed(err, &r.Skipped, &r.Err) {
		return r
	}
	u := m.(*tui)
	defer func() {
		_, err := u.Stop()
		r.Err = errors.Join(r.Err, err)
	}()
	r.Ready = u.Ready()
	if r.Sites, err = u.waitListed(ctx, ifaces, time.Now().Add(3*scaleInterval+10*time.Second)); err != nil {
		r.Err = err
		return r
	}
	r.AllShown = time.Since(u.start)

	cpu, window, err := cpuOver(ctx, u.PID(), time.Duration(sc.Refreshes)*scaleInterval)
	if err != nil {
		r.Err = err
		return r
	}
	r.CPU, r.Refreshes = cpu, window.Seconds()/scaleInterval.Seconds()

	for i := range sc.Probes {
		// Spread the presses over the refresh cycle.
		time.Sleep(scaleInterval/4 + time.Duration(i)*scaleInterval*3/(4*time.Duration(max(1, sc.Probes))))
		lat, err := probeKey(ctx, u)
		if err != nil {
			r.Err = fmt.Errorf("key press %d: %w", i+1, err)
			return r
		}
		r.Latency = append(r.Latency, lat)
	}
	if pane, err := u.capture(); err == nil {
		if n, _, ok := paneSites(pane); ok {
			r.Sites = n
		}
	}
	r.RSS, _ = peakRSS(u.PID())
	return r
}

// probeKey presses 'o' and returns how long the pane took to show the next
// sort order. Its resolution is one capture-pane, a few ms.
func probeKey(ctx context.Context, u *tui) (time.Duration, error) {
	pane, err := u.capture()
	if err != nil {
		return 0, err
	}
	_, order, ok := paneSites(pane)
	if !ok {
		return 0, fmt.Errorf("no drop-site title in the pane: %s", firstLine(pane))
	}
	want := nextOrder(order)
	start := time.Now()
	if err := u.sendKeys("o"); err != nil {
		return 0, err
	}
	for {
		pane, err := u.capture()
		if err != nil {
			return 0, err
		}
		if _, got, ok := paneSites(pane); ok && got == want {
			return time.Since(start), nil
		}
		if time.Since(start) > 10*time.Second {
			return 0, fmt.Errorf("the pane still shows sort order %q 10s after 'o', want %q", order, want)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
}

// checkNoNamespaces fails when `ip netns list` still shows a namespace
// whose name starts with prefix.
func checkNoNamespaces(prefix string) error {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("ip netns list: %w", err)
	}
	var left []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			left = append(left, f[0])
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("ip netns list still shows %d namespaces of the fleet (%s...)", len(left), left[0])
	}
	return nil
}

// loadAverage is the host's 1-minute load average, "" when unreadable.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}
