// Command skbtop is a live terminal monitor of Linux kernel packet drops:
// where the kernel drops packets (function+offset), why (drop reason), on
// which interface, of what protocol, and how fast.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/metrics"
	"github.com/skbtop/skbtop/netns"
	"github.com/skbtop/skbtop/tracer"
)

// maxSamples bounds --samples (per CPU and second). The sample ring holds
// about 1,200 samples and is drained every 100 ms, so beyond about 12,000 a
// second in all the ring overflows and samples are lost anyway; each
// sampled drop also costs about 200 ns more (BENCHMARKS.md).
const maxSamples = 10000

// The range of --interval: below 100 ms a refresh is mostly skbtop's own
// work (reading and retiring every key, naming, rendering) and no person
// reads that fast; above an hour rates say little.
const (
	minInterval = 100 * time.Millisecond
	maxInterval = time.Hour
)

// The range of --max-keys. Keys that drop in no refresh leave the kernel's
// map, so it needs room only for the sites active in one interval; the
// kernel preallocates it (twice, see tracer) on every CPU, so a million
// keys already costs gigabytes on a large machine (see maxKeysWarning).
const (
	minMaxKeys = 64
	maxMaxKeys = 1 << 20
)

// maxKeysWarning returns a warning when the kernel memory --max-keys asks
// for is more than a quarter of the memory available, "" otherwise.
func maxKeysWarning(maxKeys uint, ncpu int, available uint64) string {
	// Two maps; per key a hash element (its key, list and lock, about
	// 64 bytes) and a 16-byte value per possible CPU.
	need := uint64(2*maxKeys) * (64 + 16*uint64(ncpu))
	if available == 0 || need <= available/4 {
		return ""
	}
	return fmt.Sprintf("--max-keys %d asks the kernel for about %d MiB (%d CPUs), more than a quarter of the %d MiB available",
		maxKeys, need>>20, ncpu, available>>20)
}

// maxMetricsSeries bounds --metrics-max-series: a million series from one
// host is already more than a Prometheus server should take.
const maxMetricsSeries = 1 << 20

