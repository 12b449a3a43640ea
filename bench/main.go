// Command bench measures skbtop side by side with the tools engineers use
// today (bpftrace, perf) on the same drop flood, inside network namespaces of
// its own: whether the counts are exact, what each tool adds to the cost of
// a drop, and what the monitor itself costs in CPU, memory, start-up time
// and terminal output; and, in the scale scenario, what a refresh costs
// when a thousand namespaces each have a veth that drops; and, in the idle
// scenario, what skbtop costs holding 16,384 sites while nothing drops.
// Configurations
// are interleaved and repeated; the medians and spreads go to
// BENCHMARKS.md.
//
//	go run ./bench             # as root; full run, about 13 minutes on 2 cores
//	go run ./bench -smoke      # under a minute; fails if skbtop miscounts
//	go run ./bench -only scale # one scenario, merged into BENCHMARKS.md
//
// It needs root, iproute2 and nftables; bpftrace, perf and tmux are used when
// installed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/skbtop/skbtop/internal/netlab"
	"github.com/skbtop/skbtop/symbols"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the benchmark's settings.
type options struct {
	trials    int
	smoke     bool
	out       string
	flood     time.Duration
	rateDur   time.Duration
	rates     []int
	endurance uint64
	keyPasses int
	scale     scaleConfig
	idle      idleConfig
	only      string
}

// result is one run: one configuration watching one load.
type result struct {
	Scenario, Config string
	Trial            int
	Truth            uint64 // drops the receiver's counters saw
	Rate             float64
	Elapsed          time.Duration
	Obs              observed
	CPU              float64 // % of one core during the load
	RSS              uint64  // peak, bytes
	Ready            time.Duration
	Skipped          string
	Err              error
}

