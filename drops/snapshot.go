package drops

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SchemaV1 names the snapshot document format.
const SchemaV1 = "skbtop.snapshot/v1"

// Snapshot is what skbtop shows at one moment: the document written by the
// TUI's snapshot key, printed by --json and rendered by every pane.
type Snapshot struct {
	Schema  string    `json:"schema"`
	Host    string    `json:"host"`
	Kernel  string    `json:"kernel"`
	Time    time.Time `json:"time"`
	WindowS float64   `json:"window_s"`
	// IntervalS is the length of the interval the rates were measured over.
	IntervalS float64 `json:"interval_s"`
	// Namespace is the network namespace skbtop watches (--netns): only
	// its drops are counted, and its interfaces go by their names alone.
	// Absent when skbtop counts the drops of every namespace.
	Namespace *Watched `json:"namespace,omitempty"`
	Filter    Filter   `json:"filter"`
	// Group says what a row of Sites stands for when they are grouped
	// (Grouped): "site" (site and reason) or "reason"; absent when each
	// row is one site, reason, interface and protocol.
	Group string `json:"group,omitempty"`
	// Hidden says what hide rules left out of Sites (Hiding); absent when
	// there are none. Hidden drops are in the totals.
	Hidden *Hidden `json:"hidden,omitempty"`
	Totals Totals  `json:"totals"`
	Sites  []Site  `json:"sites"`
	// Protocols breaks the sites' drops down by L3 and L4.
	Protocols  []Protocol  `json:"protocols"`
	Interfaces []Interface `json:"interfaces"`
	// StackCounters are the namespace's drop-related SNMP counters: those
	// that moved in the window, or all of them with Config.AllCounters.
	StackCounters []StackCounter `json:"stack_counters,omitempty"`
	// Retransmits counts TCP retransmissions per peer; absent when skbtop
	// does not trace them (the kernel has no tcp_retransmit_skb
	// tracepoint).
	Retransmits *Retransmits `json:"retransmits,omitempty"`
	// Stack is every drop-related SNMP counter the source read, moved or
	// not, for sinks that export each from the start (metrics).
	Stack []StackCounter `json:"-"`
	// Start is when the window began: the first reading, or the reading
	// before the last Reset. Two snapshots with the same Start count from
	// the same moment, so their counts can be subtracted (see Growth).
	Start time.Time `json:"-"`
	// Version numbers the aggregator's snapshots: two with the same
	// non-zero Version show the same drops and counters, and differ at most
	// in their times (Time, WindowS). A view can skip redoing its work for
	// a snapshot it has seen. Zero means unknown.
	Version uint64 `json:"-"`
	// Rows numbers the snapshot's rows: two with the same non-zero Rows
	// list the same sites, interfaces, counts and rates, and differ at
	// most in the sites' histories and the times. Zero means unknown.
	Rows uint64 `json:"-"`
	// Names numbers the snapshot's rows by what they are called: two
	// with the same non-zero Names list the same sites under the same
	// names (function, offset, interface, namespace, gone), though maybe
	// with other counts and in another order. A view can keep the layout
	// it fitted to the names. Zero means unknown.
	Names uint64 `json:"-"`
	// Partial marks a document that lists only the sites and interfaces
	// that dropped in the last interval (NDJSON lines after the first); a
	// site not listed keeps the count it had where it last appeared.
	// Totals and protocols always cover the whole window.
	Partial bool `json:"partial,omitempty"`
	// Capabilities says what this kernel does not report; absent when it
	// reports everything skbtop shows.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// StackTrace says what the stack collection behind the sites' Stacks
	// covered, and how many drops' stacks it could not count; absent
	// when no stacks were collected.
	StackTrace *StackTrace `json:"stack_trace,omitempty"`
	// Warnings say what the view cannot show, such as hidden symbol
	// addresses or a counter source that failed.
	Warnings []string `json:"warnings,omitempty"`
}

