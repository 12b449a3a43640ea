package drops

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// namesByCall names inode 50 "web" until asked afresh, then "db": the
// namespace deleted and a new one holding its inode.
type namesByCall struct {
	fixedResolver
	fresh *int
}

func (r namesByCall) Namespace(netns uint32, fresh bool) string {
	if netns != 50 {
		return ""
	}
	if fresh {
		*r.fresh++
	}
	if *r.fresh > 0 {
		return "db"
	}
	return "web"
}

func rows(s Snapshot) map[string]uint64 {
	out := map[string]uint64{}
	for _, site := range s.Sites {
		out[site.InterfaceLabel()] += site.Count
	}
	return out
}

func equalRows(t *testing.T, what string, got, want map[string]uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: rows %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: rows %v, want %v", what, got, want)
			return
		}
	}
}

// TestReusedNamespaceInode: a namespace is deleted and a new one gets its
// inode. Each keeps its own drops under its own name; the old one is gone.
func TestReusedNamespaceInode(t *testing.T) {
	// The kernel does not hand out cookies in the order it makes
	// namespaces: the new one's may be lower.
	for _, youngCookie := range []uint64{200, 50} {
		reusedNamespaceInode(t, youngCookie)
	}
}

func reusedNamespaceInode(t *testing.T, youngCookie uint64) {
	t.Helper()
	var fresh int
	a := NewAggregator(Config{Resolver: namesByCall{res, &fresh}, Home: NamespaceID{Inode: 1, Cookie: 7}})
	old := Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 2, Netns: 50, NetnsCookie: 100, L3: 0x0800, L4: 17}
	young := old
	young.NetnsCookie = youngCookie
	r := reading(0, Health{})
	a.Update(r)
	r = reading(1, Health{}, Count{Key: old, Packets: 60})
	r.Devices = []Device{{Netns: 50, NetnsCookie: 100, Ifindex: 2, Name: "veth1"}}
	a.Update(r)
	equalRows(t, "before", rows(a.Snapshot()), map[string]uint64{"veth1@web": 60})
	r = reading(2, Health{}, Count{Key: young, Packets: 40})
	r.Retired = []Count{{Key: old, Packets: 60}}
	r.Devices = []Device{{Netns: 50, NetnsCookie: youngCookie, Ifindex: 2, Name: "veth2"}}
	a.Update(r)
	s := a.Snapshot()
	equalRows(t, "after", rows(s), map[string]uint64{"veth1@web (gone)": 60, "veth2@db": 40})
	if fresh != 1 {
		t.Errorf("the new namespace was named afresh %d times, want once", fresh)
	}
	if s.Totals.Drops != 100 {
		t.Errorf("total %d, want 100", s.Totals.Drops)
	}
	gone := 0
	for _, ifc := range s.Interfaces {
		if ifc.Gone {
			gone++
			if ifc.Label() != "veth1@web (gone)" || ifc.TracedDrops != 60 {
				t.Errorf("gone interface %+v", ifc)
			}
		}
	}
	if gone != 1 || len(s.Interfaces) != 2 {
		t.Errorf("interfaces %+v, want veth1@web gone and veth2@db", s.Interfaces)
	}
}

// TestReusedIfindex: in the home namespace an interface is deleted and a
// new one made with its index. The old one's drops stay its own.
func TestReusedIfindex(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 7}})
	k := Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 5, Netns: 1, NetnsCookie: 7, L3: 0x0800, L4: 17}
	links := func(sec int, ls []Link, counts ...Count) Reading {
		r := reading(sec, Health{}, counts...)
		r.Links = ls
		return r
	}
	lo := Link{Name: "lo", Index: 1}
	a.Update(links(0, []Link{lo, {Name: "veth5", Index: 5}}))
	a.Update(links(1, []Link{lo, {Name: "veth5", Index: 5}}, Count{Key: k, Packets: 30}))
	// Deleted: the next list has no index 5.
	a.Update(links(2, []Link{lo}, Count{Key: k, Packets: 30}))
	if got := rows(a.Snapshot()); got["veth5 (gone)"] != 30 {
		t.Errorf("deleted interface rows %v, want veth5 (gone) 30", got)
	}
	// Made again with index 5, under the same name: a new interface.
	a.Update(links(3, []Link{lo, {Name: "veth5", Index: 5}}, Count{Key: k, Packets: 37}))
	equalRows(t, "recreated", rows(a.Snapshot()), map[string]uint64{"veth5 (gone)": 30, "veth5": 7})
	// Another name at index 5, seen by the tracer before any list.
	r := reading(4, Health{}, Count{Key: k, Packets: 40})
	r.Devices = []Device{{Netns: 1, NetnsCookie: 7, Ifindex: 5, Name: "eth9"}}
	a.Update(r)
	equalRows(t, "renamed", rows(a.Snapshot()), map[string]uint64{"veth5 (gone)": 37, "eth9": 3})
}