// countError is Counted-Truth, or NaN when the monitor gives no count.
func (r result) countError() float64 {
	if r.Obs.Counted < 0 {
		return math.NaN()
	}
	return float64(r.Obs.Counted) - float64(r.Truth)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.trials, "trials", 5, "repetitions of each configuration, interleaved")
	fs.BoolVar(&o.smoke, "smoke", false, "a few seconds of each scenario, one trial, for CI; fails when skbtop miscounts")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "markdown report to write (\"\": none; never written by -smoke)")
	fs.DurationVar(&o.flood, "flood", 6*time.Second, "length of each closed-loop flood")
	fs.DurationVar(&o.rateDur, "rate-duration", 5*time.Second, "length of each fixed-rate load")
	fs.Uint64Var(&o.endurance, "endurance", 10_000_000, "drops in the one long closed-loop run for exactness (0: skip)")
	fs.IntVar(&o.keyPasses, "key-passes", 3, "passes over every distinct key in the cardinality scenario")
	fs.IntVar(&o.scale.Namespaces, "scale-namespaces", 1000, "namespaces, each with a veth pair, in the scale scenario")
	fs.IntVar(&o.idle.Trials, "idle-trials", 3, "repetitions of each configuration in the idle scenario, interleaved")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (flood,udp,rates,keys,endurance,scale,idle), all when empty; their sections replace those of an existing report")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	o.rates = []int{1000, 10000, 100000}
	// 30 refreshes a trial: over 10, one slow second (a garbage
	// collection, a burst of the Go runtime's polling, the VM) moved a
	// trial's CPU per refresh by 2-3 ms on the machine of BENCHMARKS.md.
	o.scale.PerInterface, o.scale.Refreshes, o.scale.Probes = 2, 30, 8
	// 16384 sites, the default --max-keys, made at half of it a second
	// so that no interval's keys fill the kernel map.
	o.idle.Sites, o.idle.Rate, o.idle.Refreshes = 16384, 8192, 15
	if o.smoke {
		o.trials = 1
		o.flood = 1500 * time.Millisecond
		o.rateDur = time.Second
		o.rates = []int{1000}
		o.endurance = 0
		o.keyPasses = 1
		// A tenth of the fleet and short windows: checks that skbtop
		// lists every interface of many namespaces more than what it
		// costs.
		o.scale.Namespaces = min(o.scale.Namespaces, 100)
		o.scale.Refreshes, o.scale.Probes = 3, 3
	}
	if o.trials < 1 {
		return fmt.Errorf("-trials must be at least 1, got %d", o.trials)
	}
	if o.idle.Trials < 1 {
		return fmt.Errorf("-idle-trials must be at least 1, got %d", o.idle.Trials)
	}
	if o.scale.Namespaces < 1 || o.scale.Namespaces > netlab.MaxFleet {
		return fmt.Errorf("-scale-namespaces must be between 1 and %d, got %d", netlab.MaxFleet, o.scale.Namespaces)
	}
	o.scale.Trials = o.trials
	if os.Geteuid() != 0 {
		return errors.New("needs root: it creates network namespaces and loads BPF programs")
	}
	begin := time.Now()

	dir, err := os.MkdirTemp("", "skbtop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "skbtop")
	fmt.Fprintf(stdout, "building skbtop into %s\n", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/skbtop/skbtop")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	unmount, err := ensureTracefs()
	if err != nil {
		fmt.Fprintf(stdout, "note: %v (bpftrace and perf will fail)\n", err)
	}
	defer unmount()

	reasons, err := symbols.LoadReasons()
	if err != nil {
		return fmt.Errorf("drop reason names: %w", err)
	}
	reasonSetOf := func(names ...string) reasonSet {
		s := reasonSet{}
		for _, n := range names {
			s[n] = true
			if c, ok := reasons.Code(n); ok {
				s[fmt.Sprint(c)] = true
			}
		}
		return s
	}
	// A flood of frames can also overflow the veth backlog: CPU_BACKLOG.
	frameReasons := reasonSetOf("UNHANDLED_PROTO", "CPU_BACKLOG")
	nftReasons := reasonSetOf("NETFILTER_DROP", "CPU_BACKLOG")

	baseline := config{Name: "baseline (no tracer)"}
	skbHeadless := config{Name: "skbtop --json", Start: startHeadless(bin)}
	skbTUI := config{Name: "skbtop TUI (tmux 120x40)", Start: startTUI(bin, dir)}
	bt := config{Name: "bpftrace one-liner", Start: startBpftrace}
	perf := config{Name: "perf record -a", Start: startPerf(dir)}

	want := func(s string) bool {
		if o.only == "" {
			return true
		}
		for _, x := range strings.Split(o.only, ",") {
			if strings.TrimSpace(x) == s {
				return true
			}
		}
		return false
	}

	b := &bencher{ctx: ctx, out: stdout}
	var scenarios []scenario
	if want("flood") {
		scenarios = append(scenarios, scenario{
			Name:    "flood",
			Title:   "closed-loop flood of unhandled-ethertype frames",
			Load:    netlab.GenConfig{Kind: netlab.Frames, Duration: o.flood},
			Reasons: frameReasons,
			Configs: []config{baseline, skbHeadless, skbTUI, bt, perf},
		})
	}
	if want("udp") && !o.smoke {
		scenarios = append(scenarios, scenario{
			Name:    "udp",
			Title:   "closed-loop flood of UDP into an nftables drop rule",
			Load:    netlab.GenConfig{Kind: netlab.NFTDrop, Duration: o.flood},
			Reasons: nftReasons,
			Configs: []config{baseline, skbHeadless, bt},
		})
	}
	if want("rates") {
		for _, r := range o.rates {
			scenarios = append(scenarios, scenario{
				Name:    fmt.Sprintf("rate %s/s", si(float64(r))),
				Title:   fmt.Sprintf("open loop, %d frames/s", r),
				Load:    netlab.GenConfig{Kind: netlab.Frames, Rate: r, Count: uint64(r) * uint64(o.rateDur/time.Millisecond) / 1000},
				Reasons: frameReasons,
				Configs: []config{skbHeadless},
			})
		}
	}
	if want("keys") {
		types, err := netlab.UnhandledEthertypes()
		if err != nil {
			return err
		}
		pairs := 2
		maxKeys := []string{}
		if o.smoke {
			// Overflow a small map rather than send 128k frames.
			pairs, types = 1, types[:8192]
			maxKeys = []string{"--max-keys", "4096"}
		}
		period := uint64(len(types) * pairs)
		scenarios = append(scenarios, scenario{
			Name:    "keys",
			Title:   fmt.Sprintf("%d distinct keys (%d ethertypes x %d veth pairs), %d passes", period, len(types), pairs, o.keyPasses),
			Pairs:   pairs,
			Load:    netlab.GenConfig{Kind: netlab.Frames, Ethertypes: types, Count: period * uint64(o.keyPasses)},
			Reasons: frameReasons,
			Configs: []config{{Name: "skbtop --json", Start: startHeadless(bin, maxKeys...)}},
		})
	}
	if want("endurance") && o.endurance > 0 {
		scenarios = append(scenarios, scenario{
			Name:    "endurance",
			Title:   fmt.Sprintf("%d frames closed loop, one run", o.endurance),
			Load:    netlab.GenConfig{Kind: netlab.Frames, Count: o.endurance},
			Reasons: frameReasons,
			Configs: []config{skbHeadless},
			Once:    true,
		})
	}

	var results []result
	for _, sc := range scenarios {
		rs, err := b.runScenario(sc, o.trials)
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	var scale *scaleResult
	var scaleErr error
	if want("scale") {
		// A fleet that cannot be built or torn down fails the run, but
		// the other scenarios' results are still written.
		scale, scaleErr = runScale(ctx, stdout, bin, dir, o.scale)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if scaleErr != nil {
			fmt.Fprintf(stdout, "   error: %v\n", scaleErr)
		}
	}
	var idle *idleResult
	var idleErr error
	// Not in -smoke: a trial is about 20 s of mostly waiting.
	if want("idle") && !o.smoke {
		idle, idleErr = runIdle(ctx, stdout, bin, dir, o.idle)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if idleErr != nil {
			fmt.Fprintf(stdout, "   error: %v\n", idleErr)
		}
	}
	elapsed := time.Since(begin)

	report := writeReport(results, scenarios, scale, idle, o, elapsed, args)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, report)
	if !o.smoke && o.out != "" {
		if o.only != "" {
			old, err := os.ReadFile(o.out)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if len(old) > 0 {
				report = mergeReport(string(old), report)
			}
		}
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", o.out)
	}
	return errors.Join(checkExact(results), scaleErr, checkScale(scale), idleErr, checkIdle(idle))
}

// checkExact fails when any skbtop run miscounted.
func checkExact(results []result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s, %s, trial %d: %w", r.Scenario, r.Config, r.Trial, r.Err))
			continue
		}
		if strings.HasPrefix(r.Config, "skbtop --json") && r.Skipped == "" && r.countError() != 0 {
			errs = append(errs, fmt.Errorf("%s, trial %d: skbtop counted %d drops, the kernel's counters %d",
				r.Scenario, r.Trial, r.Obs.Counted, r.Truth))
		}
	}
	return errors.Join(errs...)
}