// Capabilities are what the running kernel can report, where it lacks
// something: every view shows its Notes.
type Capabilities struct {
	// DropReasons is false on kernels whose kfree_skb tracepoint passes no
	// drop reason (before Linux 5.17): sites have no reason.
	DropReasons bool `json:"drop_reasons"`
	// Notes say in a line each what the views lack on this kernel.
	Notes []string `json:"notes"`
}

// ReasonCode is a drop reason's enum skb_drop_reason value, or NoReason.
type ReasonCode uint32

// IsZero says that the code stands for no reason, so that JSON leaves it
// out (omitzero): 0 is a reason on some kernels (NOT_SPECIFIED in 5.17).
func (c ReasonCode) IsZero() bool { return c == NoReason }

// ReasonLabel is the site's reason as the views show it: Reason, or
// "unknown" on kernels without reasons.
func (s Site) ReasonLabel() string {
	if s.ReasonCode == NoReason {
		return "unknown"
	}
	return s.Reason
}

// Watched is the network namespace a snapshot is limited to.
type Watched struct {
	// Name is what people call it: its `ip netns` name, docker/ID, or the
	// lowest process living there ("pid 812 (nginx)"); "" when it has
	// none.
	Name string `json:"name,omitempty"`
	// Path is the file it was opened by (/run/netns/NAME,
	// /proc/PID/ns/net).
	Path string `json:"path"`
	// Inode is its inode number, the netns of its sites and interfaces.
	Inode uint32 `json:"inode"`
}

// Label names the namespace for a header: its name, or its path.
func (w *Watched) Label() string {
	if w.Name != "" {
		return w.Name
	}
	return w.Path
}

// Totals sums the sites and reports the tracer's health over the window.
type Totals struct {
	Drops uint64  `json:"drops"`
	Bytes uint64  `json:"bytes"`
	Rate  float64 `json:"rate"`
	// SamplesLost counts samples the ring buffer had no room for.
	SamplesLost uint64 `json:"samples_lost"`
	// SamplesSuppressed counts drops the sample rate limit skipped.
	SamplesSuppressed uint64 `json:"samples_suppressed"`
	// KeysOverflowed counts drops that found the kernel's map full; they are
	// included in Drops under the overflow site.
	KeysOverflowed uint64 `json:"keys_overflowed"`
	// RecursionMisses counts drops the kernel did not let the program see.
	RecursionMisses uint64 `json:"recursion_misses"`
	// Keys is how many keys the kernel's aggregate map holds now, out of
	// MaxKeys: keys idle for a refresh are taken out.
	Keys    uint32 `json:"keys"`
	MaxKeys uint32 `json:"max_keys"`
}

// OverflowFunction is the Function of the site that stands for drops counted
// while the kernel's aggregate map was full.
const OverflowFunction = "[map full]"