// main leaves the garbage collector at Go's defaults. A fixed soft memory
// limit (40 MiB until 2026-11-23) kept a full map's RSS near 45 MiB headless,
// but once what is live nears the limit the collector runs all the time: the
// live view holding 16,384 sites with their histories spent 57% of a core
// idle with it, 3% without (BENCHMARKS.md). GOMEMLIMIT still sets one.
//
// It runs Go code on one CPU at a time (oneProc).
func main() {
	oneProc()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// oneProc lets the Go runtime run goroutines on one CPU at a time, unless
// GOMAXPROCS says otherwise. skbtop's work is a few percent of one core,
// in short bursts; on more processors the runtime hands work between
// threads, wakes idle ones to look for more and polls more often
// (runtime.sysmon), and that cost more than the work. The scale scenario
// (BENCHMARKS.md, 2000 interfaces): 38-45 ms of CPU per refresh headless
// and 33-45 ms in the live view on two processors, 28-29 and 30-32 ms on
// one, and keys answered sooner. A system call still frees the processor
// for the other goroutines.
func oneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// usageError marks errors in the command line; they exit with status 2.
type usageError struct{ error }

// options are skbtop's command-line settings.
type options struct {
	once        bool
	duration    time.Duration
	json        bool
	interval    time.Duration
	filter      drops.Filter
	group       drops.Grouping
	hides       []drops.Hide
	netns       string
	snapshotDir string
	samples     int
	maxKeys     uint
	allCounters bool
	debug       bool
	// btf is the kernel's BTF read from the file --btf names, nil for
	// the kernel's own.
	btf *btf.Spec
	// listen is the address --listen serves /metrics on ("" for none),
	// maxSeries the budget of series of each labelled counter.
	listen    string
	maxSeries int
	// stacks is the kernel function --stacks collects the stacks of, ""
	// for none; pcap the file --pcap writes the sampled packets to.
	stacks string
	pcap   string
	// warnings are shown in every snapshot.
	warnings []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("skbtop", flag.ContinueOnError)
	// Parse errors are reported by main in one line; only -h prints usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&o.once, "once", false, "collect for --duration, print one report and exit")
	fs.DurationVar(&o.duration, "duration", 0, "how long to collect in headless modes (default 5s with --once, unlimited otherwise)")
	fs.BoolVar(&o.json, "json", false, "print snapshots as JSON: one per --interval (NDJSON), or one at the end with --once")
	fs.DurationVar(&o.interval, "interval", time.Second, "refresh interval, 100ms to 1h")
	fs.StringVar(&o.filter.Interface, "iface", "", "show only drops on this interface (name as seen in its namespace)")
	fs.StringVar(&o.filter.Symbol, "symbol", "", "show only drop sites whose function contains this text")
	fs.Func("group", "what a row of drop sites stands for: full (site, reason, interface, protocol: the default), site (site and reason) or reason", func(v string) error {
		var err error
		o.group, err = drops.ParseGrouping(v)
		return err
	})
	fs.Func("hide", "leave drop sites out of the rows, still counting them in the totals: FUNCTION[+0xOFFSET][:REASON], or :REASON; repeatable", func(v string) error {
		h, err := drops.ParseHide(v)
		o.hides = append(o.hides, h)
		return err
	})
	fs.StringVar(&o.netns, "netns", "", "count only drops in this network namespace: an `ip netns` name, a PID, or a path (/run/netns/NAME, /proc/PID/ns/net)")
	fs.StringVar(&o.snapshotDir, "snapshot-dir", ".", "directory the TUI's 's' key writes snapshots to")
	fs.IntVar(&o.samples, "samples", tracer.DefaultSampleLimit, fmt.Sprintf("drops sampled per CPU per second for packet details, 0 (off) to %d", maxSamples))
	fs.UintVar(&o.maxKeys, "max-keys", tracer.DefaultMaxKeys, fmt.Sprintf("size of the kernel's aggregate map, %d to %d; drops beyond it are still counted, as overflow", minMaxKeys, maxMaxKeys))
	fs.BoolVar(&o.allCounters, "all-counters", false, "show protocol counters that did not change too")
	fs.BoolVar(&o.debug, "debug", false, "say how the program was attached, and show the BPF verifier log when loading fails")
	fs.Func("btf", "read the kernel's BTF from this `file` (raw BTF or an ELF vmlinux) instead of /sys/kernel/btf/vmlinux", func(path string) error {
		spec, err := btf.LoadSpec(path)
		if err != nil {
			return fmt.Errorf("read BTF from %s: %w", path, err)
		}
		o.btf = spec
		return nil
	})
	fs.StringVar(&o.listen, "listen", "", "serve Prometheus metrics at http://ADDR/metrics: a bare port (9979) binds 127.0.0.1 only, any other address must be spelled out (0.0.0.0:9979); without a terminal skbtop then runs headless")
	fs.IntVar(&o.maxSeries, "metrics-max-series", metrics.DefaultMaxSeries, fmt.Sprintf("series of each labelled metric, 1 to %d; beyond it the least active fold into \"other\"", maxMetricsSeries))
	fs.StringVar(&o.stacks, "stacks", "", "with --once: collect the kernel stacks of the drops in this kernel function (its exact name) and list them under its sites")
	fs.StringVar(&o.pcap, "pcap", "", "with --once: write the sampled packets of the sites shown (filters and hides apply) to this pcap-ng file (created 0600)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "Usage: skbtop [flags]\n\nShows where the kernel drops packets, live. Needs root (or CAP_BPF and CAP_PERFMON).\n\n")
			fs.PrintDefaults()
			return o, err
		}
		return o, usageError{fmt.Errorf("%w (see skbtop -h)", err)}
	}
	switch {
	case fs.NArg() > 0:
		return o, usageError{fmt.Errorf("unexpected argument %q (see skbtop -h)", fs.Arg(0))}
	case o.interval < minInterval || o.interval > maxInterval:
		return o, usageError{fmt.Errorf("-interval must be between %s and %s, got %s", minInterval, maxInterval, o.interval)}
	case o.duration < 0:
		return o, usageError{fmt.Errorf("-duration must be positive, got %s", o.duration)}
	case o.samples < 0 || o.samples > maxSamples:
		return o, usageError{fmt.Errorf("-samples must be between 0 and %d, got %d", maxSamples, o.samples)}
	case o.maxKeys < minMaxKeys || o.maxKeys > maxMaxKeys:
		return o, usageError{fmt.Errorf("-max-keys must be between %d and %d, got %d", minMaxKeys, maxMaxKeys, o.maxKeys)}
	case o.maxSeries < 1 || o.maxSeries > maxMetricsSeries:
		return o, usageError{fmt.Errorf("-metrics-max-series must be between 1 and %d, got %d", maxMetricsSeries, o.maxSeries)}
	case o.stacks != "" && !o.once:
		return o, usageError{errors.New("-stacks collects for the window of one report: use it with --once")}
	case o.stacks != "" && o.group != drops.GroupFull:
		return o, usageError{errors.New("-stacks lists stacks under each site: use it without --group")}
	case o.pcap != "" && !o.once:
		return o, usageError{errors.New("-pcap writes the packets sampled in the window of one report: use it with --once")}
	case o.pcap != "" && o.samples == 0:
		return o, usageError{errors.New("-pcap writes sampled packets: it needs --samples above 0")}
	case o.listen != "" && o.once:
		return o, usageError{errors.New("-listen serves metrics while skbtop runs: use it without --once")}
	}
	if o.listen != "" {
		var err error
		if o.listen, err = metrics.ListenAddress(o.listen); err != nil {
			return o, usageError{err}
		}
	}
	if fi, err := os.Stat(o.snapshotDir); err != nil {
		return o, usageError{fmt.Errorf("-snapshot-dir: %w", err)}
	} else if !fi.IsDir() {
		return o, usageError{fmt.Errorf("-snapshot-dir %s is not a directory", o.snapshotDir)}
	}
	if o.once && o.duration == 0 {
		o.duration = 5 * time.Second
	}
	o.netns = netnsPath(o.netns)
	return o, nil
}

