// Package counters reads the kernel's own drop counters, the ones engineers
// start from before they reach for a tracer: interface counters over
// rtnetlink (what ip -s link and ifconfig show: rx_dropped, rx_missed, ...)
// and the protocol counters of /proc/net/snmp, /proc/net/netstat and
// /proc/net/snmp6 (what netstat -s and nstat show: UdpNoPorts,
// TcpExtListenDrops, ...). A Tracker turns the cumulative readings into the
// windowed deltas and rates of the snapshot, where they sit beside the traced
// drops; drops.Reconcile says how much of rx_dropped the traced drops
// explain.
//
// Everything is read inside one network namespace, the one skbtop watches.
package counters

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
)

// Link is one interface's counters from an RTM_NEWLINK message.
type Link struct {
	// Name is the interface name (IFLA_IFNAME).
	Name string
	// Index is the ifindex inside the interface's namespace.
	Index uint32
	// Counters are the interface's cumulative counters.
	Counters drops.LinkCounters
	// Stats64 is true when the counters came from IFLA_STATS64, false when
	// the kernel sent only the 32-bit IFLA_STATS, whose counters wrap at
	// 2^32 (the Tracker treats a wrap like a reset).
	Stats64 bool
}

// Offsets of the fields skbtop reads in struct rtnl_link_stats64
// (include/uapi/linux/if_link.h), where every field is a __u64 in host byte
// order:
//
//	 0 rx_packets        8 tx_packets       16 rx_bytes         24 tx_bytes
//	32 rx_errors        40 tx_errors        48 rx_dropped       56 tx_dropped
//	64 multicast        72 collisions       80 rx_length_errors 88 rx_over_errors
//	96 rx_crc_errors   104 rx_frame_errors 112 rx_fifo_errors  120 rx_missed_errors
//	128 tx_aborted     136 tx_carrier      144 tx_fifo         152 tx_heartbeat
//	160 tx_window      168 rx_compressed   176 tx_compressed   184 rx_nohandler
//	192 rx_otherhost_dropped
//
// struct rtnl_link_stats (IFLA_STATS) has the same fields in the same order
// as __u32, so an index times the field size gives both layouts.
//
// statIndex gives each counter skbtop shows its index in that struct.
var statIndex = [drops.NumLinkFields]int{
	drops.RxPackets: 0,
	drops.TxPackets: 1,
	drops.RxErrors:  4,
	drops.TxErrors:  5,
	drops.RxDropped: 6,
	drops.TxDropped: 7,
	drops.RxFIFO:    14,
	drops.RxMissed:  15,
	// rx_nohandler was appended in Linux 4.6; older kernels send a struct
	// that ends before it, and then it is absent.
	drops.RxNoHandler: 23,
	// rx_otherhost_dropped was appended in Linux 6.0.
	drops.RxOtherhostDropped: 24,
}

// statRequired is the number of leading fields a stats attribute must hold:
// everything up to and including rx_missed_errors.
const statRequired = 16

// ErrMalformed marks a netlink message or /proc file skbtop could not make
// sense of.
var ErrMalformed = errors.New("malformed")

// DecodeLinks decodes the RTM_NEWLINK messages of an RTM_GETLINK dump.
// Messages of other types are skipped. A message that cannot be decoded
// (truncated header or attributes, no name, a stats struct too short to
// hold rx_missed_errors, no stats at all) is left out and named in the
// returned error, which wraps ErrMalformed; the links returned with such an
// error are the ones that decoded fine, so a caller can show them and the
// error together.
func DecodeLinks(msgs []netlink.Message) ([]Link, error) {
	links := make([]Link, 0, len(msgs))
	var errs []error
	for i, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		l, err := decodeLink(m.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("link message %d: %w", i, err))
			continue
		}
		links = append(links, l)
	}
	if len(errs) > 0 {
		return links, fmt.Errorf("decode links: %w: %w", ErrMalformed, errors.Join(errs...))
	}
	return links, nil
}

// decodeLink decodes the payload of one RTM_NEWLINK message: a struct
// ifinfomsg followed by attributes.
func decodeLink(b []byte) (Link, error) {
	var l Link
	var stats, stats64 []byte
	var err error
	l.Index, l.Name, stats, stats64, err = decodeIfinfo(b)
	if err != nil {
		return l, err
	}
	switch {
	case stats64 != nil:
		// Prefer the 64-bit struct: the 32-bit one is truncated copies of
		// the same counters and wraps on busy links.
		l.Counters, err = decodeStats(stats64, 8)
		l.Stats64 = true
	case stats != nil:
		l.Counters, err = decodeStats(stats, 4)
	default:
		// The kernel always sends IFLA_STATS64 in a dump unless the
		// request asked to skip stats (RTEXT_FILTER_SKIP_STATS).
		err = errors.New("no IFLA_STATS64 or IFLA_STATS")
	}
	if err != nil {
		return l, fmt.Errorf("%s (ifindex %d): %w", l.Name, l.Index, err)
	}
	return l, nil
}

// decodeLinkName reads the ifindex and name of one RTM_NEWLINK or
// RTM_DELLINK message's payload.
func decodeLinkName(b []byte) (index uint32, name string, err error) {
	index, name, _, _, err = decodeIfinfo(b)
	return index, name, err
}