// Site is one row of the drop-site view.
type Site struct {
	Function string `json:"function"`
	Offset   string `json:"offset"`
	Module   string `json:"module"`
	Address  string `json:"address"`
	// Reason names ReasonCode; absent where the kernel reports no
	// reasons, and "" for the map-full site.
	Reason     string     `json:"reason,omitempty"`
	ReasonCode ReasonCode `json:"reason_code,omitzero"`
	Interface  string     `json:"interface"`
	Ifindex    uint32     `json:"ifindex"`
	Netns      uint32     `json:"netns"`
	// NetnsCookie is the namespace's cookie, which the kernel never
	// reuses; absent on kernels before 5.14.
	NetnsCookie uint64 `json:"netns_cookie,omitempty"`
	// Namespace names Netns ("web", "pid 812 (nginx)", or ns:INODE when it
	// has no name) when it is not the namespace skbtop reports on.
	Namespace string `json:"namespace,omitempty"`
	// Gone says the interface or its namespace no longer exists: the row
	// keeps its own drops under its last name.
	Gone  bool    `json:"gone,omitempty"`
	L3    string  `json:"l3"`
	L4    string  `json:"l4"`
	Count uint64  `json:"count"`
	Bytes uint64  `json:"bytes"`
	Rate  float64 `json:"rate"`
	// A grouped row (Group) over several interfaces has no interface
	// of its own: Ifaces says how many, BusiestIface which dropped most
	// (its label).
	Ifaces       int    `json:"ifaces,omitempty"`
	BusiestIface string `json:"busiest_iface,omitempty"`
	// A row grouped by reason over several sites has no site of its
	// own: Sites says how many, BusiestSite which dropped most
	// (function+offset).
	Sites       int    `json:"sites,omitempty"`
	BusiestSite string `json:"busiest_site,omitempty"`
	// Protos is how many L3/L4 pairs a grouped row's drops had when
	// more than one: L4, and L3 unless they all share it, are then empty.
	Protos int `json:"protos,omitempty"`
	// Samples are the most recent sampled packets of this site, newest last.
	Samples []Packet `json:"samples,omitempty"`
	// Sampled is how many of Count's drops were sampled, of which Samples
	// holds the last SamplesPerSite.
	Sampled uint64 `json:"sampled"`
	// Stacks are the site's distinct kernel stacks, most frequent first,
	// when stacks were collected for it (--stacks, the live view's 't').
	Stacks []KernelStack `json:"stacks,omitempty"`
	// History holds the site's rate per interval over the last minute,
	// oldest first.
	History []float64 `json:"-"`
	// Key is the kernel bucket this site shows.
	Key Key `json:"-"`
	// Lifetime numbers the lifetimes of the site's interface (an ifindex
	// the kernel handed to a new interface starts a new one): with Key it
	// names the row across snapshots (see Site.Row).
	Lifetime uint32 `json:"-"`
}

// Symbol renders the site's location as function+0xoffset [module].
func (s Site) Symbol() string {
	if s.Function == "" {
		return s.Address
	}
	if s.Function == OverflowFunction {
		return s.Function
	}
	sym := s.Function + "+" + s.Offset
	if s.Module != "" {
		sym += " [" + s.Module + "]"
	}
	return sym
}

// InterfaceLabel names the site's interface for people: eth0, or eth0@web
// when it lives in another namespace than the one reported on.
func (s Site) InterfaceLabel() string { return ifaceLabel(s.Interface, s.Namespace, s.Gone) }

// Label names the interface for people, as Site.InterfaceLabel does.
func (i Interface) Label() string { return ifaceLabel(i.Name, i.Namespace, i.Gone) }

// ifaceLabel is eth0, eth0@web, or eth0@web (gone).
func ifaceLabel(name, ns string, gone bool) string {
	if name == "" {
		return name
	}
	if ns != "" {
		name += "@" + ns
	}
	if gone {
		name += " (gone)"
	}
	return name
}

// Protocol is one row of the protocol breakdown.
type Protocol struct {
	L3    string  `json:"l3"`
	L4    string  `json:"l4"`
	Count uint64  `json:"count"`
	Rate  float64 `json:"rate"`
}

// Interface is one row of the interface view: the drops traced on it and,
// when the kernel's counters could be read, those counters.
type Interface struct {
	Name    string `json:"name"`
	Ifindex uint32 `json:"ifindex"`
	Netns   uint32 `json:"netns"`
	// NetnsCookie is as Site.NetnsCookie.
	NetnsCookie uint64 `json:"netns_cookie,omitempty"`
	// Namespace names Netns, as Site.Namespace does.
	Namespace string `json:"namespace,omitempty"`
	// Gone is as Site.Gone.
	Gone        bool   `json:"gone,omitempty"`
	TracedDrops uint64 `json:"traced_drops"`
	// MapFull counts the interface's drops that found the kernel map full:
	// traced, and in the totals under [map full], but with no site.
	MapFull    uint64  `json:"map_full"`
	TracedRate float64 `json:"traced_rate"`
	// Counters are the interface's cumulative kernel counters, nil when
	// they could not be read.
	Counters *LinkCounters `json:"counters,omitempty"`
	// Delta is the change of Counters over the snapshot window.
	Delta *LinkCounters `json:"delta,omitempty"`
	// Rates is the per-second change of Counters over the last interval.
	Rates *LinkRates `json:"rates,omitempty"`
	// Reconciliation says how much of the window's counted drops the
	// traced drops explain (see Reconcile).
	Reconciliation Reconciliation `json:"reconciliation"`
}

