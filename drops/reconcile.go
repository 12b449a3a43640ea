package drops

import (
	"strings"
)

// rxCountedSites are the kfree_skb sites that also count the packet in its
// device's rx_dropped (or rx_nohandler), as of Linux 6.18, net/core/dev.c.
// A reason alone is not enough: UNHANDLED_PROTO is also used by IPv6
// extension header and ICMP parsing, DEV_READY on transmit paths and
// PFMEMALLOC by TCP, none of which touch the device counters. Functions
// match with or without a compiler suffix (.constprop.0, .isra.0), since
// both functions are static.
var rxCountedSites = []siteMatch{
	// The drop: label of __netif_receive_skb_core, reached when no
	// protocol handler took the frame (UNHANDLED_PROTO) or a pfmemalloc skb
	// carried a protocol that may not use emergency reserves (PFMEMALLOC in
	// recent kernels, UNHANDLED_PROTO in older ones). It counts rx_dropped,
	// or rx_nohandler when an rx_handler asked for exact delivery
	// (RX_HANDLER_EXACT: inactive bonding slaves).
	{"__netif_receive_skb_core", "UNHANDLED_PROTO"},
	{"__netif_receive_skb_core", "PFMEMALLOC"},
	// enqueue_to_backlog: the per-CPU backlog (netdev_max_backlog) or RPS
	// flow limit is full (CPU_BACKLOG), or the device is down (DEV_READY,
	// since 6.10; NOT_SPECIFIED before). Both count rx_dropped.
	{"enqueue_to_backlog", "CPU_BACKLOG"},
	{"enqueue_to_backlog", "DEV_READY"},
}

// rule ties interface counters to the kfree_skb sites that count in them.
type rule struct {
	// counters are summed: the sites count in one or the other.
	counters []LinkField
	// sites match by function (with or without a compiler suffix) and
	// reason; an empty function matches any.
	sites []siteMatch
}

type siteMatch struct{ function, reason string }

// rules are the interface counters traced drops can explain. A new one is
// a row here.
var rules = [...]rule{
	{counters: []LinkField{RxDropped, RxNoHandler}, sites: rxCountedSites},
	// ip_rcv_core and ip6_rcv_core count a packet addressed to another
	// host's MAC address (PACKET_OTHERHOST: promiscuous mode, a bridge
	// port, macvlan) in rx_otherhost_dropped and free it with OTHERHOST
	// (Linux 6.0+). Both are static and may be inlined into their callers.
	{counters: []LinkField{RxOtherhostDropped}, sites: []siteMatch{
		{"ip_rcv_core", "OTHERHOST"}, {"ip_rcv", "OTHERHOST"},
		{"ip6_rcv_core", "OTHERHOST"}, {"ipv6_rcv", "OTHERHOST"},
	}},
}

// matches reports whether site s counts in the rule's counters. It needs
// the site's function name where the rule names one: with kernel symbols
// hidden, nothing is known to count.
//
// On kernels without drop reasons (before 5.17) a site matches by its
// function alone: there, __netif_receive_skb_core and enqueue_to_backlog
// free an skb as a drop only where they count it (one kfree_skb each, after
// the counter), and rx_otherhost_dropped (6.0) is younger than reasons.
func (r *rule) matches(s *Site) bool {
	for _, c := range r.sites {
		reason := s.Reason == c.reason || s.ReasonCode == NoReason && c.function != ""
		if reason && (c.function == "" || s.Function == c.function || strings.HasPrefix(s.Function, c.function+".")) {
			return true
		}
	}
	return false
}

// CountedIn names the interface counters that also count the site's drops,
// as the reconciliation adds them up ("rx_dropped+rx_nohandler",
// "rx_otherhost_dropped"), or returns "" when no interface counter does
// (NO_SOCKET, the firewall, ...).
func CountedIn(s Site) string {
	for i := range rules {
		if rules[i].matches(&s) {
			return ruleNames[i]
		}
	}
	return ""
}

// ruleNames name the rules by their counters ("rx_dropped+rx_nohandler"),
// joined once: every interface of every snapshot names its rules.
var ruleNames = func() (names [len(rules)]string) {
	for i, r := range rules {
		parts := make([]string, len(r.counters))
		for j, f := range r.counters {
			parts[j] = f.String()
		}
		names[i] = strings.Join(parts, "+")
	}
	return names
}()

// CountsInRxDropped reports whether the site's drops are also counted in
// their interface's rx_dropped or rx_nohandler counter.
func CountsInRxDropped(s Site) bool { return rules[0].matches(&s) }

