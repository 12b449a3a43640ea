package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/pcapng"
)

// runOnce collects for o.duration and prints one report: a table, or with
// --json one snapshot document (recent samples included). Its rates are
// over the whole window.
func runOnce(ctx context.Context, mon *monitor, o options, stdout, stderr io.Writer) (err error) {
	var stackReq drops.StackRequest
	if o.stacks != "" {
		if stackReq, err = mon.functionStacks(o.stacks); err != nil {
			return usageError{err}
		}
	}
	if o.pcap != "" {
		// Said now rather than after the window.
		if err := pcapng.CheckWritable(o.pcap); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
	}
	// The first reading is the baseline the report counts from.
	first, err := mon.Snapshot()
	if err != nil {
		return err
	}
	// Stacks are recorded from after the baseline on, so that every stack
	// counted belongs to a drop in the report's window.
	stacksFrom := time.Now()
	if o.stacks != "" {
		if err := mon.tr.StartStacks(stackReq); err != nil {
			return err
		}
	}
	if o.pcap != "" {
		mon.startCapture()
	}
	fmt.Fprintf(stderr, "skbtop: tracing drops for %s (Ctrl-C reports early)\n", o.duration)
	warnUnmatched(stderr, first, o.filter, mon.hasFunction)
	timer := time.NewTimer(o.duration)
	defer timer.Stop()
	// Read every interval meanwhile, as the live view does: the kernel
	// map then holds only the keys of one interval, and namespaces and
	// interfaces are named while they exist.
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			// Interrupted: report what was collected so far.
			break wait
		case <-timer.C:
			break wait
		case <-tick.C:
			if _, err := mon.Snapshot(); err != nil {
				return err
			}
		}
	}
	// Stacks stop before the last reading: each one counted is then a
	// drop that reading counts too.
	var stacks drops.StackReport
	if o.stacks != "" {
		if stacks, err = mon.stopStacks(o.stacks, stacksFrom); err != nil {
			return err
		}
	}
	snap, err := mon.Snapshot()
	if err != nil {
		return err
	}
	// Rates over the whole window first: Apply keeps the totals of what it
	// hides.
	snap = snap.WindowRates().Apply(o.view())
	if o.stacks != "" {
		snap = snap.WithStacks(stacks)
	}
	if o.pcap != "" {
		// The samples are drained every 100 ms: those of the window's
		// last drops may still be on their way.
		samples, lost := mon.stopCapture(snap.Time)
		written, err := pcapng.WriteFile(o.pcap, pcapng.Window(snap, samples, lost))
		if err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		fmt.Fprintf(stderr, "skbtop: wrote %d sampled packets to %s\n", written, o.pcap)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	return writeTable(stdout, snap)
}

// runNDJSON prints one snapshot per interval, one JSON document a line,
// until ctx is done or o.duration has passed. The first line is the whole
// (empty) window; each later one lists only the sites and interfaces that
// dropped in its interval (drops.Snapshot.Changes), with totals for the
// whole window. Samples are left out to keep lines short; --once --json and
// the TUI's snapshots carry them.
func runNDJSON(ctx context.Context, mon *monitor, o options, stdout, stderr io.Writer) error {
	var line []byte
	first := true
	emit := func() error {
		snap, err := mon.Snapshot()
		if err != nil {
			return err
		}
		if first {
			warnUnmatched(stderr, snap, o.filter, mon.hasFunction)
		}
		// Grouped before Changes: a group that dropped keeps the count
		// of all its rows.
		snap = snap.Apply(o.view())
		if !first {
			snap = snap.Changes()
		}
		first = false
		line, err = snap.AppendJSON(line[:0], false)
		if err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		line = append(line, '\n')
		if _, err := stdout.Write(line); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		return nil
	}
	// The first line comes at once: an empty window that tells a reader
	// tracing has started.
	if err := emit(); err != nil {
		return err
	}
	for range o.ticks(ctx) {
		if err := emit(); err != nil {
			return err
		}
	}
	return nil
}

// warnUnmatched tells, once, on stderr, which parts of the filter match
// nothing seen so far, naming what there is; skbtop keeps running in case
// what was asked for appears.
func warnUnmatched(stderr io.Writer, snap drops.Snapshot, f drops.Filter, hasFunction func(string) bool) {
	for _, w := range snap.Unmatched(f, hasFunction) {
		fmt.Fprintf(stderr, "skbtop: warning: %s; counting on in case it appears\n", w)
	}
}