// StackCounter is one drop-related protocol counter from /proc/net/snmp or
// /proc/net/netstat, such as UdpNoPorts.
type StackCounter struct {
	Name  string  `json:"name"`
	Value uint64  `json:"value"`
	Delta uint64  `json:"delta"`
	Rate  float64 `json:"rate"`
}

// Filter narrows a snapshot. The zero Filter matches everything.
type Filter struct {
	// Interface matches the interface name, or its label (eth0@web) to
	// pick one namespace's, exactly.
	Interface string `json:"interface,omitempty"`
	// Symbol matches a substring of the function name, ignoring case.
	Symbol string `json:"symbol,omitempty"`
}

// IsZero reports whether the filter matches everything.
func (f Filter) IsZero() bool { return f.Interface == "" && f.Symbol == "" }

// String describes the filter for a header line; "" when it is zero.
func (f Filter) String() string {
	var parts []string
	if f.Interface != "" {
		parts = append(parts, "iface="+f.Interface)
	}
	if f.Symbol != "" {
		parts = append(parts, "symbol~"+f.Symbol)
	}
	return strings.Join(parts, " ")
}

// Match reports whether a site passes the filter.
func (f Filter) Match(s Site) bool {
	return f.matchInterface(s.Interface, s.InterfaceLabel()) && f.matchSymbol(s.Function)
}

// matchSymbol reports whether a symbol filter matches a function name.
func (f Filter) matchSymbol(fn string) bool {
	return f.Symbol == "" || strings.Contains(strings.ToLower(fn), strings.ToLower(f.Symbol))
}

// matchInterface reports whether an interface filter names the interface
// (by its name or its label).
func (f Filter) matchInterface(name, label string) bool {
	return f.Interface == "" || name == f.Interface || label == f.Interface
}

// maxNamed is how many of what exists Unmatched names.
const maxNamed = 8

// Unmatched says, for each part of the filter that matches nothing seen so
// far, what it asked for and what there is instead, in a sentence every
// output shows the same: the live view in its header, headless outputs on
// stderr. An interface filter is unmatched when no interface of the
// snapshot (quiet ones included) and no site has that name or label. A
// symbol filter is unmatched when no site matches it and hasFunction (nil
// when the kernel's symbols are not known) says no kernel function
// contains it, or, without hasFunction, when there are sites and none
// matches. Interfaces and sites may still appear: the filter stays.
func (s Snapshot) Unmatched(f Filter, hasFunction func(substr string) bool) []string {
	var out []string
	if f.Interface != "" {
		var labels []string
		found := false
		for _, ifc := range s.Interfaces {
			found = found || f.matchInterface(ifc.Name, ifc.Label())
			labels = append(labels, ifc.Label())
		}
		for _, site := range s.Sites {
			if site.Interface != "" {
				found = found || f.matchInterface(site.Interface, site.InterfaceLabel())
				labels = append(labels, site.InterfaceLabel())
			}
		}
		if !found {
			out = append(out, "iface="+f.Interface+" matches no interface seen so far ("+named("interfaces", labels)+")")
		}
	}
	if f.Symbol != "" {
		var fns []string
		found := false
		for _, site := range s.Sites {
			found = found || f.matchSymbol(site.Function)
			if site.Function != "" && site.Function != OverflowFunction {
				fns = append(fns, site.Function)
			}
		}
		switch {
		case found:
		case hasFunction != nil && !hasFunction(f.Symbol):
			out = append(out, "symbol~"+f.Symbol+" is in no kernel function's name ("+named("drop sites", fns)+")")
		case hasFunction == nil && len(s.Sites) > 0:
			out = append(out, "symbol~"+f.Symbol+" matches no drop site seen so far ("+named("drop sites", fns)+")")
		}
	}
	return out
}