// Reconciliation compares an interface's drop counters with the drops
// traced on it over the same window. It answers "how much of what the
// interface counted as dropped do the traced drops explain?", one rule at a
// time (see rules):
//
//	Counted   = the growth of the rule's counters (rx_dropped+rx_nohandler)
//	Traced    = traced drops on the interface at sites that count in them
//	Explained = min(Traced, Counted)
//
// rx_nohandler is added to rx_dropped because the same kernel site counts a
// frame in one or the other (see rxCountedSites). Traced drops at other
// sites of the interface, such as NO_SOCKET in __udp4_lib_rcv or
// NETFILTER_DROP, count in no interface counter: they show in protocol
// counters (UdpNoPorts) or nowhere, and are reported as Elsewhere. What
// Explained leaves of Counted was counted without passing a kfree_skb site
// skbtop knows to count: typically drivers that count a lack of buffers as
// rx_dropped without ever building an skb. Explained is capped because the
// two figures come from different sources read at slightly different
// moments.
//
// NICRing is ΔRxMissed + ΔRxFIFO: frames the NIC dropped before the kernel
// had an skb for them (ring full, FIFO overrun). kfree_skb never sees them,
// so no tracer can explain them; the fix is on the NIC side (ethtool -G ring
// sizes, interrupt coalescing, RSS spreading). Note that ifconfig and
// /proc/net/dev show rx_dropped + rx_missed together as "dropped".
type Reconciliation struct {
	// HasCounters is false when the interface's counters could not be
	// read; then only the traced figures are set.
	HasCounters bool `json:"has_counters"`
	// Counted, Traced, Explained and Unexplained add up the rules.
	Counted     uint64 `json:"counted"`
	Traced      uint64 `json:"traced"`
	Explained   uint64 `json:"explained"`
	Unexplained uint64 `json:"unexplained"`
	// Elsewhere counts traced drops at sites that count in no interface
	// counter.
	Elsewhere uint64 `json:"elsewhere"`
	// MapFull counts the interface's drops that found the kernel map
	// full: traced, but without a site to say whether they count here.
	// Unexplained leaves out as many of them as it can.
	MapFull  uint64  `json:"map_full"`
	NICRing  uint64  `json:"nic_ring"`
	Fraction float64 `json:"fraction"`
	// Counters reconciles each rule's counters on its own.
	Counters []CounterReconciliation `json:"counters"`
}

// CounterReconciliation is one rule of a Reconciliation.
type CounterReconciliation struct {
	// Counters names the counters added up: "rx_dropped+rx_nohandler".
	Counters    string `json:"counters"`
	Counted     uint64 `json:"counted"`
	Traced      uint64 `json:"traced"`
	Explained   uint64 `json:"explained"`
	Unexplained uint64 `json:"unexplained"`
}

// Reconcile compares ifc's counters with the sites traced on it (matched by
// namespace and ifindex); pass the snapshot's sites. Fraction is
// Explained/Counted, and 0 when nothing was counted. Rules whose counters
// the kernel does not report are left out.
func Reconcile(ifc Interface, sites []Site) Reconciliation {
	return reconcile(ifc, sites, nil, true, nil)
}

// reconcile is Reconcile over the sites whose indices are in mine, or over
// every site when all is set.
func reconcile(ifc Interface, sites []Site, mine []int32, all bool, arena *[]CounterReconciliation) Reconciliation {
	r := Reconciliation{Counters: []CounterReconciliation{}}
	if arena != nil && len(*arena) >= len(rules) && ifc.Delta != nil {
		// The counters of many interfaces in one allocation.
		r.Counters, *arena = (*arena)[:0:len(rules)], (*arena)[len(rules):]
	}
	var traced [len(rules)]uint64
	n := len(mine)
	if all {
		n = len(sites)
	}
	for k := range n {
		i := k
		if !all {
			i = int(mine[k])
		}
		s := &sites[i]
		if s.Ifindex == 0 || s.Ifindex != ifc.Ifindex || s.Netns != ifc.Netns {
			continue
		}
		i = -1
		for k := range rules {
			if rules[k].matches(s) {
				i = k
				break
			}
		}
		if i < 0 {
			r.Elsewhere += s.Count
			continue
		}
		traced[i] += s.Count
	}
	if ifc.Delta == nil {
		r.MapFull = ifc.MapFull
		for _, n := range traced {
			r.Traced += n
		}
		return r
	}
	r.HasCounters = true
	for i, rl := range rules {
		if !ifc.Delta.Has(rl.counters[0]) {
			// A counter newer than this kernel: its sites' drops are
			// counted nowhere we can read.
			r.Elsewhere += traced[i]
			continue
		}
		c := CounterReconciliation{Counters: ruleNames[i], Traced: traced[i]}
		for _, f := range rl.counters {
			c.Counted += ifc.Delta.Get(f)
		}
		c.Explained = min(c.Traced, c.Counted)
		c.Unexplained = c.Counted - c.Explained
		r.Counters = append(r.Counters, c)
		r.Counted += c.Counted
		r.Traced += c.Traced
		r.Explained += c.Explained
		r.Unexplained += c.Unexplained
	}
	// Drops with no site may be what was counted: they are not called
	// unexplained.
	r.MapFull = ifc.MapFull
	r.Unexplained -= min(r.MapFull, r.Unexplained)
	r.NICRing = ifc.Delta.Get(RxMissed) + ifc.Delta.Get(RxFIFO)
	if r.Counted > 0 {
		r.Fraction = float64(r.Explained) / float64(r.Counted)
	}
	return r
}