// view is how the headless outputs show snapshots.
func (o options) view() drops.View {
	return drops.View{Filter: o.filter, Hide: o.hides, Group: o.group}
}

// netnsPath turns what --netns was given into the path of a namespace file:
// an `ip netns` name (web) into /run/netns/web, a PID (812) into
// /proc/812/ns/net; anything with a slash is a path already.
func netnsPath(arg string) string {
	switch {
	case arg == "" || strings.ContainsRune(arg, '/'):
		return arg
	case strings.Trim(arg, "0123456789") == "":
		return "/proc/" + arg + "/ns/net"
	}
	return "/run/netns/" + arg
}

// run is skbtop without the process around it: flags in, output out, an
// error for main to report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var ns *netns.Namespace
	if o.netns != "" {
		// Opened once: the filter and the counters concern this
		// namespace even if its name is reused meanwhile.
		if ns, err = netns.Open(o.netns); err != nil {
			return usageError{err}
		}
	}
	// With --listen and no terminal, skbtop serves metrics headless.
	headless := false
	if !o.once && !o.json {
		if err := needTerminal(); err != nil && o.listen == "" {
			ns.Close()
			return err
		} else if err != nil {
			headless = true
		}
	}
	var ln net.Listener
	if o.listen != "" {
		// Before loading, so that a taken port fails at once.
		if ln, err = net.Listen("tcp", o.listen); err != nil {
			ns.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		defer ln.Close()
	}
	ncpu, _ := ebpf.PossibleCPU()
	if w := maxKeysWarning(o.maxKeys, ncpu, memAvailable()); w != "" {
		// Said before loading, which may take long with such a map.
		fmt.Fprintf(stderr, "skbtop: warning: %s\n", w)
		o.warnings = append(o.warnings, w)
	}
	mon, err := openMonitor(o, ns)
	if err != nil {
		return err
	}
	defer mon.Close()
	if o.debug {
		fmt.Fprintf(stderr, "skbtop: attached %s\n", mon.tr.Attachment())
	}

	if ln != nil {
		if headless {
			// The first reading is the baseline: drops from the
			// moment skbtop says it serves are counted.
			if _, err := mon.Snapshot(); err != nil {
				return err
			}
		}
		var stop func() error
		ctx, stop = serveMetrics(ctx, ln, mon.metrics)
		defer func() { err = errors.Join(err, stop()) }()
		fmt.Fprintf(stderr, "skbtop: serving metrics on http://%s/metrics\n", ln.Addr())
	}
	switch {
	case o.once:
		return runOnce(ctx, mon, o, stdout, stderr)
	case o.json:
		return runNDJSON(ctx, mon, o, stdout, stderr)
	case headless:
		return runMetrics(ctx, mon, o, stderr)
	default:
		return runTUI(ctx, mon, o)
	}
}

// serveMetrics serves the sink on ln until stop is called. The context it
// returns ends with ctx, or when serving fails, which stop then returns.
func serveMetrics(ctx context.Context, ln net.Listener, sink *metrics.Sink) (context.Context, func() error) {
	ctx, cancel := context.WithCancel(ctx)
	srv := &http.Server{Handler: metrics.Handler(sink), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		cancel()
		done <- err
	}()
	return ctx, func() error {
		cancel()
		srv.Close()
		if err := <-done; err != nil {
			return fmt.Errorf("serve metrics: %w", err)
		}
		return nil
	}
}

// report prints err as one line and returns the exit status.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var uerr usageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(stderr, "skbtop: %v\n", err)
		return 2
	}
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM):
		msg = "permission denied loading the BPF program: run as root or grant CAP_BPF,CAP_PERFMON (" + msg + ")"
	case errors.Is(err, tracer.ErrNoBTF), errors.Is(err, tracer.ErrNoTracepoint):
		// Already a sentence about the kernel.
	case errors.Is(err, ebpf.ErrNotSupported):
		msg = "this kernel cannot run skbtop's BPF program: " + msg
	}
	fmt.Fprintf(stderr, "skbtop: %s\n", strings.ReplaceAll(msg, "\n", " "))
	return 1
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes, 0 when it
// cannot be read.
func memAvailable() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
