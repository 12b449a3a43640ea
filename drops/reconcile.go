package drops

import "strings"

// rxCountedSites are the kfree_skb sites that also count the packet in its
// device's rx_dropped (or rx_nohandler), as of Linux 6.18, net/core/dev.c.
// A reason alone is not enough: UNHANDLED_PROTO is also used by IPv6
// extension header and ICMP parsing, DEV_READY on transmit paths and
// PFMEMALLOC by TCP, none of which touch the device counters. Functions
// match with or without a compiler suffix (.constprop.0, .isra.0), since
// both functions are static.
var rxCountedSites = []struct{ function, reason string }{
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

// CountsInRxDropped reports whether the site's drops are also counted in
// their interface's rx_dropped or rx_nohandler counter. It needs the site's
// function name: with kernel symbols hidden, nothing is known to count.
func CountsInRxDropped(s Site) bool {
	for _, c := range rxCountedSites {
		if s.Reason == c.reason && (s.Function == c.function || strings.HasPrefix(s.Function, c.function+".")) {
			return true
		}
	}
	return false
}

// NICRingNote explains Reconciliation.NICRing in one line, for the TUI and
// the headless output to show beside rx_missed and rx_fifo.
const NICRingNote = "rx_missed and rx_fifo are frames the NIC dropped in its receive ring or FIFO before the kernel had an skb: " +
	"kfree_skb never sees them, so no traced drop explains them (see ethtool -S; ring sizes with ethtool -g/-G)."

// Reconciliation compares an interface's receive drop counters with the
// drops traced on it over the same window. It answers "how much of
// rx_dropped do the traced drops explain?":
//
//	Counted   = ΔRxDropped + ΔRxNoHandler
//	Traced    = traced drops on the interface at sites that count in them
//	            (CountsInRxDropped)
//	Explained = min(Traced, Counted)
//
// rx_nohandler is added to rx_dropped because the same kernel site counts a
// frame in one or the other (see rxCountedSites). Traced drops at other
// sites of the interface, such as NO_SOCKET in __udp4_lib_rcv or
// NETFILTER_DROP, do not count in rx_dropped: they show in protocol
// counters (UdpNoPorts) or nowhere, and are reported as Elsewhere. What
// Explained leaves of Counted was counted without passing a kfree_skb site
// skbtop knows to count: typically drivers that count a lack of buffers as
// rx_dropped without ever building an skb. Explained is capped because the
// two figures come from different sources read at slightly different moments
// (and windows reset separately if a caller resets only one).
//
// NICRing is ΔRxMissed + ΔRxFIFO: frames the NIC dropped before the kernel
// had an skb for them (ring full, FIFO overrun). kfree_skb never sees them,
// so no tracer can explain them; the fix is on the NIC side (ethtool -G ring
// sizes, interrupt coalescing, RSS spreading). Note that ifconfig and
// /proc/net/dev show rx_dropped + rx_missed together as "dropped".
type Reconciliation struct {
	// HasCounters is false when the interface's counters could not be
	// read; then only the traced figures are set.
	HasCounters bool    `json:"has_counters"`
	Counted     uint64  `json:"counted"`
	Traced      uint64  `json:"traced"`
	Explained   uint64  `json:"explained"`
	Unexplained uint64  `json:"unexplained"`
	Elsewhere   uint64  `json:"elsewhere"`
	NICRing     uint64  `json:"nic_ring"`
	Fraction    float64 `json:"fraction"`
}

// Reconcile compares ifc's counters with the sites traced on it (matched by
// namespace and ifindex); pass the snapshot's sites. Fraction is
// Explained/Counted, and 0 when nothing was counted.
func Reconcile(ifc Interface, sites []Site) Reconciliation {
	var r Reconciliation
	for _, s := range sites {
		if s.Ifindex == 0 || s.Ifindex != ifc.Ifindex || s.Netns != ifc.Netns {
			continue
		}
		if CountsInRxDropped(s) {
			r.Traced += s.Count
		} else {
			r.Elsewhere += s.Count
		}
	}
	if ifc.Delta == nil {
		return r
	}
	r.HasCounters = true
	r.Counted = ifc.Delta.RxDropped + ifc.Delta.RxNoHandler
	r.Explained = min(r.Traced, r.Counted)
	r.Unexplained = r.Counted - r.Explained
	r.NICRing = ifc.Delta.RxMissed + ifc.Delta.RxFIFO
	if r.Counted > 0 {
		r.Fraction = float64(r.Explained) / float64(r.Counted)
	}
	return r
}