// named lists a few of names, sorted and without repeats, for a sentence:
// "interfaces: eth0, lo", "interfaces: none yet", or "... and 4 more".
func named(what string, names []string) string {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return what + ": none yet"
	}
	more := ""
	if len(names) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(names)-maxNamed)
		names = names[:maxNamed]
	}
	return what + ": " + strings.Join(names, ", ") + more
}

// Filtered returns a copy of the snapshot that keeps only the sites the
// filter matches, with totals, protocols and the interfaces' traced drops
// recomputed from those sites. Tracer health figures are kept as they are:
// they describe the tracer, not a subset of sites.
func (s Snapshot) Filtered(f Filter) Snapshot {
	if f.IsZero() && s.Filter.IsZero() {
		// Nothing to take out: no copy of what can be thousands of
		// sites, which every NDJSON line would otherwise pay for.
		return s
	}
	out := s
	out.Filter = f
	// An empty list, not nil: the JSON document always has "sites": [].
	out.Sites = []Site{}
	for _, site := range s.Sites {
		if f.Match(site) {
			out.Sites = append(out.Sites, site)
		}
	}
	out.Interfaces = []Interface{}
	for _, ifc := range s.Interfaces {
		if !f.matchInterface(ifc.Name, ifc.Label()) {
			continue
		}
		out.Interfaces = append(out.Interfaces, ifc)
	}
	out.Recount()
	out.Retransmits = s.Retransmits.filtered(f)
	if f.Symbol != "" {
		// An interface's counters say nothing about the sites a symbol
		// filter keeps: only interfaces with matching traced drops stay.
		out.Interfaces = slices.DeleteFunc(out.Interfaces, func(i Interface) bool {
			return i.TracedDrops == 0 && i.TracedRate == 0
		})
	}
	return out
}

// Changes returns a copy of the snapshot that lists only the sites and
// interfaces that dropped in the last interval, marked Partial: what a
// stream needs to say each interval, where repeating thousands of idle
// sites every second would be most of its bytes.
func (s Snapshot) Changes() Snapshot {
	out := s
	out.Partial = true
	out.Retransmits = s.Retransmits.changes()
	out.Sites = changed(s.Sites, func(s *Site) bool { return s.Rate > 0 })
	out.Interfaces = changed(s.Interfaces, (*Interface).active)
	return out
}

// changed returns the rows that changed: a slice of rows when they are its
// first rows (sites sorted by rate put the ones with a rate first; a
// snapshot's rows are never changed in place, so they can be shared), else
// a copy of them. Rows are large, and on a busy node thousands of them
// change each interval.
func changed[T any](rows []T, moved func(*T) bool) []T {
	n := 0
	for n < len(rows) && moved(&rows[n]) {
		n++
	}
	var out []T
	for i := n; i < len(rows); i++ {
		if !moved(&rows[i]) {
			continue
		}
		if out == nil {
			out = append(make([]T, 0, len(rows)-i+n), rows[:n]...)
		}
		out = append(out, rows[i])
	}
	if out == nil {
		return rows[:n:n]
	}
	return out
}