// TestRetiredKeys: keys the tracer takes out of the kernel map keep their
// counts, exactly, and count from zero when they come back.
func TestRetiredKeys(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 10, Bytes: 100}))
	// Between reads: 5 more, then the key is retired at 15; 3 new drops
	// landed in the other map, and nft was added and retired unseen.
	r := reading(1, Health{}, Count{Key: udp, Packets: 3, Bytes: 30})
	r.Retired = []Count{{Key: udp, Packets: 15, Bytes: 150}, {Key: nft, Packets: 4, Bytes: 40}}
	a.Update(r)
	s := a.Snapshot()
	if u := site(t, s, "__udp4_lib_rcv"); u.Count != 8 || u.Bytes != 80 || u.Rate != 8 {
		t.Errorf("udp: count %d bytes %d rate %v, want 8, 80, 8", u.Count, u.Bytes, u.Rate)
	}
	if n := site(t, s, "nft_do_chain"); n.Count != 4 {
		t.Errorf("nft: count %d, want 4", n.Count)
	}
	// Retired again at 3 (nothing new), then gone from the kernel: the
	// count stays, the rate is zero.
	r = reading(2, Health{})
	r.Retired = []Count{{Key: udp, Packets: 3, Bytes: 30}}
	a.Update(r)
	if u := site(t, a.Snapshot(), "__udp4_lib_rcv"); u.Count != 8 || u.Rate != 0 {
		t.Errorf("udp idle: count %d rate %v, want 8, 0", u.Count, u.Rate)
	}
	a.Update(reading(3, Health{}, Count{Key: udp, Packets: 2}))
	if u := site(t, a.Snapshot(), "__udp4_lib_rcv"); u.Count != 10 || u.Rate != 2 {
		t.Errorf("udp back: count %d rate %v, want 10, 2", u.Count, u.Rate)
	}
}

// TestUnnamedNamespace: a namespace skbtop cannot name is still not the
// home one.
func TestUnnamedNamespace(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1}})
	k := Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 156, Netns: 4026532459, L3: 0x0800, L4: 17}
	a.Update(reading(0, Health{}))
	r := reading(1, Health{}, Count{Key: k, Packets: 2})
	r.Devices = []Device{{Netns: 4026532459, Ifindex: 156, Name: "srx156"}}
	a.Update(r)
	equalRows(t, "unnamed", rows(a.Snapshot()), map[string]uint64{"srx156@ns:4026532459": 2})
}

// TestOnlyHome: with Only, keys of another namespace holding the watched
// one's inode are not counted.
func TestOnlyHome(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 7}, Only: true})
	mine := udp
	mine.NetnsCookie = 7
	other := udp
	other.NetnsCookie = 8
	a.Update(reading(0, Health{}))
	a.Update(reading(1, Health{}, Count{Key: mine, Packets: 3}, Count{Key: other, Packets: 50}))
	if s := a.Snapshot(); s.Totals.Drops != 3 {
		t.Errorf("total %d, want only the watched namespace's 3", s.Totals.Drops)
	}
}

