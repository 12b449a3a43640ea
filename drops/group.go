package drops

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// Grouping is what one row of drop sites stands for. The kernel counts
// each site, reason, interface and protocol apart; with many containers
// one site shows once per interface, and grouping folds those rows
// together. Counts, bytes and rates of a grouped row are the exact sums of
// its rows, and the totals do not change.
type Grouping int

// The groupings, in the order the live view cycles through them.
const (
	// GroupFull is a row per site, reason, interface and protocol: one
	// kernel bucket.
	GroupFull Grouping = iota
	// GroupSite is a row per site (function+offset) and reason, over
	// every interface and protocol.
	GroupSite
	// GroupReason is a row per drop reason, over every site.
	GroupReason
	numGroupings
)

// String names the grouping as --group takes it: "full", "site", "reason".
func (g Grouping) String() string {
	switch g {
	case GroupSite:
		return "site"
	case GroupReason:
		return "reason"
	}
	return "full"
}

// Describe says what a row stands for, for a title: "site, reason,
// interface, protocol".
func (g Grouping) Describe() string {
	switch g {
	case GroupSite:
		return "site, reason"
	case GroupReason:
		return "reason"
	}
	return "site, reason, interface, protocol"
}

// Next is the grouping after g in the cycle.
func (g Grouping) Next() Grouping { return (g + 1) % numGroupings }

// ParseGrouping reads a grouping by its name (Grouping.String).
func ParseGrouping(s string) (Grouping, error) {
	for g := range numGroupings {
		if g.String() == s {
			return g, nil
		}
	}
	return GroupFull, fmt.Errorf("grouping %q: want full, site or reason", s)
}

// groupKey is what the rows of one group share.
type groupKey struct {
	location uint64
	reason   uint32
	// name stands in for the reason where the kernel gave no code (the
	// map-full site), and keeps that site its own row.
	name string
	fn   string
}

// Group folds the rows of sites into one row per group of g, in the order
// the groups first appear. A grouped row keeps what its rows share: the
// site and reason (GroupSite), or the reason (GroupReason); where its rows
// differ it counts them instead (Ifaces and BusiestIface, Sites and
// BusiestSite, Protos). A row that stands for one interface, site or
// protocol keeps that one's fields, so that a group of one reads as the
// row itself. Count, Bytes and Rate are sums; History is the sum of the
// rows' histories, newest last; Samples are the newest of the rows'.
// GroupFull returns sites as they are.
func Group(sites []Site, g Grouping) []Site {
	if g == GroupFull {
		return sites
	}
	index := map[groupKey]int{}
	var members [][]Site
	for _, s := range sites {
		k := groupKey{reason: uint32(s.ReasonCode), name: s.Reason}
		if g == GroupSite || s.Function == OverflowFunction {
			k.location, k.fn = s.Key.Location, s.Function
		}
		i, ok := index[k]
		if !ok {
			i = len(members)
			index[k] = i
			members = append(members, nil)
		}
		members[i] = append(members[i], s)
	}
	out := make([]Site, len(members))
	for i, rows := range members {
		out[i] = fold(rows, g)
	}
	return out
}

// fold makes one grouped row of rows.
func fold(rows []Site, g Grouping) Site {
	row := rows[0]
	if len(rows) == 1 && (g == GroupSite || row.Function == OverflowFunction) {
		return row
	}
	row.Count, row.Bytes, row.Rate, row.Sampled = 0, 0, 0, 0
	row.Key = Key{Location: row.Key.Location, Reason: row.Key.Reason}
	var samples []Packet
	hist := 0
	ifaces := map[string]*Site{}
	sites := map[string]*Site{}
	protos := map[[2]string]bool{}
	for i := range rows {
		r := &rows[i]
		row.Count += r.Count
		row.Bytes += r.Bytes
		row.Rate += r.Rate
		row.Sampled += r.Sampled
		samples = append(samples, r.Samples...)
		hist = max(hist, len(r.History))
		protos[[2]string{r.L3, r.L4}] = true
		if r.Interface != "" {
			busier(ifaces, r.InterfaceLabel(), r)
		}
		busier(sites, r.Symbol(), r)
	}
	if len(ifaces) != 1 {
		row.Interface, row.Ifindex, row.Netns, row.NetnsCookie, row.Namespace, row.Gone = "", 0, 0, 0, "", false
		if len(ifaces) > 1 {
			row.Ifaces, row.BusiestIface = len(ifaces), busiest(ifaces)
		}
	}
	if len(protos) > 1 {
		row.L3, row.L4, row.Protos = "", "", len(protos)
		if l3 := rows[0].L3; !slices.ContainsFunc(rows, func(r Site) bool { return r.L3 != l3 }) {
			row.L3 = l3
		}
	}
	if g == GroupReason {
		row.Key = Key{Reason: row.Key.Reason}
		if len(sites) > 1 {
			row.Function, row.Offset, row.Module, row.Address = "", "", "", ""
			row.Sites, row.BusiestSite = len(sites), busiest(sites)
		}
	}
	if hist > 0 {
		row.History = make([]float64, hist)
		for _, r := range rows {
			for j, v := range r.History {
				row.History[hist-len(r.History)+j] += v
			}
		}
	}
	slices.SortStableFunc(samples, func(a, b Packet) int { return a.Time.Compare(b.Time) })
	row.Samples = samples[max(len(samples)-SamplesPerSite, 0):]
	if len(row.Samples) == 0 {
		row.Samples = nil
	}
	return row
}

// busier adds r's drops to the entry of name.
func busier(m map[string]*Site, name string, r *Site) {
	e := m[name]
	if e == nil {
		m[name] = &Site{Count: r.Count, Rate: r.Rate}
		return
	}
	e.Count += r.Count
	e.Rate += r.Rate
}

// busiest is the name with the most drops (then the highest rate, then the
// first name).
func busiest(m map[string]*Site) string {
	var best string
	var top *Site
	for name, e := range m {
		if top == nil || cmp.Or(cmp.Compare(e.Count, top.Count), cmp.Compare(e.Rate, top.Rate), cmp.Compare(best, name)) > 0 {
			best, top = name, e
		}
	}
	return best
}

// Grouped returns a copy of the snapshot whose sites are grouped by g
// (Group), saying so in Group. Totals, protocols and interfaces are the
// snapshot's: grouping changes the rows, not what they sum to.
func (s Snapshot) Grouped(g Grouping) Snapshot {
	if g == GroupFull {
		return s
	}
	s.Sites, s.Group = Group(s.Sites, g), g.String()
	return s
}

// SiteLabel names what a row's drops happened at: its site
// (function+offset), or for a row over several sites, how many and the
// busiest: "4 sites (__udp4_lib_rcv+0x4bc)".
func (s Site) SiteLabel() string {
	if s.Sites > 1 {
		return strconv.Itoa(s.Sites) + " sites (" + s.BusiestSite + ")"
	}
	return s.Symbol()
}

// InterfacesLabel names where a row's drops came in: its interface
// (InterfaceLabel), or for a row over several, how many and the busiest:
// "3 ifaces (eth0@web)".
func (s Site) InterfacesLabel() string {
	if s.Ifaces > 1 {
		return strconv.Itoa(s.Ifaces) + " ifaces (" + s.BusiestIface + ")"
	}
	return s.InterfaceLabel()
}