// WindowRates returns a copy of the snapshot whose rates are over the whole
// window rather than the last interval: what a one-shot report (--once)
// means by a rate.
func (s Snapshot) WindowRates() Snapshot {
	out := s
	w := s.WindowS
	per := func(n uint64) float64 {
		if w <= 0 {
			return 0
		}
		return float64(n) / w
	}
	out.IntervalS = w
	out.Sites = make([]Site, len(s.Sites))
	for i, site := range s.Sites {
		site.Rate = per(site.Count)
		out.Sites[i] = site
	}
	out.Interfaces = make([]Interface, len(s.Interfaces))
	for i, ifc := range s.Interfaces {
		if ifc.Delta != nil {
			r := LinkRates{}
			for f := range NumLinkFields {
				if ifc.Delta.Has(f) {
					r.Set(f, per(ifc.Delta.Get(f)))
				}
			}
			ifc.Rates = &r
		}
		out.Interfaces[i] = ifc
	}
	out.StackCounters = make([]StackCounter, len(s.StackCounters))
	for i, c := range s.StackCounters {
		c.Rate = per(c.Delta)
		out.StackCounters[i] = c
	}
	SortSites(out.Sites, ByRate)
	out.Recount()
	out.Retransmits = s.Retransmits.windowRates(w, out.Sites, s.Totals.KeysOverflowed > 0)
	return out
}

// active reports whether the interface dropped in the last interval: traced
// drops, or a drop counter that moved.
func (i *Interface) active() bool {
	if i.TracedRate > 0 {
		return true
	}
	if i.Rates == nil {
		return false
	}
	for _, f := range DropFields() {
		if i.Rates.Get(f) > 0 {
			return true
		}
	}
	return false
}

// Recount sets the totals, the protocol breakdown and the interfaces' traced
// drops from the sites, keeping the tracer's health figures.
func (s *Snapshot) Recount() { s.recount(false, nil) }

// recount is Recount; owned says the snapshot's interfaces are its own
// (no other snapshot shares them), so that they are changed in place, and
// w is working memory to reuse (nil: none).
func (s *Snapshot) recount(owned bool, w *joinScratch) {
	s.Totals.Drops, s.Totals.Bytes, s.Totals.Rate = 0, 0, 0
	for _, site := range s.Sites {
		s.Totals.Drops += site.Count
		s.Totals.Bytes += site.Bytes
		s.Totals.Rate += site.Rate
	}
	s.Protocols = protocols(s.Sites)
	s.Interfaces = traceInterfaces(s.Interfaces, s.Sites, owned, w)
}

// protocols groups sites by L3 and L4, largest count first.
func protocols(sites []Site) []Protocol {
	type l3l4 struct{ l3, l4 string }
	byProto := map[l3l4]*Protocol{}
	for _, s := range sites {
		k := l3l4{s.L3, s.L4}
		p := byProto[k]
		if p == nil {
			p = &Protocol{L3: s.L3, L4: s.L4}
			byProto[k] = p
		}
		p.Count += s.Count
		p.Rate += s.Rate
	}
	out := make([]Protocol, 0, len(byProto))
	for _, p := range byProto {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Protocol) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.L3, b.L3), cmp.Compare(a.L4, b.L4))
	})
	return out
}