// TestIdleSnapshotIsCached: with nothing new, a snapshot is not rebuilt,
// except while a past burst still moves left on the sparklines: a minute.
func TestIdleSnapshotIsCached(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}))
	a.Update(reading(1, Health{}, Count{Key: udp, Packets: 3}, Count{Key: nft, Packets: 4}))
	history := func(s Snapshot) []float64 {
		t.Helper()
		for _, site := range s.Sites {
			if site.Key == udp {
				return site.History
			}
		}
		t.Fatalf("no site of %+v", udp)
		return nil
	}
	prev := a.Snapshot()
	for sec := 2; sec <= HistoryLen+1; sec++ {
		a.Update(reading(sec, Health{}, Count{Key: udp, Packets: 3}, Count{Key: nft, Packets: 4}))
		s := a.Snapshot()
		if s.Version == prev.Version {
			t.Fatalf("at %ds the snapshot was not rebuilt, though the burst at 1s moved on the sparkline", sec)
		}
		h := history(s)
		if sec <= HistoryLen && (len(h) != sec || h[0] != 3 || slices.ContainsFunc(h[1:], func(r float64) bool { return r != 0 })) {
			t.Fatalf("history at %ds: %v, want the burst of 3/s first, then zeros", sec, h)
		}
		if sec == HistoryLen+1 && (len(h) != HistoryLen || slices.ContainsFunc(h, func(r float64) bool { return r != 0 })) {
			t.Fatalf("history at %ds: %v, want a minute of zeros", sec, h)
		}
		// From 3s on only histories move (at 2s the rates fell to 0):
		// the rows stay, and the snapshot a view still holds is not
		// changed under it.
		if sec >= 3 && s.Rows != prev.Rows {
			t.Fatalf("at %ds rows %d, were %d: only histories moved", sec, s.Rows, prev.Rows)
		}
		if sec >= 3 && len(history(prev)) != min(sec-1, HistoryLen) {
			t.Fatalf("at %ds the previous snapshot's history changed to %v", sec, history(prev))
		}
		prev = s
	}
	s1 := prev
	a.Update(reading(HistoryLen+2, Health{}, Count{Key: udp, Packets: 3}, Count{Key: nft, Packets: 4}))
	s2 := a.Snapshot()
	if &s1.Sites[0] != &s2.Sites[0] {
		t.Error("an idle snapshot was rebuilt")
	}
	if s1.Version == 0 || s2.Version != s1.Version {
		t.Errorf("idle snapshots have versions %d and %d, want the same non-zero one", s1.Version, s2.Version)
	}
	if s2.WindowS != HistoryLen+2 || s2.Totals.Drops != 7 {
		t.Errorf("cached snapshot window %v drops %d, want %d and 7", s2.WindowS, s2.Totals.Drops, HistoryLen+2)
	}
	a.Update(reading(HistoryLen+3, Health{}, Count{Key: udp, Packets: 4}, Count{Key: nft, Packets: 4}))
	s3 := a.Snapshot()
	if &s3.Sites[0] == &s2.Sites[0] || s3.Totals.Drops != 8 {
		t.Errorf("a changed snapshot was not rebuilt: %d drops", s3.Totals.Drops)
	}
	if s3.Version == s2.Version {
		t.Errorf("a changed snapshot kept version %d: views would not redraw it", s3.Version)
	}
}

// TestSamplesStayWithTheirLifetime: once an ifindex names a new interface,
// the old interface's row keeps its drops but shows no samples of the
// key's, which go to the new row. (Samples are kept by kernel key: the
// new row shows those taken just before it began too.)
func TestSamplesStayWithTheirLifetime(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 0}))
	a.Update(reading(1, Health{}, Count{Key: udp, Packets: 3, Bytes: 120}))
	a.AddSample(Sample{Key: udp, Len: 40, Data: ipv4UDP(t)})
	// eth0 is gone and ifindex 2 is eth9 now: the program names it at
	// its next key.
	r := reading(2, Health{}, Count{Key: udp, Packets: 5, Bytes: 200})
	r.Devices = []Device{{Netns: 1, Ifindex: 2, Name: "eth9"}, devices[1]}
	a.Update(r)
	a.AddSample(Sample{Key: udp, CPU: 1, Len: 40, Data: ipv4UDP(t)})
	a.AddSample(Sample{Key: udp, CPU: 1, Len: 40, Data: ipv4UDP(t)})
	byIface := map[string]Site{}
	for _, s := range a.Snapshot().Sites {
		byIface[s.InterfaceLabel()] = s
	}
	old, now := byIface["eth0 (gone)"], byIface["eth9"]
	if old.Count != 3 || now.Count != 2 {
		t.Fatalf("counts: eth0 %d, eth9 %d, want 3 and 2 (rows %v)", old.Count, now.Count, slices.Collect(maps.Keys(byIface)))
	}
	if len(old.Samples) != 0 || len(now.Samples) == 0 {
		t.Errorf("samples: eth0's row has %d, eth9's %d; the new interface's samples are its own", len(old.Samples), len(now.Samples))
	}
}

