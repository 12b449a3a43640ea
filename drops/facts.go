package drops

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// This file is the one home of the facts every output derives from a
// snapshot: how a protocol is labelled, which interfaces are quiet, the
// order of sites, and the notes printed beside the counters. Sinks call
// these; none computes its own.

// Proto labels an L3/L4 pair: IPv4/UDP, or ARP when there is no L4.
func Proto(l3, l4 string) string {
	if l4 == "" {
		return l3
	}
	return l3 + "/" + l4
}

// ShortProto labels an L3/L4 pair where there is room for one name only:
// the L4 protocol (UDP), which tells more drops apart than the L3, or the
// L3 when there is no L4 (ARP).
func ShortProto(l3, l4 string) string {
	if l4 == "" {
		return l3
	}
	return l4
}

// Proto labels the site's protocol (IPv4/UDP); a grouped row over several
// says how many ("3 protos").
func (s Site) Proto() string {
	if s.Protos > 1 {
		return s.protos()
	}
	return Proto(s.L3, s.L4)
}

// ShortProto labels the site's protocol in one name (UDP), as Proto.
func (s Site) ShortProto() string {
	if s.Protos > 1 {
		return s.protos()
	}
	return ShortProto(s.L3, s.L4)
}

// protos names the protocols of a grouped row: "3 protos", or, when they
// share their L3, "IPv4 (3)".
func (s Site) protos() string {
	if s.L3 != "" {
		return s.L3 + " (" + strconv.Itoa(s.Protos) + ")"
	}
	return strconv.Itoa(s.Protos) + " protos"
}

// Label names the protocol row (IPv4/UDP).
func (p Protocol) Label() string { return Proto(p.L3, p.L4) }

// Proto labels the sampled packet's protocol (IPv4/UDP).
func (p Packet) Proto() string { return Proto(p.L3, p.L4) }

// OrDash returns s, or "-" when s is blank: how every table shows a field
// that has no value.
func OrDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// Quiet reports whether an interface has nothing to show: no traced drops in
// the window or the last interval, and none of its drop or error counters
// moved. Outputs leave quiet interfaces out and say how many they left.
func (i Interface) Quiet() bool {
	if i.TracedDrops != 0 || i.TracedRate != 0 || i.MapFull != 0 {
		return false
	}
	if i.Delta == nil {
		return true
	}
	for f := range LinkFields {
		if LinkFields[f].Drop && i.Delta.Get(LinkField(f)) != 0 {
			return false
		}
	}
	return true
}

// Order is how sites are listed.
type Order int

// The orders, in the order the live view cycles through them.
const (
	ByRate Order = iota
	ByTotal
	ByName
	numOrders
)

// String names the order for a header: "rate", "total", "name".
func (o Order) String() string {
	switch o {
	case ByTotal:
		return "total"
	case ByName:
		return "name"
	}
	return "rate"
}

// Next is the order after o in the cycle.
func (o Order) Next() Order { return (o + 1) % numOrders }

// SortSites orders sites by o: by rate (then count), by count (then rate),
// or by name; ties are broken by symbol, reason, interface, namespace and
// protocol, so that the order is total and rows never swap between
// refreshes. The names are compared where they lie, never joined into
// strings: most sites of a full map or a fleet tie on rate and count, and
// a string per site was much of a snapshot's garbage.
func SortSites(sites []Site, o Order) {
	at := make([]int, len(sites))
	for i := range at {
		at[i] = i
	}
	slices.SortFunc(at, func(i, j int) int {
		a, b := &sites[i], &sites[j]
		var c int
		switch o {
		case ByRate:
			c = cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Count, a.Count))
		case ByTotal:
			c = cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(b.Rate, a.Rate))
		}
		if c != 0 {
			return c
		}
		return compareSites(a, b)
	})
	permute(sites, at)
}

// compareSites is the order of sites that tie on the numbers: by name
// (compareNames), then netns and ifindex.
func compareSites(a, b *Site) int {
	if c := compareNames(a, b); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Netns, b.Netns), cmp.Compare(a.Ifindex, b.Ifindex))
}

