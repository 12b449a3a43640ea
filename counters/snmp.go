package counters

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// stackNames are the drop-related protocol counters skbtop shows, in display
// order: grouped by protocol, the counters people quote first at the top of
// each group. Names are the protocol prefix joined to the field name, as
// nstat prints them. Counters a kernel does not have are simply absent.
var stackNames = []string{
	// IPv4 (/proc/net/snmp "Ip:", /proc/net/netstat "IpExt:").
	"IpInDiscards",         // dropped for lack of resources (and by some netfilter paths)
	"IpInHdrErrors",        // bad header, checksum, TTL exceeded while forwarding
	"IpInAddrErrors",       // destination not valid here, forwarding disabled
	"IpInUnknownProtos",    // no handler for the IP protocol number
	"IpExtInNoRoutes",      // no route for a received packet
	"IpExtInTruncatedPkts", // shorter than the header says
	"IpExtInCsumErrors",
	"IpReasmFails",
	"IpOutDiscards",
	"IpOutNoRoutes",
	"IpFragFails",
	// ICMP.
	"IcmpInErrors",
	"IcmpInCsumErrors",
	"IcmpOutErrors",
	"IcmpOutRateLimitGlobal",
	"IcmpOutRateLimitHost",
	// UDP.
	"UdpNoPorts", // nothing listens on the port: NO_SOCKET drops
	"UdpInErrors",
	"UdpRcvbufErrors", // socket receive buffer full: SOCKET_RCVBUFF drops
	"UdpSndbufErrors",
	"UdpInCsumErrors",
	"UdpMemErrors",
	// TCP (/proc/net/snmp "Tcp:", /proc/net/netstat "TcpExt:"); TCP counters
	// cover IPv4 and IPv6.
	"TcpExtListenDrops",     // every SYN or ACK dropped at a listener
	"TcpExtListenOverflows", // ... because the accept queue was full
	"TcpInErrs",
	"TcpInCsumErrors",
	"TcpRetransSegs", // retransmits: the sender's view of loss elsewhere
	"TcpExtTCPBacklogDrop",
	"TcpExtPFMemallocDrop",
	"TcpExtTCPMinTTLDrop",
	"TcpExtTCPDeferAcceptDrop",
	"TcpExtTCPRcvQDrop",
	"TcpExtTCPZeroWindowDrop",
	"TcpExtTCPOFODrop",
	"TcpExtTCPMD5NotFound",
	"TcpExtTCPMD5Unexpected",
	"TcpExtTCPMD5Failure",
	"TcpExtTCPRetransFail",
	"TcpExtTCPAbortOnMemory",
	"TcpExtLockDroppedIcmps",
	"TcpExtOutOfWindowIcmps",
	// IPv6 (/proc/net/snmp6).
	"Ip6InDiscards",
	"Ip6InHdrErrors",
	"Ip6InAddrErrors",
	"Ip6InUnknownProtos",
	"Ip6InNoRoutes",
	"Ip6InTruncatedPkts",
	"Ip6ReasmFails",
	"Ip6OutDiscards",
	"Ip6OutNoRoutes",
	"Ip6FragFails",
	"Icmp6InErrors",
	"Icmp6InCsumErrors",
	"Icmp6OutErrors",
	"Udp6NoPorts",
	"Udp6InErrors",
	"Udp6RcvbufErrors",
	"Udp6SndbufErrors",
	"Udp6InCsumErrors",
	"Udp6MemErrors",
}

// StackCounterNames returns the names of the drop-related protocol counters
// Reader.Stack reports, in the order skbtop shows them.
func StackCounterNames() []string { return slices.Clone(stackNames) }

// pickStack keeps the drop-related counters of all.
func pickStack(dst, all map[string]uint64) {
	for _, n := range stackNames {
		if v, ok := all[n]; ok {
			dst[n] = v
		}
	}
}

// ParseSNMP parses /proc/net/snmp or /proc/net/netstat: pairs of lines that
// share a prefix, the first naming the fields and the second giving their
// values,
//
//	Udp: InDatagrams NoPorts InErrors ...
//	Udp: 1024 7 0 ...
//
// into a map keyed by prefix and field name ("UdpNoPorts",
// "TcpExtListenDrops"). Negative values are left out: the only one is Tcp
// MaxConn, a constant -1, not a counter. Mismatched pairs, unequal field
// counts and values that are not numbers are errors wrapping ErrMalformed.
func ParseSNMP(r io.Reader) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		header := sc.Text()
		if strings.TrimSpace(header) == "" {
			continue
		}
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("read snmp: %w", err)
			}
			return nil, fmt.Errorf("snmp line %d: %w: header without a value line", line, ErrMalformed)
		}
		line++
		values := sc.Text()
		names, vals := strings.Fields(header), strings.Fields(values)
		if len(names) == 0 || len(vals) == 0 || !strings.HasSuffix(names[0], ":") || names[0] != vals[0] {
			return nil, fmt.Errorf("snmp line %d: %w: want a header and a value line with the same prefix, got %q and %q",
				line-1, ErrMalformed, shorten(header), shorten(values))
		}
		if len(names) != len(vals) {
			return nil, fmt.Errorf("snmp line %d: %w: %d names but %d values", line-1, ErrMalformed, len(names)-1, len(vals)-1)
		}
		prefix := strings.TrimSuffix(names[0], ":")
		for i := 1; i < len(names); i++ {
			v, err := strconv.ParseUint(vals[i], 10, 64)
			if err != nil {
				if _, ierr := strconv.ParseInt(vals[i], 10, 64); ierr == nil {
					continue // negative: a constant such as Tcp MaxConn
				}
				return nil, fmt.Errorf("snmp line %d: %w: %s%s = %q", line, ErrMalformed, prefix, names[i], shorten(vals[i]))
			}
			out[prefix+names[i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read snmp: %w", err)
	}
	return out, nil
}

// ParseSNMP6 parses /proc/net/snmp6, one counter per line as name and value
// ("Udp6NoPorts   3"). Lines that are not a name and a number are errors
// wrapping ErrMalformed.
func ParseSNMP6(r io.Reader) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("snmp6 line %d: %w: %q", line, ErrMalformed, shorten(sc.Text()))
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("snmp6 line %d: %w: %s = %q", line, ErrMalformed, f[0], shorten(f[1]))
		}
		out[f[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read snmp6: %w", err)
	}
	return out, nil
}

// shorten keeps garbage out of error messages that end up on a status line.
func shorten(s string) string {
	const limit = 40
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
