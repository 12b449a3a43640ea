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
	Filter    Filter  `json:"filter"`
	Totals    Totals  `json:"totals"`
	Sites     []Site  `json:"sites"`
	// Protocols breaks the sites' drops down by L3 and L4.
	Protocols  []Protocol  `json:"protocols"`
	Interfaces []Interface `json:"interfaces"`
	// StackCounters are the namespace's drop-related SNMP counters: those
	// that moved in the window, or all of them with Config.AllCounters.
	StackCounters []StackCounter `json:"stack_counters,omitempty"`
	// Stack is every drop-related SNMP counter the source read, moved or
	// not, for sinks that export each from the start (metrics).
	Stack []StackCounter `json:"-"`
	// Start is when the window began: the first reading, or the reading
	// before the last Reset. Two snapshots with the same Start count from
	// the same moment, so their counts can be subtracted (see Growth).
	Start time.Time `json:"-"`
	// Partial marks a document that lists only the sites and interfaces
	// that dropped in the last interval (NDJSON lines after the first); a
	// site not listed keeps the count it had where it last appeared.
	// Totals and protocols always cover the whole window.
	Partial bool `json:"partial,omitempty"`
	// Warnings say what the view cannot show, such as hidden symbol
	// addresses or a counter source that failed.
	Warnings []string `json:"warnings,omitempty"`
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
	Function   string `json:"function"`
	Offset     string `json:"offset"`
	Module     string `json:"module"`
	Address    string `json:"address"`
	Reason     string `json:"reason"`
	ReasonCode uint32 `json:"reason_code"`
	Interface  string `json:"interface"`
	Ifindex    uint32 `json:"ifindex"`
	Netns      uint32 `json:"netns"`
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
	// Samples are the most recent sampled packets of this site, newest last.
	Samples []Packet `json:"samples,omitempty"`
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
	Gone        bool    `json:"gone,omitempty"`
	TracedDrops uint64  `json:"traced_drops"`
	TracedRate  float64 `json:"traced_rate"`
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
	if f.Interface != "" && s.Interface != f.Interface && s.InterfaceLabel() != f.Interface {
		return false
	}
	if f.Symbol != "" && !strings.Contains(strings.ToLower(s.Function), strings.ToLower(f.Symbol)) {
		return false
	}
	return true
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
		if f.Interface != "" && ifc.Name != f.Interface && ifc.Label() != f.Interface {
			continue
		}
		out.Interfaces = append(out.Interfaces, ifc)
	}
	out.Recount()
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
	out.Sites = []Site{}
	for _, site := range s.Sites {
		if site.Rate > 0 {
			out.Sites = append(out.Sites, site)
		}
	}
	out.Interfaces = []Interface{}
	for _, ifc := range s.Interfaces {
		if ifc.active() {
			out.Interfaces = append(out.Interfaces, ifc)
		}
	}
	return out
}

// active reports whether the interface dropped in the last interval: traced
// drops, or a drop counter that moved.
func (i Interface) active() bool {
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
func (s *Snapshot) Recount() {
	s.Totals.Drops, s.Totals.Bytes, s.Totals.Rate = 0, 0, 0
	for _, site := range s.Sites {
		s.Totals.Drops += site.Count
		s.Totals.Bytes += site.Bytes
		s.Totals.Rate += site.Rate
	}
	s.Protocols = protocols(s.Sites)
	s.Interfaces = traceInterfaces(s.Interfaces, s.Sites)
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
// without a device are not attributed to any interface.
func traceInterfaces(ifaces []Interface, sites []Site) []Interface {
	type id struct {
		cookie         uint64
		netns, ifindex uint32
		gone           bool
	}
	index := map[id]int{}
	out := make([]Interface, len(ifaces))
	for i, ifc := range ifaces {
		ifc.TracedDrops, ifc.TracedRate = 0, 0
		out[i] = ifc
		index[id{ifc.NetnsCookie, ifc.Netns, ifc.Ifindex, ifc.Gone}] = i
	}
	// Each interface's own sites, so that reconciling costs one pass over
	// the sites, not one per interface: thousands of each on a host full
	// of containers.
	var own [][]Site
	for _, s := range sites {
		if s.Ifindex == 0 {
			continue
		}
		k := id{s.NetnsCookie, s.Netns, s.Ifindex, s.Gone}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Interface{Name: s.Interface, Ifindex: s.Ifindex, Netns: s.Netns, NetnsCookie: s.NetnsCookie,
				Namespace: s.Namespace, Gone: s.Gone})
		}
		out[i].TracedDrops += s.Count
		out[i].TracedRate += s.Rate
		if own == nil {
			own = make([][]Site, len(out), len(out)+len(sites))
		}
		for len(own) <= i {
			own = append(own, nil)
		}
		own[i] = append(own[i], s)
	}
	for i := range out {
		var mine []Site
		if i < len(own) {
			mine = own[i]
		}
		out[i].Reconciliation = Reconcile(out[i], mine)
	}
	// A row kept only for traced drops the sites no longer have (a filter
	// took them out) says nothing.
	out = slices.DeleteFunc(out, func(i Interface) bool {
		return i.Counters == nil && i.TracedDrops == 0 && i.TracedRate == 0
	})
	slices.SortFunc(out, func(a, b Interface) int {
		return cmp.Or(cmp.Compare(b.TracedDrops, a.TracedDrops), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Netns, b.Netns), cmp.Compare(a.Ifindex, b.Ifindex))
	})
	return out
}

// L3Name names a host-order ethertype: IPv4, IPv6, ARP and a few others by
// name, anything else as hex (0x88b5).
func L3Name(ethertype uint16) string {
	switch ethertype {
	case 0x0800:
		return "IPv4"
	case 0x86dd:
		return "IPv6"
	case 0x0806:
		return "ARP"
	case 0x8100:
		return "802.1Q"
	case 0x88a8:
		return "802.1ad"
	case 0x8847:
		return "MPLS"
	case 0x88cc:
		return "LLDP"
	case 0x0004:
		// Linux's pseudo ethertype for 802.2 LLC frames (STP among them).
		return "802.2"
	case 0x0001:
		// Linux's pseudo ethertype for Novell raw 802.3 frames.
		return "802.3"
	}
	return fmt.Sprintf("0x%04x", ethertype)
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
