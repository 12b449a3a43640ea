package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/metrics"
	"github.com/skbtop/skbtop/netns"
	"github.com/skbtop/skbtop/pcapng"
	"github.com/skbtop/skbtop/symbols"
	"github.com/skbtop/skbtop/tracer"
)

// monitor wires the sources to the aggregator: each refresh it reads the
// tracer's counts and the kernel's counters into one drops.Reading, and the
// aggregator returns the finished snapshot every output formats. A sample
// reader feeds the aggregator in between. It is built in one call,
// openMonitor, and released with Close.
type monitor struct {
	// ns is the namespace watched (--netns) while it exists, nil for
	// ours; nsPath is the path it was given by.
	ns     *netns.Namespace
	nsPath string
	home   uint32 // its inode, or our own namespace's
	tr     *tracer.Tracer
	links  *counters.Reader // nil when counters could not be opened
	agg    *drops.Aggregator
	// hasFunction says whether a kernel function's name contains a
	// text (see drops.Snapshot.Unmatched); nil when the kernel hides
	// its symbols.
	hasFunction func(substr string) bool
	// syms and resolver name kernel addresses (syms is nil when kallsyms
	// could not be read): the frames of stacks, the functions --stacks
	// names.
	syms     *symbols.Kallsyms
	resolver symbols.Resolver

	// metrics is the Prometheus sink (nil without --listen): it sees
	// every snapshot, filtered by the command line's filter. mu makes a
	// reading, its snapshot and the sink's Observe one step that Reset
	// cannot fall into, which the sink's running totals rely on (see
	// drops.Growth).
	metrics *metrics.Sink
	filter  drops.Filter
	mu      sync.Mutex

	stopSamples context.CancelFunc
	samplesDone chan struct{}

	// capturing says samples are kept for --pcap, in captured by key,
	// capturedN in all (at most pcapng.MaxPackets; capLost counts the
	// rest). capMu guards them: the sample reader adds.
	capMu     sync.Mutex
	capturing bool
	captured  map[drops.Key][]drops.Packet
	capturedN int
	capLost   uint64
}

// openMonitor opens everything skbtop reads for options o and the watched
// namespace ns (nil for skbtop's own; the monitor takes it over): kallsyms
// and drop reasons, the tracer and the counters, and starts reading
// samples. Only a failure to open the tracer is an error; anything else
// degrades the view and says so in its warnings.
func openMonitor(o options, ns *netns.Namespace) (_ *monitor, err error) {
	m := &monitor{ns: ns, nsPath: o.netns}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	homeID, err := homeNamespace(ns)
	if err != nil {
		return nil, err
	}
	m.home = homeID.Inode

	// Parsing kallsyms takes a while; do it while the program loads.
	type symsResult struct {
		k   *symbols.Kallsyms
		err error
	}
	symsCh := make(chan symsResult, 1)
	go func() {
		k, err := symbols.OpenKallsyms("/proc/kallsyms")
		symsCh <- symsResult{k, err}
	}()
	cfg := tracer.Config{SampleLimit: uint32(o.samples), MaxKeys: uint32(o.maxKeys), VerifierLog: o.debug, BTF: o.btf}
	if m.ns != nil {
		cfg.Netns = m.ns.Inode
	}
	m.tr, err = tracer.Open(cfg)
	syms := <-symsCh
	if err != nil {
		return nil, err
	}

	warnings := o.warnings
	switch {
	case syms.err != nil:
		// Without names skbtop still counts; sites show raw addresses.
		warnings = append(warnings, syms.err.Error())
	case syms.k.Restricted():
		warnings = append(warnings, symbols.ErrRestricted.Error())
	}
	if err := m.tr.RetransErr(); err != nil {
		warnings = append(warnings, "TCP retransmits not traced: "+err.Error())
	}
	var reasons *symbols.Reasons
	if m.tr.Reasons() {
		var rerr error
		if reasons, rerr = symbols.LoadReasons(); rerr != nil {
			warnings = append(warnings, "drop reasons shown as numbers: "+rerr.Error())
		}
	}
	var nsFile *os.File
	if m.ns != nil {
		nsFile = m.ns.File
	}
	if m.links, err = counters.Open(nsFile); err != nil {
		warnings = append(warnings, "interface counters unavailable: "+err.Error())
		m.links, err = nil, nil
	}
	if syms.k != nil && !syms.k.Restricted() {
		m.hasFunction = func(substr string) bool {
			has, known := syms.k.HasFunction(substr)
			return has || !known
		}
	}
	var watched *drops.Watched
	if m.ns != nil {
		// Named as the namespaces of sites are, but seen from outside:
		// the home namespace has no name of its own there.
		watched = &drops.Watched{Name: netns.NewNames(0).Name(m.ns.Inode, false), Path: o.netns, Inode: m.ns.Inode}
	}
	host, _ := os.Hostname()
	// Interfaces in the namespace reported on go by their names alone;
	// those elsewhere carry the namespace's name too.
	m.syms = syms.k
	m.resolver = symbols.Resolver{Kallsyms: syms.k, Reasons: reasons, Namespaces: netns.NewNames(m.home).Name}
	m.agg = drops.NewAggregator(drops.Config{
		Resolver:    m.resolver,
		Host:        host,
		Kernel:      kernelRelease(),
		Home:        homeID,
		Watched:     watched,
		Only:        ns != nil,
		History:     !o.once && !o.json,
		AllCounters: o.allCounters,
		Warnings:    warnings,
		NoReasons:   !m.tr.Reasons(),
	})

	if o.listen != "" {
		m.metrics = metrics.New(metrics.Config{MaxSeries: o.maxSeries, Version: version(), Attach: tracer.AttachMethod})
		m.filter = o.filter
	}

	ctx, cancel := context.WithCancel(context.Background())
	m.stopSamples, m.samplesDone = cancel, make(chan struct{})
	go func() {
		defer close(m.samplesDone)
		if err := m.tr.Samples(ctx, m.addSample); err != nil {
			// Counting goes on without samples; the view says so.
			m.agg.Warn("packet samples stopped: " + err.Error())
		}
	}()
	return m, nil
}