// traceInterfaces sets the traced drops and rate of each interface from the
// sites, adding interfaces that have traced drops but no counters. Sites
// without a device are not attributed to any interface. It works on a
// copy of ifaces unless owned.
func traceInterfaces(ifaces []Interface, sites []Site, owned bool, w *joinScratch) []Interface {
	out := ifaces
	if !owned {
		out = slices.Clone(ifaces)
	}
	if w == nil {
		w = new(joinScratch)
	}
	if w.index == nil {
		// Room for the rows the sites add, as much as the caller made.
		w.index = make(map[joinID]int32, len(out)+min(len(sites), cap(out)-len(out)))
	}
	index := w.index
	clear(index)
	for i := range out {
		ifc := &out[i]
		ifc.TracedDrops, ifc.TracedRate = 0, 0
		index[joinID{ifc.NetnsCookie, ifc.Netns, ifc.Ifindex, ifc.Gone}] = int32(i)
	}
	// Each interface's own sites, grouped in one slice (a counting sort
	// by interface), so that reconciling costs one pass over the sites,
	// not one per interface: thousands of each on a host full of
	// containers.
	of := grow(&w.of, len(sites)) // each site's interface, or -1
	for j := range sites {
		s := &sites[j]
		of[j] = -1
		if s.Ifindex == 0 {
			continue
		}
		k := joinID{s.NetnsCookie, s.Netns, s.Ifindex, s.Gone}
		i, ok := index[k]
		if !ok {
			i = int32(len(out))
			index[k] = i
			out = append(out, Interface{Name: s.Interface, Ifindex: s.Ifindex, Netns: s.Netns, NetnsCookie: s.NetnsCookie,
				Namespace: s.Namespace, Gone: s.Gone})
		}
		out[i].TracedDrops += s.Count
		out[i].TracedRate += s.Rate
		of[j] = i
	}
	start := grow(&w.start, len(out)+1)
	clear(start)
	for _, i := range of {
		if i >= 0 {
			start[i+1]++
		}
	}
	for i := range out {
		start[i+1] += start[i]
	}
	grouped := grow(&w.grouped, int(start[len(out)]))
	next := grow(&w.next, len(out))
	copy(next, start)
	for j, i := range of {
		if i >= 0 {
			grouped[next[i]] = int32(j)
			next[i]++
		}
	}
	// Only interfaces with counters have counters to reconcile.
	withCounters := 0
	for i := range out {
		if out[i].Delta != nil {
			withCounters++
		}
	}
	arena := make([]CounterReconciliation, withCounters*len(rules))
	for i := range out {
		out[i].Reconciliation = reconcile(out[i], sites, grouped[start[i]:start[i+1]], false, &arena)
	}
	// A row kept only for traced drops the sites no longer have (a filter
	// took them out) says nothing.
	out = slices.DeleteFunc(out, func(i Interface) bool {
		return i.Counters == nil && i.TracedDrops == 0 && i.TracedRate == 0 && i.MapFull == 0
	})
	// Sort what the order compares (ifaceEntry), side by side, and move
	// the large Interfaces once, by the permutation. Quiet interfaces come
	// last, so that a view leaving them out keeps the others as they are.
	order := grow(&w.order, len(out))
	for i := range out {
		ifc := &out[i]
		order[i] = ifaceEntry{ifc.TracedDrops, ifc.Quiet(), ifc.Name, ifc.Netns, ifc.Ifindex, ifc.NetnsCookie, i}
	}
	slices.SortFunc(order, func(a, b ifaceEntry) int {
		switch { // in line, as in sortLocked
		case a.traced != b.traced:
			return after(a.traced < b.traced)
		case a.quiet != b.quiet:
			return after(a.quiet)
		case a.name != b.name:
			return strings.Compare(a.name, b.name)
		case a.netns != b.netns:
			return cmp.Compare(a.netns, b.netns)
		case a.ifindex != b.ifindex:
			return cmp.Compare(a.ifindex, b.ifindex)
		}
		return cmp.Compare(a.cookie, b.cookie)
	})
	at := grow(&w.at, len(order))
	for k, e := range order {
		at[k] = e.i
	}
	permute(out, at)
	// The scratch holds no names past the call.
	clear(order)
	return out
}

// joinScratch is the working memory of traceInterfaces, which the
// aggregator keeps from one snapshot to the next: a host full of
// containers joins thousands of sites to thousands of interfaces a
// refresh. Nothing in it outlives a call.
type joinScratch struct {
	index                    map[joinID]int32
	of, start, grouped, next []int32
	order                    []ifaceEntry
	at                       []int
}

// joinID is an interface as traceInterfaces matches sites to it.
type joinID struct {
	cookie         uint64
	netns, ifindex uint32
	gone           bool
}

