package drops

import "strings"

// siteHelp explains well-known drop sites by function, for the drops whose
// reason alone says little (NOT_SPECIFIED, or kernels before drop reasons).
// Keys are function names without compiler suffixes (.constprop.0).
var siteHelp = map[string]string{
	"ip_rcv_finish_core": "Input routing refused the packet. For multicast: the group is not joined on the interface " +
		"it arrived on (a join with INADDR_ANY picks the default-route interface; join on the right one with " +
		"ip_mreqn/IP_ADD_MEMBERSHIP, check with 'ip maddr show dev IFACE'). For unicast: rp_filter, a martian " +
		"source, or no route back.",
	"ip_rcv_finish": "Input routing refused the packet: a multicast group not joined on this interface, rp_filter, " +
		"or no route. See ip_rcv_finish_core.",
	"ip6_mc_input": "IPv6 multicast nobody on this interface listens to (not joined, e.g. MLD reports or " +
		"solicited-node groups of other hosts). Usually harmless.",
	"__netif_receive_skb_core": "No protocol handler took the frame (802.3/STP, LLDP, an ethertype nothing " +
		"listens for). Counted in the interface's rx_dropped although nothing is wrong.",
	"enqueue_to_backlog": "The per-CPU input backlog (net.core.netdev_max_backlog) was full: the CPU could not " +
		"keep up with receive. Spread load with RPS/RSS or raise the backlog.",
	"__neigh_event_send": "The queue of packets waiting for ARP/ND resolution of a neighbour was full " +
		"(unres_qlen_bytes): the neighbour does not answer. A dropped SYN shows as a 1 s or 3 s connect.",
	"neigh_invalidate": "Address resolution of a neighbour failed: packets that waited for it are dropped. " +
		"Check that the next hop is up and on the link.",
	"nf_hook_slow":   "A netfilter rule dropped the packet (nftables/iptables). List rules with counters: nft list ruleset.",
	"nft_do_chain":   "An nftables rule dropped the packet. List rules with counters: nft list ruleset.",
	"__udp4_lib_rcv": "UDP to a port with no socket (UdpNoPorts); an ICMP port unreachable goes back.",
	"__udp6_lib_rcv": "UDP to a port with no socket (Udp6NoPorts).",
	"tcp_v4_rcv":     "TCP segment with no matching socket or failing checks; for SYNs to a closed port a RST goes back.",
	"tcp_v6_rcv":     "TCP segment with no matching socket or failing checks; for SYNs to a closed port a RST goes back.",
	"udp_queue_rcv_one_skb": "The UDP socket's receive buffer was full (UdpRcvbufErrors): the application reads " +
		"too slowly; raise SO_RCVBUF / net.core.rmem_max.",
	"tcp_drop_reason":     "TCP discarded the segment; the reason names why (old data, out of window, memory).",
	"sk_skb_reason_drop":  "A socket-level drop; the reason names why.",
	"dst_discard":         "The packet's route is a discard route (or the route went away while it was queued).",
	"ip_forward":          "Forwarding refused the packet: forwarding disabled, TTL exceeded, or no route.",
	"ip_route_input_slow": "No route for the incoming packet (martian, no route, or a blackhole route).",
}

// SiteHelp explains a drop site by its function name (with or without a
// compiler suffix such as .constprop.0); "" for functions it does not know.
func SiteHelp(function string) string {
	fn, _, _ := strings.Cut(function, ".")
	return siteHelp[fn]
}