// homeNamespace identifies the namespace reported on: ns, or skbtop's own.
// Its cookie is 0 on kernels without one (before 5.14), and then the inode
// alone identifies it.
func homeNamespace(ns *netns.Namespace) (drops.NamespaceID, error) {
	var f *os.File
	if ns != nil {
		f = ns.File
	} else {
		// thread-self, not self: /proc/self is the main thread's, which a
		// goroutine that entered another namespace on a locked thread and
		// exited can leave there for good (the runtime parks it instead
		// of ending it). Unlocked threads, the ones this code runs on,
		// are always in skbtop's own namespace.
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return drops.NamespaceID{}, fmt.Errorf("own network namespace: %w", err)
		}
		defer own.Close()
		f = own
	}
	id := drops.NamespaceID{}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return id, fmt.Errorf("network namespace: %w", err)
	}
	id.Inode = uint32(st.Ino)
	id.Cookie, _ = netns.Cookie(f)
	return id, nil
}

// errTracer marks a failure to read the tracer: the counts are gone, so the
// live view stops rather than showing a frozen picture.
var errTracer = errors.New("read drop counts")

// Snapshot reads every source and returns the unfiltered view. Only a
// failure to read the tracer is an error (wrapping errTracer); a counter
// source that fails shows as a warning in the snapshot.
func (m *monitor) Snapshot() (drops.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkWatched()
	m.tr.DrainSamples()
	r, err := m.tr.Read()
	if err != nil {
		if m.metrics != nil {
			m.metrics.ReadFailed(time.Now())
		}
		return drops.Snapshot{}, errors.Join(errTracer, err)
	}
	if m.links != nil {
		// A nil reading keeps the previous values of that source.
		var err error
		if r.Links, err = m.links.Links(); err != nil {
			r.Errors = append(r.Errors, "interface counters: "+err.Error())
		}
		if r.Stack, err = m.links.Stack(); err != nil {
			r.Errors = append(r.Errors, "protocol counters: "+err.Error())
		}
	}
	m.agg.Update(r)
	snap := m.agg.Snapshot()
	if m.metrics != nil {
		if len(r.Errors) > 0 {
			m.metrics.ReadFailed(r.Time)
		}
		m.metrics.Observe(snap.Filtered(m.filter))
	}
	return snap, nil
}

// version is skbtop's module version and VCS revision, as the Go toolchain
// stamped them into the binary.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// checkWatched notices the watched namespace being deleted (its bind mount
// removed, or its process gone): skbtop then says so, with the time, and
// lets go of it, so that the kernel can free it. The drops it counted stay;
// drops of a new namespace that gets its inode are not counted (see
// drops.Config.Only).
func (m *monitor) checkWatched() {
	if m.ns == nil {
		return
	}
	ino, err := netns.Inode(m.nsPath)
	if err == nil && ino == m.ns.Inode {
		return
	}
	m.agg.Warn(fmt.Sprintf("watched network namespace %s (inode %d) was deleted at %s: no longer watched; its drops so far are kept",
		m.nsPath, m.ns.Inode, time.Now().Format(time.TimeOnly)))
	if m.links != nil {
		m.links.Close()
		m.links = nil
	}
	m.ns.Close()
	m.ns = nil
}

