package drops

import (
	"strings"
	"testing"
)

func TestReasonHelp(t *testing.T) {
	// The reasons the UI must explain, by the names the kernel gives them.
	common := []string{
		"NOT_SPECIFIED", "NO_SOCKET", "PKT_TOO_SMALL", "TCP_CSUM", "SOCKET_FILTER", "UDP_CSUM",
		"NETFILTER_DROP", "OTHERHOST", "IP_CSUM", "IP_INHDR", "IP_RPFILTER", "UNICAST_IN_L2_MULTICAST",
		"XFRM_POLICY", "IP_NOPROTO", "SOCKET_RCVBUFF", "PROTO_MEM", "TCP_MD5NOTFOUND", "TCP_MD5UNEXPECTED",
		"TCP_MD5FAILURE", "TCP_LISTEN_OVERFLOW", "TCP_OLD_DATA", "TCP_OVERWINDOW", "TCP_OFOMERGE",
		"TCP_RFC7323_PAWS", "TCP_INVALID_SEQUENCE", "TCP_RESET", "TCP_CLOSE", "IP_OUTNOROUTES",
		"BPF_CGROUP_EGRESS", "IPV6DISABLED", "NEIGH_CREATEFAIL", "NEIGH_FAILED", "NEIGH_QUEUEFULL",
		"NEIGH_DEAD", "TC_EGRESS", "TC_INGRESS", "QDISC_DROP", "CPU_BACKLOG", "XDP", "UNHANDLED_PROTO",
		"SKB_CSUM", "SKB_GSO_SEG", "SKB_UCOPY_FAULT", "DEV_HDR", "DEV_READY", "FULL_RING", "NOMEM",
		"HDR_TRUNC", "TAP_FILTER", "TAP_TXFILTER", "ICMP_CSUM", "INVALID_PROTO", "IP_INADDRERRORS",
		"IP_INNOROUTES", "PKT_TOO_BIG", "DUP_FRAG", "FRAG_REASM_TIMEOUT", "FRAG_TOO_FAR", "TCP_MINTTL",
		"IPV6_BAD_EXTHDR", "QUEUE_PURGE",
	}
	for _, name := range common {
		h := ReasonHelp(name)
		if h == "" {
			t.Errorf("ReasonHelp(%q) is empty", name)
			continue
		}
		if !strings.HasSuffix(h, ".") {
			t.Errorf("ReasonHelp(%q) = %q, want a sentence ending in a period", name, h)
		}
		if strings.Contains(h, "\n") {
			t.Errorf("ReasonHelp(%q) contains a newline", name)
		}
	}
}

func TestReasonHelpHints(t *testing.T) {
	// The hints that tie a reason to the problem a network engineer has.
	for _, tc := range []struct{ name, want string }{
		{"IP_RPFILTER", "rp_filter"},
		{"IP_RPFILTER", "multicast"},
		{"UNHANDLED_PROTO", "STP"},
		{"UNHANDLED_PROTO", "rx_dropped"},
		{"NEIGH_QUEUEFULL", "ARP"},
		{"NETFILTER_DROP", "nft"},
		{"TCP_LISTEN_OVERFLOW", "accept"},
		{"SOCKET_RCVBUFF", "rmem_max"},
	} {
		if h := ReasonHelp(tc.name); !strings.Contains(h, tc.want) {
			t.Errorf("ReasonHelp(%q) = %q, want it to mention %q", tc.name, h, tc.want)
		}
	}
}

func TestReasonHelpNames(t *testing.T) {
	want := ReasonHelp("NO_SOCKET")
	for _, name := range []string{"SKB_DROP_REASON_NO_SOCKET", "no_socket", " NO_SOCKET "} {
		if got := ReasonHelp(name); got != want {
			t.Errorf("ReasonHelp(%q) = %q, want the NO_SOCKET help", name, got)
		}
	}
	for _, name := range []string{"", "NOT_A_REASON", "2", "reason 250"} {
		if got := ReasonHelp(name); got != "" {
			t.Errorf("ReasonHelp(%q) = %q, want \"\"", name, got)
		}
	}
}