// writeTable prints a snapshot for people: drop sites, then interfaces and
// protocol counters when there are any.
func writeTable(w io.Writer, s drops.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "skbtop on %s (kernel %s), %.1fs window", s.Host, s.Kernel, s.WindowS)
	if s.Namespace != nil {
		fmt.Fprintf(tw, ", netns %s", s.Namespace.Label())
	}
	if g, err := drops.ParseGrouping(s.Group); err == nil && g != drops.GroupFull {
		fmt.Fprintf(tw, ", a row per %s", g.Describe())
	}
	if !s.Filter.IsZero() {
		fmt.Fprintf(tw, ", filter %s", s.Filter)
	}
	fmt.Fprintln(tw)
	if c := s.Capabilities; c != nil {
		for _, note := range c.Notes {
			fmt.Fprintf(tw, "note: %s\n", note)
		}
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(tw, "warning: %s\n", warn)
	}
	if rt := s.Retransmits; rt != nil {
		for _, note := range rt.Notes {
			fmt.Fprintf(tw, "note: %s\n", note)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SITE\tREASON\tINTERFACE\tPROTO\tCOUNT\tRATE/s")
	for _, site := range s.Sites {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f\n", site.SiteLabel(), drops.OrDash(site.ReasonLabel()),
			drops.OrDash(site.InterfacesLabel()), drops.OrDash(site.Proto()), site.Count, site.Rate)
	}
	if len(s.Sites) == 0 {
		fmt.Fprintln(tw, "(no drops)\t\t\t\t\t")
	}
	fmt.Fprintf(tw, "\ntotal %d drops, %.1f/s; samples lost %d, suppressed %d; map overflow %d; recursion misses %d; keys %d/%d\n",
		s.Totals.Drops, s.Totals.Rate, s.Totals.SamplesLost, s.Totals.SamplesSuppressed,
		s.Totals.KeysOverflowed, s.Totals.RecursionMisses, s.Totals.Keys, s.Totals.MaxKeys)
	writeStacks(tw, s)
	if h := s.Hidden; h != nil {
		fmt.Fprintf(tw, "hidden %d site(s), %d drops, %.1f/s (counted in the total) by %s\n", h.Sites, h.Drops, h.Rate, strings.Join(h.Rules, ", "))
	}
	writeInterfaces(tw, s.Interfaces)
	writeRetransmits(tw, s.Retransmits)
	if len(s.StackCounters) > 0 {
		fmt.Fprintln(tw, "\nCOUNTER\tCHANGE\tRATE/s\tVALUE")
		for _, c := range s.StackCounters {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\n", c.Name, c.Delta, c.Rate, c.Value)
		}
	}
	return tw.Flush()
}

// writeInterfaces lists the interfaces that are not quiet: the traced drops
// beside the change of each drop counter and how much of the counted drops
// the traced ones explain.
func writeInterfaces(w io.Writer, ifaces []drops.Interface) {
	fields := drops.DropFields()
	var shown, quiet int
	for _, ifc := range ifaces {
		if ifc.Quiet() {
			quiet++
			continue
		}
		if shown == 0 {
			fmt.Fprint(w, "\nINTERFACE\tTRACED")
			for _, f := range fields {
				fmt.Fprint(w, "\t", strings.ToUpper(f.String()))
			}
			fmt.Fprintln(w, "\t"+drops.ExplainedTitle)
		}
		shown++
		fmt.Fprintf(w, "%s\t%d", ifc.Label(), ifc.TracedDrops)
		for _, f := range fields {
			v := "-"
			if ifc.Delta != nil && ifc.Delta.Has(f) {
				v = strconv.FormatUint(ifc.Delta.Get(f), 10)
			}
			fmt.Fprint(w, "\t", v)
		}
		explained := "-"
		if rc := ifc.Reconciliation; rc.Counted > 0 {
			explained = fmt.Sprintf("%d (%.0f%%)", rc.Explained, 100*rc.Fraction)
		}
		if ifc.MapFull > 0 {
			// Drops with no site, which may be what was counted.
			explained += fmt.Sprintf(", %d map full", ifc.MapFull)
		}
		fmt.Fprintf(w, "\t%s\n", explained)
	}
	if shown > 0 {
		fmt.Fprintln(w, drops.CountersNote)
		fmt.Fprintln(w, drops.ExplainedNote)
		fmt.Fprintln(w, drops.NICRingNote)
	}
	if quiet > 0 {
		fmt.Fprintf(w, "%d interface(s) without drops not shown\n", quiet)
	}
}