// compareNames compares what a row shows of two sites in turn: the symbol
// (as Symbol writes it), reason, interface, namespace, L3 and L4.
func compareNames(a, b *Site) int {
	// Rows that tie mostly share their site, whose names are then the
	// same strings: equal at a glance.
	if a.Function != b.Function || a.Offset != b.Offset || a.Module != b.Module || a.Address != b.Address {
		var pa, pb [6]string
		if c := compareJoined(symbolParts(a, &pa), symbolParts(b, &pb)); c != 0 {
			return c
		}
	}
	for _, c := range [...]struct{ a, b string }{
		{a.Reason, b.Reason}, {a.Interface, b.Interface}, {a.Namespace, b.Namespace}, {a.L3, b.L3}, {a.L4, b.L4},
	} {
		if c := strings.Compare(c.a, c.b); c != 0 {
			return c
		}
	}
	return 0
}

// symbolParts returns the pieces Symbol joins, in buf.
func symbolParts(s *Site, buf *[6]string) []string {
	switch {
	case s.Function == "":
		buf[0] = s.Address
		return buf[:1]
	case s.Function == OverflowFunction:
		buf[0] = s.Function
		return buf[:1]
	case s.Module == "":
		*buf = [6]string{s.Function, "+", s.Offset}
		return buf[:3]
	}
	*buf = [6]string{s.Function, "+", s.Offset, " [", s.Module, "]"}
	return buf[:]
}

// compareJoined compares strings.Join(a, "") with strings.Join(b, "")
// without joining them.
func compareJoined(a, b []string) int {
	var ra, rb string // what is left of the current pieces
	for {
		for ra == "" && len(a) > 0 {
			ra, a = a[0], a[1:]
		}
		for rb == "" && len(b) > 0 {
			rb, b = b[0], b[1:]
		}
		if ra == "" || rb == "" {
			return cmp.Compare(len(ra), len(rb))
		}
		n := min(len(ra), len(rb))
		if c := strings.Compare(ra[:n], rb[:n]); c != 0 {
			return c
		}
		ra, rb = ra[n:], rb[n:]
	}
}

// after is what a comparison function returns for two rows that differ
// in what it compares: 1 when x goes after y, else -1.
func after(x bool) int {
	if x {
		return 1
	}
	return -1
}

// permute puts s[at[k]] at k for every k, in place, following each cycle
// of the permutation at (which it leaves undone): the elements are large
// structs, thousands of them, and a sorted copy of them all was a good part
// of a refresh's garbage.
func permute[T any](s []T, at []int) {
	for k := range at {
		if at[k] < 0 {
			continue // moved with an earlier cycle
		}
		// s[k] is overwritten first: keep it for the cycle's end.
		saved := s[k]
		j := k
		for at[j] != k {
			next := at[j]
			s[j] = s[next]
			at[j] = -1
			j = next
		}
		s[j] = saved
		at[j] = -1
	}
}

// NICRingNote explains Reconciliation.NICRing in one line, for every output
// to show beside rx_missed and rx_fifo.
const NICRingNote = "rx_missed and rx_fifo are frames the NIC dropped in its receive ring or FIFO before the kernel had an skb: " +
	"kfree_skb never sees them, so no traced drop explains them (see ethtool -S; ring sizes with ethtool -g/-G)."

// ExplainedTitle is the title of the interface tables' column that says how
// much of the counted drops the traced ones explain.
const ExplainedTitle = "EXPLAINED"

// ExplainedNote explains the EXPLAINED column of the interface tables; it
// names the counters of every reconciliation rule.
var ExplainedNote = func() string {
	return ExplainedTitle + ": the part of the counted drops (" + strings.Join(ruleNames[:], ", ") +
		") that traced drops at the sites counting there account for."
}()

// CountersNote says what the counter columns of the interface tables hold.
const CountersNote = "Counter columns are changes over the window."
