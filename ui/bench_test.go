package ui

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skbtop/skbtop/drops"
)

// manySites makes n sites the way a full map of an idle host looks: n/8
// ethertypes on each of 8 interfaces of 4 namespaces, with a minute of
// history.
func manySites(n int) drops.Snapshot {
	sites := make([]drops.Site, n)
	for i := range sites {
		ifindex, netns := uint32(2+i%8), uint32(4026531840+i%4)
		l3 := uint16(0x8800 + i/8)
		sites[i] = drops.Site{
			Function: "__netif_receive_skb_core", Offset: "0x1b4", Address: "0xffffffff81a012a4",
			Reason: "UNHANDLED_PROTO", ReasonCode: 43,
			Interface: fmt.Sprintf("veth%d@web%d", i%8, i%4), Ifindex: ifindex, Netns: netns,
			L3: fmt.Sprintf("0x%04x", l3), Count: uint64(1 + i%7), Bytes: uint64(60 * (1 + i%7)),
			History: make([]float64, drops.HistoryLen),
			Key:     drops.Key{Location: 0xffffffff81a012a4, Reason: 43, Ifindex: ifindex, Netns: netns, L3: l3},
		}
	}
	snap := drops.Snapshot{Schema: drops.SchemaV1, Host: "bench", Sites: sites, Time: fixtureTime}
	snap.Recount()
	return snap
}

// refresh is one refresh of the live view: a snapshot arrives, then the
// frame is drawn.
func refresh(b *testing.B, m Model, snap drops.Snapshot) Model {
	next, _ := m.Update(snapshotMsg{snap: snap})
	m = next.(Model)
	if v := m.View(); v.Content == "" {
		b.Fatal("empty frame")
	}
	return m
}

func benchModel(b *testing.B) Model {
	m := New(&fakeSource{}, Options{Interval: time.Second, Now: newClock().Now})
	next, _ := m.Update(sizeMsg(120, 40))
	return next.(Model)
}

// BenchmarkIdleRefresh is a refresh of 16,384 sites that stopped dropping:
// the aggregator hands out the same cached snapshot every time.
func BenchmarkIdleRefresh(b *testing.B) {
	snap := manySites(16384)
	snap.Version = 1
	m := refresh(b, benchModel(b), snap)
	b.ReportAllocs()
	for b.Loop() {
		snap.Time = snap.Time.Add(time.Second)
		m = refresh(b, m, snap)
	}
}

// BenchmarkBusyRefresh is a refresh of 2,000 sites that all drop every
// interval: each snapshot is new.
func BenchmarkBusyRefresh(b *testing.B) {
	base := manySites(2000)
	m := refresh(b, benchModel(b), base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		snap := base
		snap.Sites = slices.Clone(base.Sites)
		for j := range snap.Sites {
			snap.Sites[j].Rate = float64((i + j) % 50)
			snap.Sites[j].Count += uint64(i)
		}
		snap.Time = snap.Time.Add(time.Duration(i) * time.Second)
		snap.Version = uint64(i + 1)
		m = refresh(b, m, snap)
	}
}

// BenchmarkTrickleRefresh is a refresh of 16,384 sites of which one drops
// now and then: every snapshot is new, nearly all its sites quiet.
func BenchmarkTrickleRefresh(b *testing.B) {
	base := manySites(16384)
	m := refresh(b, benchModel(b), base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		snap := base
		snap.Sites = slices.Clone(base.Sites)
		snap.Sites[0].Rate = 1
		snap.Sites[0].Count += uint64(i)
		snap.Version = uint64(i + 1)
		m = refresh(b, m, snap)
	}
}

// BenchmarkSparklineRefresh is a refresh of 16,384 sites that stopped
// dropping less than a minute ago: only their histories move.
func BenchmarkSparklineRefresh(b *testing.B) {
	base := manySites(16384)
	base.Rows = 1
	m := refresh(b, benchModel(b), base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		snap := base
		snap.Sites = slices.Clone(base.Sites)
		snap.Version = uint64(i + 1)
		m = refresh(b, m, snap)
	}
}

// BenchmarkFleetRefresh is a refresh of a node with 1000 containers (named
// as the scale benchmark names them, too long for the IFACE column): a
// veth in each and its peer in the home namespace, 2000 interfaces with
// counters and a drop site each, all dropping every interval, so that
// every snapshot is new but its rows are the same (Names); their rates differ a
// little from refresh to refresh (2 or 3 frames an interval), so they
// change places.
func BenchmarkFleetRefresh(b *testing.B) {
	const n = 1000
	base := drops.Snapshot{Schema: drops.SchemaV1, Host: "bench", Time: fixtureTime}
	for i := range 2 * n {
		name, netns, ns := fmt.Sprintf("veth%04x", i/2), uint32(4026531840), ""
		if i%2 == 1 {
			name, netns, ns = "eth0", uint32(4026532000+i/2), fmt.Sprintf("skbtop-fleet-4242-1-%d", i/2)
		}
		base.Sites = append(base.Sites, drops.Site{
			Function: "__netif_receive_skb_core", Offset: "0x1b4", Address: "0xffffffff81a012a4",
			Reason: "UNHANDLED_PROTO", ReasonCode: 43, Interface: name, Namespace: ns, Ifindex: uint32(2 + i), Netns: netns,
			L3: "0x88b5", Count: 2, Bytes: 120, History: make([]float64, drops.HistoryLen),
			Key: drops.Key{Location: 0xffffffff81a012a4, Reason: 43, Ifindex: uint32(2 + i), Netns: netns, L3: 0x88b5},
		})
		if i%2 == 0 {
			c := drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: 2, drops.RxNoHandler: 0, drops.RxPackets: 2})
			base.Interfaces = append(base.Interfaces, drops.Interface{Name: name, Ifindex: uint32(2 + i), Netns: netns,
				Counters: &c, Delta: &c})
		}
	}
	base.Recount()
	m := refresh(b, benchModel(b), base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		snap := base
		snap.Sites = slices.Clone(base.Sites)
		for j := range snap.Sites {
			d := uint64(2 + (i+j)%2)
			snap.Sites[j].Count += uint64(i) * d
			snap.Sites[j].Rate = float64(d)
		}
		drops.SortSites(snap.Sites, drops.ByRate)
		snap.Time = snap.Time.Add(time.Duration(i) * time.Second)
		snap.Version = uint64(i + 1)
		// The same rows under the same names, as the aggregator
		// numbers them.
		snap.Names = 1
		m = refresh(b, m, snap)
	}
}