// checkScale fails when a scale run failed (skbtop did not list every
// interface of the fleet, or stopped). Its figures are reported, not
// checked: they are what this machine measured.
func checkScale(s *scaleResult) error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, r := range s.Runs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("scale, %s, trial %d: %w", r.Config, r.Trial, r.Err))
		}
	}
	return errors.Join(errs...)
}

// checkIdle fails when an idle run failed (skbtop miscounted, did not
// list every site, or something dropped during the idle stretch). Its
// figures are reported, not checked.
func checkIdle(s *idleResult) error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, r := range s.Runs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("idle, %s, trial %d: %w", r.Config, r.Trial, r.Err))
		}
	}
	return errors.Join(errs...)
}

// ensureTracefs mounts tracefs when it is not mounted (bpftrace and perf
// need its event formats) and returns how to undo that.
func ensureTracefs() (func(), error) {
	if _, err := os.Stat("/sys/kernel/tracing/events/skb/kfree_skb"); err == nil {
		return func() {}, nil
	}
	if _, err := os.Stat("/sys/kernel/debug/tracing/events/skb/kfree_skb"); err == nil {
		return func() {}, nil
	}
	if err := syscall.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return func() {}, fmt.Errorf("mount tracefs: %w", err)
	}
	return func() { syscall.Unmount("/sys/kernel/tracing", 0) }, nil
}
