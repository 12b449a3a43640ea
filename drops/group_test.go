package drops

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// groupSites are the rows of a host full of containers: one multicast site
// on three interfaces (two protocols), the same site for another reason, a
// UDP site on one interface, and drops that found the map full.
func groupSites() []Site {
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	mc := func(ifc, ns string, l4 string, count uint64, rate float64, hist []float64, samples ...Packet) Site {
		return Site{Function: "ip6_mc_input", Offset: "0x15e", Address: "0xffffffff8200015e", Reason: "NOT_SPECIFIED", ReasonCode: 2,
			Interface: ifc, Namespace: ns, Ifindex: 2, Netns: uint32(len(ns)), L3: "IPv6", L4: l4, Count: count, Rate: rate, Bytes: 10 * count,
			History: hist, Samples: samples,
			Key: Key{Location: 0xffffffff8200015e, Reason: 2, Ifindex: 2, Netns: uint32(len(ns)), L3: 0x86dd}}
	}
	return []Site{
		mc("eth0", "a", "ICMPv6", 100, 5, []float64{1, 2, 3}, Packet{Time: at(1), CPU: 1}),
		mc("eth0", "bb", "ICMPv6", 300, 1, []float64{4, 5}, Packet{Time: at(3), CPU: 3}, Packet{Time: at(5), CPU: 5}),
		mc("eth0", "ccc", "UDP", 200, 9, nil, Packet{Time: at(4), CPU: 4}),
		{Function: "ip6_mc_input", Offset: "0x15e", Address: "0xffffffff8200015e", Reason: "IPV6DISABLED", ReasonCode: 9,
			Interface: "eth0", Namespace: "a", Ifindex: 2, Netns: 1, L3: "IPv6", L4: "ICMPv6", Count: 7, Rate: 0.5,
			Key: Key{Location: 0xffffffff8200015e, Reason: 9, Ifindex: 2, Netns: 1, L3: 0x86dd}},
		{Function: "__udp4_lib_rcv", Offset: "0x4bc", Address: "0xffffffff810004bc", Reason: "NOT_SPECIFIED", ReasonCode: 2,
			Interface: "veth1", Ifindex: 3, Netns: 7, L3: "IPv4", L4: "UDP", Count: 50, Rate: 2,
			Key: Key{Location: 0xffffffff810004bc, Reason: 2, Ifindex: 3, Netns: 7, L3: 0x0800, L4: 17}},
		{Function: OverflowFunction, Count: 11, Rate: 1},
	}
}

func TestGroup(t *testing.T) {
	sites := groupSites()
	if got := Group(sites, GroupFull); len(got) != len(sites) {
		t.Errorf("GroupFull changed the rows: %d, want %d", len(got), len(sites))
	}

	bySite := Group(sites, GroupSite)
	if len(bySite) != 4 {
		t.Fatalf("by site: %d rows, want 4 (ip6_mc_input twice, __udp4_lib_rcv, map full): %+v", len(bySite), bySite)
	}
	mc := bySite[0]
	if mc.Symbol() != "ip6_mc_input+0x15e" || mc.Reason != "NOT_SPECIFIED" || mc.Count != 600 || mc.Bytes != 6000 || mc.Rate != 15 {
		t.Errorf("ip6_mc_input NOT_SPECIFIED: %s %s count %d bytes %d rate %v; want 600, 6000, 15", mc.Symbol(), mc.Reason, mc.Count, mc.Bytes, mc.Rate)
	}
	if mc.Ifaces != 3 || mc.BusiestIface != "eth0@bb" || mc.InterfacesLabel() != "3 ifaces (eth0@bb)" || mc.Interface != "" || mc.Ifindex != 0 {
		t.Errorf("interfaces of the group: %d, busiest %q, label %q, interface %q", mc.Ifaces, mc.BusiestIface, mc.InterfacesLabel(), mc.Interface)
	}
	if mc.Protos != 2 || mc.Proto() != "IPv6 (2)" || mc.ShortProto() != "IPv6 (2)" {
		t.Errorf("protocols of the group: %d, %q", mc.Protos, mc.Proto())
	}
	if fmt.Sprint(mc.History) != "[1 6 8]" {
		t.Errorf("history %v, want the rows' summed, newest last: [1 6 8]", mc.History)
	}
	var cpus []uint32
	for _, p := range mc.Samples {
		cpus = append(cpus, p.CPU)
	}
	if fmt.Sprint(cpus) != "[1 3 4 5]" {
		t.Errorf("samples from CPUs %v, want every row's, oldest first: [1 3 4 5]", cpus)
	}
	// A group of one is the row itself.
	if u := bySite[2]; u.Function != "__udp4_lib_rcv" || u.InterfacesLabel() != "veth1" || u.Proto() != "IPv4/UDP" || u.Ifaces != 0 || u.Count != 50 {
		t.Errorf("a site on one interface should read as itself: %+v", u)
	}
	if o := bySite[3]; o.Function != OverflowFunction || o.Count != 11 {
		t.Errorf("the map-full row: %+v", o)
	}

	byReason := Group(sites, GroupReason)
	var got []string
	for _, r := range byReason {
		got = append(got, fmt.Sprintf("%s %s %s %d", r.Reason, r.SiteLabel(), r.InterfacesLabel(), r.Count))
	}
	want := []string{
		"NOT_SPECIFIED 2 sites (ip6_mc_input+0x15e) 4 ifaces (eth0@bb) 650",
		"IPV6DISABLED ip6_mc_input+0x15e eth0@a 7",
		" [map full]  11",
	}
	if !slices.Equal(got, want) {
		t.Errorf("by reason:\n%q\nwant\n%q", got, want)
	}
	if k := byReason[0].Key; k != (Key{Reason: 2}) {
		t.Errorf("a reason row's key %+v, want the reason alone", k)
	}

	// Counts stay exact in every grouping.
	for _, g := range []Grouping{GroupFull, GroupSite, GroupReason} {
		var n uint64
		var r float64
		for _, s := range Group(sites, g) {
			n, r = n+s.Count, r+s.Rate
		}
		if n != 668 || r != 18.5 {
			t.Errorf("%s: rows sum to %d drops, %v/s; want 668, 18.5", g, n, r)
		}
	}
}

func TestGroupedSnapshot(t *testing.T) {
	snap := Snapshot{Sites: groupSites()}
	snap.Recount()
	g := snap.Grouped(GroupReason)
	if g.Group != "reason" || len(g.Sites) != 3 || g.Totals != snap.Totals || len(g.Interfaces) != len(snap.Interfaces) ||
		!slices.Equal(g.Protocols, snap.Protocols) {
		t.Errorf("grouped: group %q, %d rows, totals %+v (want %+v), %d interfaces (want %d)",
			g.Group, len(g.Sites), g.Totals, snap.Totals, len(g.Interfaces), len(snap.Interfaces))
	}
	if len(snap.Sites) != 6 {
		t.Error("Grouped changed the snapshot it was called on")
	}
	if f := snap.Grouped(GroupFull); f.Group != "" || len(f.Sites) != 6 {
		t.Errorf("GroupFull: group %q, %d rows", f.Group, len(f.Sites))
	}
}

func TestParseGrouping(t *testing.T) {
	for g := range numGroupings {
		if p, err := ParseGrouping(g.String()); err != nil || p != g {
			t.Errorf("ParseGrouping(%q) = %v, %v", g.String(), p, err)
		}
		if g.Next() == g {
			t.Errorf("%s.Next() is itself", g)
		}
	}
	if _, err := ParseGrouping("iface"); err == nil {
		t.Error("ParseGrouping(iface) succeeded")
	}
}