// Reset restarts every count and counter delta at zero.
func (m *monitor) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.agg.Reset()
}

// Close stops the sample reader and releases everything, in reverse order
// of opening.
func (m *monitor) Close() error {
	var errs []error
	if m.stopSamples != nil {
		m.stopSamples()
		<-m.samplesDone
	}
	if m.links != nil {
		errs = append(errs, m.links.Close())
	}
	if m.tr != nil {
		errs = append(errs, m.tr.Close())
	}
	if m.ns != nil {
		errs = append(errs, m.ns.Close())
	}
	return errors.Join(errs...)
}

// functionStacks is the stack request of --stacks SYMBOL: every drop at a
// location inside the kernel function of that name, whatever its reason
// and interface.
func (m *monitor) functionStacks(name string) (drops.StackRequest, error) {
	if m.syms == nil {
		return drops.StackRequest{}, errors.New("--stacks: kernel symbols cannot be read (/proc/kallsyms)")
	}
	ranges, known := m.syms.Function(name)
	switch {
	case !known:
		return drops.StackRequest{}, errors.New("--stacks: the kernel hides its symbol addresses (kptr_restrict): run as root")
	case len(ranges) == 0:
		return drops.StackRequest{}, fmt.Errorf("--stacks: no kernel function is named %q (see /proc/kallsyms)", name)
	case len(ranges) > 1:
		return drops.StackRequest{}, fmt.Errorf("--stacks: %d kernel functions are named %q; skbtop collects the stacks of one", len(ranges), name)
	}
	return drops.StackRequest{Lo: ranges[0].Start, Hi: ranges[0].End}, nil
}

// stopStacks ends a stack collection started at start and names its
// frames; request says what was asked, for the report.
func (m *monitor) stopStacks(request string, start time.Time) (drops.StackReport, error) {
	raw, fails, err := m.tr.StopStacks()
	if err != nil {
		return drops.StackReport{}, err
	}
	rep := drops.StackReport{
		Stacks: drops.ResolveStacks(raw, m.resolver),
		Trace:  drops.StackTrace{Request: request, Seconds: time.Since(start).Seconds(), StackFailures: fails},
	}
	for _, r := range raw {
		rep.Trace.Recorded += r.Count
	}
	return rep, nil
}

// Stacks collects the kernel stacks of one site's drops for d, or until ctx
// is done: the live view's 't'.
func (m *monitor) Stacks(ctx context.Context, site drops.Site, d time.Duration) (drops.StackReport, error) {
	req, ok := drops.SiteStacks(site)
	if !ok {
		return drops.StackReport{}, errors.New("this row has no single drop site to collect stacks at")
	}
	start := time.Now()
	if err := m.tr.StartStacks(req); err != nil {
		return drops.StackReport{}, err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	return m.stopStacks(site.Symbol(), start)
}

// addSample hands a sample to the aggregator, and keeps it for --pcap
// while capturing.
func (m *monitor) addSample(s drops.Sample) {
	m.agg.AddSample(s)
	m.capMu.Lock()
	defer m.capMu.Unlock()
	if !m.capturing {
		return
	}
	if m.capturedN >= pcapng.MaxPackets {
		m.capLost++
		return
	}
	m.captured[s.Key] = append(m.captured[s.Key], drops.DecodePacket(s))
	m.capturedN++
}

// startCapture starts keeping samples for --pcap.
func (m *monitor) startCapture() {
	m.capMu.Lock()
	defer m.capMu.Unlock()
	m.capturing, m.captured, m.capturedN, m.capLost = true, map[drops.Key][]drops.Packet{}, 0, 0
}

// stopCapture stops keeping samples and returns those kept of drops up to
// until (the time of the window's last reading), and how many were not
// kept for want of room.
func (m *monitor) stopCapture(until time.Time) (map[drops.Key][]drops.Packet, uint64) {
	m.capMu.Lock()
	defer m.capMu.Unlock()
	m.capturing = false
	kept := m.captured
	for k, list := range kept {
		kept[k] = slices.DeleteFunc(list, func(p drops.Packet) bool { return p.Time.After(until) })
	}
	m.captured = nil
	return kept, m.capLost
}