// ifaceEntry is what the interfaces' order compares, side by side.
type ifaceEntry struct {
	traced         uint64
	quiet          bool
	name           string
	netns, ifindex uint32
	cookie         uint64
	i              int
}

// grow returns (*buf)[:n], growing *buf when it is shorter; what it holds
// is left to the caller to overwrite.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// L3Name names a host-order ethertype: the IP versions, the other
// protocols a Linux box meets on the wire (ARP, VLAN tags, LLDP, LACP,
// 802.1X, PTP, PPPoE, MACsec, ...) and Linux's own pseudo ethertypes by
// name; 0, which an skb that came from no device carries, as "none";
// anything else as hex (0x88b5, the IEEE's local experimental type).
func L3Name(ethertype uint16) string {
	if name, ok := ethertypes[ethertype]; ok {
		return name
	}
	return fmt.Sprintf("0x%04x", ethertype)
}

// ethertypes are the names L3Name knows.
var ethertypes = map[uint16]string{
	0x0800: "IPv4",
	0x86dd: "IPv6",
	0x0806: "ARP",
	0x8035: "RARP",
	0x8100: "802.1Q",
	0x88a8: "802.1ad",
	0x9100: "QinQ",
	0x8847: "MPLS",
	0x8848: "MPLS-mc",
	0x88cc: "LLDP",
	0x8809: "LACP", // IEEE slow protocols: LACP, marker, OAM
	0x888e: "EAPOL",
	0x88f7: "PTP",
	0x8863: "PPPoE-D",
	0x8864: "PPPoE",
	0x88e5: "MACsec",
	0x8906: "FCoE",
	0x8914: "FIP",
	0x8915: "RoCE",
	0x894f: "NSH",
	0x88fb: "PRP",
	0x892f: "HSR",
	0x9000: "LOOP", // Ethernet configuration testing protocol
	0x80f3: "AARP",
	0x809b: "ATALK",
	0x8137: "IPX",
	// Linux's pseudo ethertypes, set by drivers for frames that have
	// none on the wire.
	0x0000: "none",
	0x0001: "802.3", // Novell raw 802.3
	0x0004: "802.2", // 802.2 LLC frames, STP among them
	0x000c: "CAN",
	0x000d: "CANFD",
	0x000e: "CANXL",
	0x0019: "HDLC",
	0x00fa: "MCTP",
}

// L3Label names what a site's drops carried: L3Name of the ethertype or,
// for ethertype 0 (an skb that came from no device, whose protocol no one
// set), the address family of the function that dropped it when its name
// says which: vsock (virtio, vhost, Hyper-V and VMCI transports), netlink,
// unix. The ethertype alone cannot tell them apart, and an skb freed by
// generic code (skb_queue_purge) stays "none".
func L3Label(ethertype uint16, function string) string {
	if ethertype == 0 {
		for _, f := range families {
			for _, p := range f.prefixes {
				if strings.HasPrefix(function, p) {
					return f.name
				}
			}
		}
	}
	return L3Name(ethertype)
}

// families are the address families L3Label tells by their functions.
var families = []struct {
	name     string
	prefixes []string
}{
	{"vsock", []string{"vsock_", "__vsock_", "virtio_transport_", "virtio_vsock_", "vhost_vsock_", "hvs_", "vmci_transport_"}},
	{"netlink", []string{"netlink_", "__netlink_"}},
	{"unix", []string{"unix_", "__unix_"}},
}

// L4Name names an IP protocol number; "" for 0, which means the drop had no
// IPv4 or IPv6 header to read it from.
func L4Name(proto uint8) string {
	switch proto {
	case 0:
		return ""
	case 1:
		return "ICMP"
	case 2:
		return "IGMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	case 58:
		return "ICMPv6"
	case 132:
		return "SCTP"
	case 136:
		return "UDPLite"
	}
	return fmt.Sprintf("%d", proto)
}