// decodeIfinfo reads a struct ifinfomsg and its attributes: the ifindex,
// the name (which every link message has) and the raw IFLA_STATS and
// IFLA_STATS64, nil where absent.
func decodeIfinfo(b []byte) (index uint32, name string, stats, stats64 []byte, err error) {
	if len(b) < unix.SizeofIfInfomsg {
		return 0, "", nil, nil, fmt.Errorf("%d bytes, shorter than struct ifinfomsg", len(b))
	}
	// struct ifinfomsg: family u8, pad u8, type u16, index s32, flags u32,
	// change u32.
	index = binary.NativeEndian.Uint32(b[4:8])
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return index, "", nil, nil, fmt.Errorf("ifindex %d: attributes: %w", index, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			name = ad.String()
		case unix.IFLA_STATS:
			stats = ad.Bytes()
		case unix.IFLA_STATS64:
			stats64 = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return index, "", nil, nil, fmt.Errorf("ifindex %d: attributes: %w", index, err)
	}
	if name == "" {
		return index, "", nil, nil, fmt.Errorf("ifindex %d: no IFLA_IFNAME", index)
	}
	return index, name, stats, stats64, nil
}

// decodeStats reads the counters skbtop uses from a struct rtnl_link_stats64
// (size 8) or rtnl_link_stats (size 4).
func decodeStats(b []byte, size int) (drops.LinkCounters, error) {
	var c drops.LinkCounters
	if len(b) < statRequired*size {
		return c, fmt.Errorf("stats struct of %d bytes, want at least %d", len(b), statRequired*size)
	}
	for f := range drops.NumLinkFields {
		off := statIndex[f] * size
		switch {
		case off+size > len(b):
			// A counter newer than the kernel: absent, not zero.
		case size == 8:
			c.Set(f, binary.NativeEndian.Uint64(b[off:]))
		default:
			c.Set(f, uint64(binary.NativeEndian.Uint32(b[off:])))
		}
	}
	return c, nil
}

// LinkStats is one interface's counters from an RTM_NEWSTATS message: what
// a Link holds, less the name, which RTM_GETSTATS does not send.
type LinkStats struct {
	// Index is the ifindex inside the interface's namespace.
	Index uint32
	// Counters are the interface's cumulative counters.
	Counters drops.LinkCounters
}

// sizeofIfStatsMsg is the size of struct if_stats_msg
// (include/uapi/linux/if_link.h): family u8, pad1 u8, pad2 u16, ifindex
// u32, filter_mask u32.
const sizeofIfStatsMsg = 12

// statsFilterLink64 is the filter_mask that asks RTM_GETSTATS for
// IFLA_STATS_LINK_64 only: IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64).
const statsFilterLink64 = 1 << (unix.IFLA_STATS_LINK_64 - 1)

// DecodeStats decodes the RTM_NEWSTATS messages of an RTM_GETSTATS dump
// made with the filter statsFilterLink64. Messages of other types are
// skipped. IFLA_STATS_LINK_64 holds the same struct rtnl_link_stats64 as
// RTM_NEWLINK's IFLA_STATS64, decoded with the same table (statIndex): a
// shorter struct from an older kernel leaves the later counters absent. A
// message that cannot be decoded (truncated header or attributes, no
// IFLA_STATS_LINK_64, a struct too short to hold rx_missed_errors) is left
// out and named in the returned error, which wraps ErrMalformed; the stats
// returned with such an error are the ones that decoded fine, as with
// DecodeLinks.
func DecodeStats(msgs []netlink.Message) ([]LinkStats, error) {
	stats := make([]LinkStats, 0, len(msgs))
	var errs []error
	for i, m := range msgs {
		if m.Header.Type != unix.RTM_NEWSTATS {
			continue
		}
		s, err := decodeLinkStats(m.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("stats message %d: %w", i, err))
			continue
		}
		stats = append(stats, s)
	}
	if len(errs) > 0 {
		return stats, fmt.Errorf("decode stats: %w: %w", ErrMalformed, errors.Join(errs...))
	}
	return stats, nil
}

// decodeLinkStats decodes the payload of one RTM_NEWSTATS message: a struct
// if_stats_msg followed by attributes.
func decodeLinkStats(b []byte) (LinkStats, error) {
	var s LinkStats
	if len(b) < sizeofIfStatsMsg {
		return s, fmt.Errorf("%d bytes, shorter than struct if_stats_msg", len(b))
	}
	s.Index = binary.NativeEndian.Uint32(b[4:8])
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfStatsMsg:])
	if err != nil {
		return s, fmt.Errorf("ifindex %d: attributes: %w", s.Index, err)
	}
	var stats64 []byte
	for ad.Next() {
		if ad.Type() == unix.IFLA_STATS_LINK_64 {
			stats64 = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return s, fmt.Errorf("ifindex %d: attributes: %w", s.Index, err)
	}
	if stats64 == nil {
		return s, fmt.Errorf("ifindex %d: no IFLA_STATS_LINK_64", s.Index)
	}
	if s.Counters, err = decodeStats(stats64, 8); err != nil {
		return s, fmt.Errorf("ifindex %d: %w", s.Index, err)
	}
	return s, nil
}
