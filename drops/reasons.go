package drops

import "strings"

// reasonHelp explains enum skb_drop_reason values, keyed by name without the
// SKB_DROP_REASON_ prefix. The numbers change between kernel versions; the
// names do not, so nothing here is keyed by number.
var reasonHelp = map[string]string{
	"NOT_SPECIFIED": "The kernel freed the packet as a drop without naming a reason (a plain kfree_skb call). " +
		"The drop site tells you more than the reason: look at the function.",
	"NO_SOCKET": "No socket listens on the destination address and port: TCP answers with a RST, UDP with ICMP port unreachable (UdpNoPorts). " +
		"Usually a stopped service, a wrong port, a port scan, or late replies such as DNS answers after the resolver gave up.",
	"SOCKET_CLOSE": "The socket was closed while packets were still queued on it; they are freed unread.",
	"PKT_TOO_SMALL": "The packet is shorter than its headers say: a truncated IP, UDP or TCP header, or a length field larger than the data. " +
		"Broken senders, bad tunnels or a driver that trims frames wrongly.",
	"TCP_CSUM":      "The TCP checksum is wrong (TcpInCsumErrors). Corruption on the path, or a NIC or virtual device with broken checksum offload.",
	"SOCKET_FILTER": "A socket filter (classic BPF attached with SO_ATTACH_FILTER or SO_ATTACH_BPF by the application) rejected the packet.",
	"UDP_CSUM":      "The UDP checksum is wrong (UdpInCsumErrors). Corruption on the path, or broken checksum offload on a NIC or virtual device.",
	"NETFILTER_DROP": "A netfilter rule dropped the packet: an iptables/nftables DROP or REJECT verdict, a conntrack INVALID rule, or a set match. " +
		"Find the rule by its counters: nft list ruleset, or iptables -L -v -n.",
	"OTHERHOST": "The frame was addressed to another host's MAC and was only seen because the interface is promiscuous (bridge port, macvlan, tcpdump). " +
		"IP ignores it; harmless in itself.",
	"IP_CSUM": "The IPv4 header checksum is wrong (InHdrErrors): corruption on the path or a broken offload.",
	"IP_INHDR": "The IP header is invalid: bad version, header length or total length, or a TTL that ran out while forwarding (InHdrErrors). " +
		"A broken sender, a truncating middlebox or a bad tunnel configuration.",
	"IP_INVALID_SOURCE": "The source address is not valid, for example a multicast or limited broadcast address used as a source.",
	"IP_LOCAL_SOURCE":   "The source address is one of this host's own addresses although the packet came from outside: a loop, spoofing or a duplicate address.",
	"IP_INVALID_DEST":   "The destination address is not valid here, for example a loopback address received on a real interface.",
	"IP_RPFILTER": "Reverse-path filtering dropped it: the route back to the source does not leave through the interface the packet arrived on (rp_filter). " +
		"Typical with asymmetric routing, multi-homed hosts, or multicast arriving on the wrong interface; check net.ipv4.conf.*.rp_filter.",
	"UNICAST_IN_L2_MULTICAST": "An IP unicast packet arrived in a link-layer multicast or broadcast frame; RFC 1122 says to drop it. " +
		"Usually a misconfigured router or load balancer answering with a broadcast MAC.",
	"XFRM_POLICY": "IPsec policy check failed: the packet does not match the xfrm policy, such as clear text where a policy requires IPsec. " +
		"See ip xfrm policy and /proc/net/xfrm_stat.",
	"IP_NOPROTO": "No handler for the IP protocol number (for example GRE or SCTP without its module loaded); the kernel answers with ICMP protocol unreachable.",
	"SOCKET_RCVBUFF": "The socket's receive buffer is full: the application reads too slowly (UdpRcvbufErrors). " +
		"Make the reader faster or raise SO_RCVBUF and net.core.rmem_max.",
	"PROTO_MEM":      "The protocol's memory limit is reached (net.ipv4.tcp_mem or udp_mem): the whole stack is under memory pressure, not just one socket.",
	"SOCKET_BACKLOG": "The socket's backlog (packets queued while the socket was locked by its owner) exceeded its limit; the application holds the socket too long or reads too slowly.",
	"TCP_AUTH_HDR":   "A TCP-AO or MD5 signature option is malformed or both were present.",
	"TCP_MD5NOTFOUND": "A TCP MD5 signature (RFC 2385, used by BGP) is configured for the peer but the segment carries none. " +
		"The peer lacks the password.",
	"TCP_MD5UNEXPECTED": "The segment carries a TCP MD5 signature but no key is configured for the peer: the passwords are set on one side only.",
	"TCP_MD5FAILURE":    "The segment's TCP MD5 signature is wrong: the two ends use different passwords (often a BGP session that never comes up).",
	"TCP_AONOTFOUND":    "TCP-AO authentication is required for the peer but the segment carries no AO option.",
	"TCP_AOUNEXPECTED":  "The segment carries a TCP-AO option but no key is configured for the peer.",
	"TCP_AOKEYNOTFOUND": "The segment's TCP-AO key id matches no configured key.",
	"TCP_AOFAILURE":     "The segment's TCP-AO signature is wrong.",
	"TCP_FLAGS":         "The TCP flags are not valid for the connection's state (for example a segment without ACK on an established connection).",
	"TCP_LISTEN_OVERFLOW": "The listening socket's accept queue is full (ListenOverflows): the application does not call accept() fast enough or its backlog is too small (net.core.somaxconn). " +
		"Clients see their SYNs ignored and retransmit after 1 s, 3 s, ...",
	"TCP_OLD_DATA":        "The segment only carried data already received, a retransmission after an ACK was lost. Normal at low rates.",
	"TCP_OVERWINDOW":      "The segment carried data beyond the receive window this host advertised: a misbehaving sender or a middlebox rewriting window scaling.",
	"TCP_OFOMERGE":        "An out-of-order segment was already fully covered by data in the out-of-order queue (a duplicate).",
	"TCP_OFO_DROP":        "An out-of-order segment fell outside the receive window, or the socket had no memory to queue it.",
	"TCP_OFO_QUEUE_PRUNE": "Out-of-order data was pruned because the socket ran over its receive memory.",
	"TCP_RFC7323_PAWS": "PAWS (protection against wrapped sequences) rejected the segment: its timestamp is older than the connection's last one (PAWSEstab). " +
		"Common behind NAT where several clients share one address with unsynchronised timestamps, or when a connection tuple is reused quickly.",
	"TCP_RFC7323_PAWS_ACK":     "PAWS rejected a pure ACK whose timestamp is older than the connection's last one.",
	"TCP_INVALID_SEQUENCE":     "The segment's sequence number is not acceptable for the connection (outside the receive window).",
	"TCP_INVALID_ACK_SEQUENCE": "The segment acknowledges data outside the acceptable range.",
	"TCP_INVALID_SYN":          "An unexpected SYN arrived on an established connection; the kernel answers with a challenge ACK.",
	"TCP_INVALID_END_SEQUENCE": "The segment's end sequence number is not acceptable for the connection.",
	"TCP_RESET": "The segment was a valid RST: the connection was reset and the RST itself is freed with this reason. " +
		"It counts connection resets received, not lost data.",
	"TCP_CLOSE":           "A segment arrived for a socket already in CLOSE state, after the connection was torn down.",
	"TCP_FASTOPEN":        "A TCP Fast Open SYN with data could not be accepted.",
	"TCP_OLD_ACK":         "The segment acknowledges data older than what was already acknowledged.",
	"TCP_TOO_OLD_ACK":     "The segment acknowledges data far older than the send window, so it is ignored.",
	"TCP_ACK_UNSENT_DATA": "The segment acknowledges data this host never sent: a confused peer or a middlebox rewriting sequence numbers.",
	"TCP_ZEROWINDOW":      "Data arrived while the receive window was zero: the application is not reading and the peer ignored the window.",
	"TCP_OLD_SEQUENCE":    "The segment's sequence number is older than the receive window (old duplicate).",
	"TCP_MINTTL":          "The TTL or hop limit is below the socket's IP_MINTTL (GTSM, RFC 5082, often set for BGP): the sender is more hops away than allowed.",
	"IP_OUTNOROUTES": "No route to the destination when sending (OutNoRoutes): a missing default route or a policy routing rule with no match. " +
		"Check ip route get <dst>.",
	"BPF_CGROUP_EGRESS": "A cgroup BPF program on egress refused the packet: systemd IPAddressDeny=, a container network policy or another cgroup firewall.",
	"IPV6DISABLED":      "IPv6 is disabled on the device (net.ipv6.conf.<dev>.disable_ipv6=1), so IPv6 packets arriving there are dropped.",
	"NEIGH_CREATEFAIL":  "A neighbour (ARP/NDP) entry could not be created, usually because the neighbour table is full (gc_thresh3; \"neighbour table overflow\" in dmesg).",
	"NEIGH_FAILED": "Neighbour resolution failed: ARP or NDP got no answer, so packets waiting for that next hop are dropped. " +
		"The next hop is down, or on another VLAN or subnet than configured.",
	"NEIGH_QUEUEFULL": "Packets waiting for ARP/NDP resolution of a neighbour overflowed its queue (unres_qlen_bytes). " +
		"The next hop does not answer ARP; new connections to it stall and retry after about 1 s and 3 s.",
	"NEIGH_DEAD": "The neighbour entry was being destroyed (for example the interface went down) while packets were queued on it.",
	"TC_EGRESS": "A tc filter or action on egress dropped the packet: action drop, police, or a BPF classifier returning TC_ACT_SHOT. " +
		"See tc -s filter show dev <dev> egress.",
	"TC_INGRESS": "A tc filter or action on ingress dropped the packet: action drop, police, or a BPF program returning TC_ACT_SHOT (Cilium and other eBPF datapaths). " +
		"See tc -s filter show dev <dev> ingress.",
	"TC_CHAIN_NOTFOUND":  "A tc action jumped to a filter chain that does not exist.",
	"TC_RECLASSIFY_LOOP": "tc reclassified the packet too many times (a reclassify loop in the filter configuration).",
	"QDISC_DROP": "The queueing discipline dropped the packet on transmit: the queue was full or its policy (fq_codel, tbf, pfifo limit) shed it. " +
		"The link or a shaper is saturated; see tc -s qdisc show dev <dev>.",
	"QDISC_OVERLIMIT":  "The qdisc dropped the packet because its queue was over its configured limit: the link or a shaper is saturated.",
	"QDISC_CONGESTED":  "The qdisc dropped the packet as a congestion signal (an AQM such as fq_codel or red).",
	"CAKE_FLOOD":       "The cake qdisc dropped the packet to protect against a flow flooding it.",
	"FQ_BAND_LIMIT":    "The fq qdisc dropped the packet because its priority band was over its packet limit.",
	"FQ_HORIZON_LIMIT": "The fq qdisc dropped the packet because its timestamp is beyond the configured time horizon.",
	"FQ_FLOW_LIMIT":    "The fq qdisc dropped the packet because its flow queue was over flow_limit.",
	"CPU_BACKLOG": "The per-CPU input backlog was full (net.core.netdev_max_backlog), usually with RPS, veth, loopback or generic XDP paths. " +
		"See the second column of /proc/net/softnet_stat.",
	"XDP":             "An XDP program in generic (skb) mode returned XDP_DROP or XDP_ABORTED. Native XDP drops never create an skb and are not seen here.",
	"TC_COOKIE_ERROR": "A tc BPF program's socket-cookie handling failed.",
	"UNHANDLED_PROTO": "No protocol handler for the frame's ethertype: frames nothing on the host listens for, such as 802.2/802.3 LLC (STP BPDUs), LLDP, or IPv6 with IPv6 not loaded. " +
		"They count in rx_dropped but are no error: usually safe to ignore.",
	"SKB_CSUM":        "Computing or verifying the packet's checksum in software failed.",
	"SKB_GSO_SEG":     "Segmenting a GSO super-packet into MTU-sized packets failed on transmit.",
	"SKB_UCOPY_FAULT": "Copying data from user space into the packet failed: the application passed a bad buffer to send.",
	"DEV_HDR":         "The device rejected the packet's link-layer header or driver metadata as invalid.",
	"DEV_READY": "The device was not ready to send: down, without carrier, or a tun/tap device nobody has open. " +
		"Check ip link show for state DOWN or NO-CARRIER.",
	"FULL_RING":       "The device's ring or queue was full, typically a tun/tap or veth peer whose reader is too slow.",
	"NOMEM":           "A memory allocation failed while handling the packet: the host is short of memory, or of atomic memory in softirq.",
	"HDR_TRUNC":       "The packet's headers could not be read because the packet is shorter than they need (truncated headers).",
	"TAP_FILTER":      "A tun/tap device's filter (an eBPF socket filter attached to the tap) rejected the packet on receive.",
	"TAP_TXFILTER":    "A tun/tap device's transmit filter (TUNSETTXFILTER, a MAC address filter) rejected the packet.",
	"ICMP_CSUM":       "The ICMP checksum is wrong (InCsumErrors).",
	"INVALID_PROTO":   "The packet's protocol is not valid where it arrived, for example a non-IP payload on an IP tunnel or an ethertype mismatch.",
	"IP_INADDRERRORS": "The destination address is not valid here (InAddrErrors): not a local address while forwarding is off, or an address that cannot be a destination.",
	"IP_INNOROUTES":   "No route for the received packet's destination while forwarding it (InNoRoutes).",
	"IP_TUNNEL_ECN":   "An encapsulated packet had inconsistent ECN bits between the outer and inner header (RFC 6040).",
	"PKT_TOO_BIG": "The packet is larger than the path MTU and may not be fragmented (DF set, or IPv6); an ICMP fragmentation-needed / packet-too-big goes back to the sender. " +
		"If that ICMP is filtered somewhere, connections hang (a PMTU black hole).",
	"DUP_FRAG": "A duplicate IP fragment arrived during reassembly.",
	"FRAG_REASM_TIMEOUT": "IP reassembly timed out: not all fragments arrived within ipfrag_time (30 s by default), so those already queued are dropped. " +
		"A lost fragment, or a firewall that passes only the first one.",
	"FRAG_TOO_FAR":            "A fragment arrived too far behind other fragments from the same source (ipfrag_max_dist) and was treated as stale.",
	"IPV6_BAD_EXTHDR":         "An IPv6 extension header is malformed.",
	"IPV6_NDISC_FRAG":         "An IPv6 neighbour discovery message arrived fragmented, which RFC 6980 forbids.",
	"IPV6_NDISC_HOP_LIMIT":    "An IPv6 neighbour discovery message had a hop limit other than 255: it did not come from the local link.",
	"IPV6_NDISC_BAD_CODE":     "An IPv6 neighbour discovery message had a non-zero ICMPv6 code.",
	"IPV6_NDISC_BAD_OPTIONS":  "An IPv6 neighbour discovery message had invalid options.",
	"IPV6_NDISC_NS_OTHERHOST": "An IPv6 neighbour solicitation was for an address this host does not own.",
	"QUEUE_PURGE":             "Packets freed when a queue was purged: a socket closed with data still queued, or a device or qdisc queue flushed.",
	"PFMEMALLOC":              "The packet was allocated from emergency memory reserves and the socket is not allowed to use them: the host is under memory pressure.",
	"SOCKET_RCV_SHUTDOWN":     "The socket's receive side is shut down (shutdown(SHUT_RD)), so arriving data is dropped.",
	"VXLAN_INVALID_HDR":       "A VXLAN packet had an invalid header (unknown flags or a reserved field set).",
	"VXLAN_VNI_NOT_FOUND":     "A VXLAN packet's VNI matches no configured VXLAN device.",
	"MAC_INVALID_SOURCE":      "The frame's source MAC address is invalid (multicast or all zeros).",
	"VLAN_FILTER":             "The VLAN filter dropped the frame: its VLAN is not configured on the receiving device or bridge port.",
}

// ReasonHelp explains a drop reason, named as the kernel names it without
// the SKB_DROP_REASON_ prefix (the prefix is accepted too), in a sentence or
// two that point at the usual cause. It returns "" for reasons it does not
// know.
func ReasonHelp(name string) string {
	name = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "SKB_DROP_REASON_")
	return reasonHelp[name]
}