// writeRetransmits lists the peers TCP retransmitted to, when there were
// retransmissions, with the kernel's TcpRetransSegs beside them.
func writeRetransmits(w io.Writer, r *drops.Retransmits) {
	if r == nil || (r.Count == 0 && r.Failed == 0) {
		return
	}
	fmt.Fprintln(w, "\nRETRANSMITS TO\tLOCAL PORT\tINTERFACE\tSTATE\tCOUNT\tSEGS\tUNSENT\tGIVEN UP\tRATE/s")
	for _, p := range r.Peers {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\n", p.Endpoint(), p.LocalPort, drops.OrDash(p.InterfaceLabel()),
			p.State, p.Count, p.Segs, p.Unsent, p.Failed, p.Rate)
	}
	fmt.Fprintf(w, "total %d retransmits (%d segments, %d not sent), %.1f/s; %d given up; map overflow %d; keys %d/%d", r.Count, r.Segs,
		r.Unsent, r.Rate, r.Failed, r.KeysOverflowed, r.Keys, r.MaxKeys)
	if r.Counter != nil {
		fmt.Fprintf(w, "; %s +%d (traced in this namespace %d)", r.Counter.Name, r.Counter.Delta, r.HomeSegs)
	}
	fmt.Fprintln(w)
}

// runMetrics reads the kernel every o.interval for the metrics endpoint
// until ctx is done or o.duration has passed: skbtop headless with
// --listen, as under systemd or in a container. Warnings (a counter source
// failing, the watched namespace deleted) are printed once each, for the
// journal; a tracer that cannot be read ends the run, for the supervisor
// to restart skbtop.
func runMetrics(ctx context.Context, mon *monitor, o options, stderr io.Writer) error {
	said := map[string]bool{}
	for range o.ticks(ctx) {
		snap, err := mon.Snapshot()
		if err != nil {
			return err
		}
		if len(said) > 1000 {
			// Warnings that keep changing (an error with a count in
			// it): say them again rather than grow without end.
			clear(said)
		}
		for _, w := range snap.Warnings {
			if !said[w] {
				said[w] = true
				fmt.Fprintf(stderr, "skbtop: warning: %s\n", w)
			}
		}
	}
	return nil
}

// writeStacks lists the stacks collected (--stacks) under each site, and
// the drops whose stack could not be counted.
func writeStacks(w io.Writer, s drops.Snapshot) {
	tr := s.StackTrace
	if tr == nil {
		return
	}
	fmt.Fprintf(w, "\nstacks of %s over %.1fs: %d drops recorded; not counted: %d over the rate limit, %d collisions, %d stack map full, %d count map full, %d failed\n",
		tr.Request, tr.Seconds, tr.Recorded, tr.Suppressed, tr.Collisions, tr.StacksFull, tr.CountsFull, tr.Failed)
	for _, site := range s.Sites {
		for _, st := range site.Stacks {
			fmt.Fprintf(w, "%d drops at %s %s %s:\n", st.Count, site.SiteLabel(), drops.OrDash(site.Reason), drops.OrDash(site.InterfacesLabel()))
			for _, f := range st.Frames {
				fmt.Fprintf(w, "    %s\n", f)
			}
		}
	}
}

// ticks yields once every --interval until ctx is done or --duration, if
// given, has passed: the pace of the JSON stream and of the metrics loop.
func (o options) ticks(ctx context.Context) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		var deadline <-chan time.Time // nil, never ready, without --duration
		if o.duration > 0 {
			t := time.NewTimer(o.duration)
			defer t.Stop()
			deadline = t.C
		}
		tick := time.NewTicker(o.interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-deadline:
				return
			case now := <-tick.C:
				if !yield(now) {
					return
				}
			}
		}
	}
}