// TestSharedSamples: snapshots share the aggregator's samples rather than
// copy them, yet what a snapshot holds never changes as samples come and
// the oldest go; and every sample is labeled as its row is, also one that
// came before the row had its name (an ethertype-0 skb a vsock function
// freed is vsock, not none).
func TestSharedSamples(t *testing.T) {
	r := fixedResolver{funcs: map[uint64]Location{0xffffffff85000000: {Function: "virtio_transport_recv_pkt"}}}
	a := NewAggregator(Config{Resolver: r, Home: NamespaceID{Inode: 1}})
	vs := Key{Location: 0xffffffff85000010, Reason: 2, Netns: 1}
	a.Update(Reading{Time: start, Counts: []Count{{Key: vs}}})
	a.AddSample(Sample{Key: vs, CPU: 0, Len: 40, Data: ipv4UDP(t)}) // before the row is named
	a.Update(Reading{Time: start.Add(time.Second), Counts: []Count{{Key: vs, Packets: 20}}})
	first := a.Snapshot()
	for i := 1; i < SamplesPerSite; i++ { // a full list
		a.AddSample(Sample{Key: vs, CPU: uint32(i), Len: 40, Data: ipv4UDP(t)})
	}
	if got := a.samples[vs]; got[len(got)-1].L3 != "vsock" {
		t.Errorf("a sample added once the row has its name is labeled %q, want vsock", got[len(got)-1].L3)
	}
	a.Update(Reading{Time: start.Add(2 * time.Second), Counts: []Count{{Key: vs, Packets: 21}}})
	second := a.Snapshot()
	kept := slices.Clone(second.Sites[0].Samples)
	for i := SamplesPerSite; i <= 12; i++ { // the oldest go
		a.AddSample(Sample{Key: vs, CPU: uint32(i), Len: 40, Data: ipv4UDP(t)})
	}
	a.Update(Reading{Time: start.Add(3 * time.Second), Counts: []Count{{Key: vs, Packets: 22}}})
	third := a.Snapshot()
	cpus := func(ps []Packet) (out []uint32) {
		for _, p := range ps {
			out = append(out, p.CPU)
			if p.L3 != "vsock" {
				t.Errorf("sample from CPU %d is labeled %q, want vsock as its row", p.CPU, p.L3)
			}
		}
		return out
	}
	if got := cpus(first.Sites[0].Samples); !slices.Equal(got, []uint32{0}) {
		t.Errorf("first snapshot's samples from CPUs %v, want [0]", got)
	}
	if got := cpus(second.Sites[0].Samples); !slices.Equal(got, []uint32{0, 1, 2, 3, 4, 5, 6, 7}) || !slices.EqualFunc(kept, second.Sites[0].Samples, func(x, y Packet) bool { return x.CPU == y.CPU && x.L3 == y.L3 && x.Time.Equal(y.Time) }) {
		t.Errorf("second snapshot's samples changed or are wrong: CPUs %v, want [0 ... 7]", got)
	}
	if got := cpus(third.Sites[0].Samples); !slices.Equal(got, []uint32{5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Errorf("third snapshot's samples from CPUs %v, want the last %d", got, SamplesPerSite)
	}
	// All labeled as their row now, so shared: more samples, the oldest
	// going, leave the third snapshot's as they were.
	kept = slices.Clone(third.Sites[0].Samples)
	for i := 13; i <= 14; i++ {
		a.AddSample(Sample{Key: vs, CPU: uint32(i), Len: 40, Data: ipv4UDP(t)})
	}
	a.Update(Reading{Time: start.Add(4 * time.Second), Counts: []Count{{Key: vs, Packets: 23}}})
	if got := cpus(a.Snapshot().Sites[0].Samples); !slices.Equal(got, []uint32{7, 8, 9, 10, 11, 12, 13, 14}) {
		t.Errorf("fourth snapshot's samples from CPUs %v, want 7 to 14", got)
	}
	if got := cpus(third.Sites[0].Samples); !slices.Equal(got, cpus(kept)) {
		t.Errorf("the third snapshot's samples changed to CPUs %v after it was taken, were %v", got, cpus(kept))
	}
}

// TestSampledAfterReset: a row's count of samples starts again at a reset
// and at the baseline, and counts each sample that comes after, though
// the snapshots in between found nothing new to look up.
func TestSampledAfterReset(t *testing.T) {
	r := fixedResolver{funcs: map[uint64]Location{0xffffffff81000000: {Function: "ip_rcv_finish"}}}
	a := NewAggregator(Config{Resolver: r, Home: NamespaceID{Inode: 1}})
	k := Key{Location: 0xffffffff81000010, Netns: 1}
	sample := func() { a.AddSample(Sample{Key: k, Len: 40, Data: ipv4UDP(t)}) }
	tick := 0
	sampled := func() uint64 {
		t.Helper()
		tick++
		a.Update(Reading{Time: start.Add(time.Duration(tick) * time.Second), Counts: []Count{{Key: k, Packets: uint64(10 * tick)}}})
		s := a.Snapshot()
		if len(s.Sites) != 1 {
			t.Fatalf("%d sites, want 1", len(s.Sites))
		}
		return s.Sites[0].Sampled
	}
	a.Update(Reading{Time: start, Counts: []Count{{Key: k}}})
	sample()
	sample()
	if got := sampled(); got != 2 {
		t.Errorf("sampled %d, want 2", got)
	}
	a.Reset()
	if got := sampled(); got != 0 {
		t.Errorf("sampled %d after the reset, want 0", got)
	}
	sample()
	if got := sampled(); got != 1 {
		t.Errorf("sampled %d after the reset and one more sample, want 1", got)
	}
	if got := sampled(); got != 1 {
		t.Errorf("sampled %d a refresh later, want 1", got)
	}
}
