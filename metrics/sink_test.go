package metrics

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/drops"
)

// resolver names the test keys: functions by the address's page, reasons
// and namespaces from small tables.
type resolver struct{ spaces map[uint32]string }

func (resolver) Locate(addr uint64) (drops.Location, bool) {
	fn := fmt.Sprintf("fn%d", addr>>12&0xffff)
	if addr>>12&0xffff == netifPage {
		fn = "__netif_receive_skb_core"
	}
	return drops.Location{Function: fn, Offset: addr & 0xfff, Address: addr}, true
}

// netifPage is the page of key(netifPage, x): __netif_receive_skb_core.
const netifPage = 0x999

func (resolver) Reason(code uint32) string {
	return map[uint32]string{2: "NOT_SPECIFIED", 3: "NO_SOCKET", 74: "UNHANDLED_PROTO"}[code]
}

func (r resolver) Namespace(netns uint32, fresh bool) string { return r.spaces[netns] }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// key is a kernel key at function fnN, offset off, on ifindex 2 of the
// home namespace (inode 1).
func key(fn, off int) drops.Key {
	return drops.Key{Location: 0xffffffff80000000 | uint64(fn)<<12 | uint64(off), Reason: 3, Ifindex: 2, Netns: 1, L3: 0x0800, L4: 17}
}

func reading(sec int, counts ...drops.Count) drops.Reading {
	return drops.Reading{Time: t0.Add(time.Duration(sec) * time.Second), Counts: counts,
		Devices: []drops.Device{{Netns: 1, Ifindex: 2, Name: "eth0"}}}
}

func newAgg() *drops.Aggregator {
	return drops.NewAggregator(drops.Config{Resolver: resolver{}, Kernel: "6.18", Home: drops.NamespaceID{Inode: 1}})
}

// gather returns every sample of the sink's metric called name, keyed by
// its labels as name=value pairs joined by commas, in label-name order.
func gather(t *testing.T, k *Sink, name string) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(k)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var lv []string
			for _, l := range m.GetLabel() {
				lv = append(lv, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(lv, ",")] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// udp0 is the label set of key(0, x) sites.
const udp0 = "function=fn0,interface=eth0,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET"

// TestCountersThroughReset: the live view's reset restarts the
// snapshot's counts; the exported counter goes on from its total, even
// when the new window's count is already above the old one.
func TestCountersThroughReset(t *testing.T) {
	a, k := newAgg(), New(Config{})
	observe := func(r drops.Reading) {
		a.Update(r)
		k.Observe(a.Snapshot())
	}
	observe(reading(0, drops.Count{Key: key(0, 1), Packets: 1000}))
	if got := gather(t, k, "skbtop_drops_total"); len(got) != 0 {
		t.Fatalf("baseline exported %v, want nothing", got)
	}
	observe(reading(1, drops.Count{Key: key(0, 1), Packets: 1010}))
	a.Reset()
	observe(reading(2, drops.Count{Key: key(0, 1), Packets: 1025}))
	if got := gather(t, k, "skbtop_drops_total")[udp0]; got != 25 {
		t.Errorf("after the reset: %v, want 25 (10 + 15)", got)
	}
	a.Reset()
	observe(reading(3, drops.Count{Key: key(0, 1), Packets: 1026}))
	if got := gather(t, k, "skbtop_drops_total")[udp0]; got != 26 {
		t.Errorf("after another reset: %v, want 26", got)
	}
}

// TestCountersThroughRetirement: keys the tracer retires from the kernel
// map and that come back from zero, and two offsets of one function: one
// series, exact.
func TestCountersThroughRetirement(t *testing.T) {
	a, k := newAgg(), New(Config{})
	observe := func(r drops.Reading) {
		a.Update(r)
		k.Observe(a.Snapshot())
	}
	observe(reading(0))
	r := reading(1, drops.Count{Key: key(0, 1), Packets: 3}, drops.Count{Key: key(0, 2), Packets: 4})
	r.Retired = []drops.Count{{Key: key(0, 1), Packets: 15}}
	observe(r)
	observe(reading(2))
	observe(reading(3))
	observe(reading(4, drops.Count{Key: key(0, 1), Packets: 2}))
	if got := gather(t, k, "skbtop_drops_total"); got[udp0] != 24 || len(got) != 1 {
		t.Errorf("%v, want %s 24 (15+3+4+2)", got, udp0)
	}
}

// TestSeriesComesBack: an interface deleted and made again under the same
// name is a new row in the snapshots, with counts from zero; its series
// continues from the total. A namespace named only later starts a series of
// its own, and the first keeps what it had.
func TestSeriesComesBack(t *testing.T) {
	a := drops.NewAggregator(drops.Config{Resolver: resolver{spaces: map[uint32]string{}}, Home: drops.NamespaceID{Inode: 1, Cookie: 7}})
	k := New(Config{})
	k5 := drops.Key{Location: 0xffffffff80000001, Reason: 3, Ifindex: 5, Netns: 1, NetnsCookie: 7, L3: 0x0800, L4: 17}
	links := func(sec int, ls []drops.Link, counts ...drops.Count) {
		r := reading(sec, counts...)
		r.Links = ls
		a.Update(r)
		k.Observe(a.Snapshot())
	}
	lo, veth := drops.Link{Name: "lo", Index: 1}, drops.Link{Name: "veth5", Index: 5}
	const series = "function=fn0,interface=veth5,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET"
	links(0, []drops.Link{lo, veth})
	links(1, []drops.Link{lo, veth}, drops.Count{Key: k5, Packets: 30})
	links(2, []drops.Link{lo}, drops.Count{Key: k5, Packets: 30})
	links(3, []drops.Link{lo}, drops.Count{Key: k5, Packets: 30})
	links(4, []drops.Link{lo, veth}, drops.Count{Key: k5, Packets: 37})
	if got := gather(t, k, "skbtop_drops_total"); got[series] != 37 || len(got) != 1 {
		t.Errorf("%v, want %s 37: the new veth5's 7 continue its total", got, series)
	}
	traced := gather(t, k, "skbtop_interface_traced_drops_total")
	if traced["counter=none,interface=veth5"] != 37 {
		t.Errorf("traced %v, want veth5 none 37", traced)
	}

	// A namespace first seen unnamed, named later.
	r := resolver{spaces: map[uint32]string{}}
	a = drops.NewAggregator(drops.Config{Resolver: r, Home: drops.NamespaceID{Inode: 1}})
	k = New(Config{})
	kw := drops.Key{Location: 0xffffffff80000001, Reason: 3, Ifindex: 2, Netns: 9, L3: 0x0800, L4: 17}
	observe := func(sec int, n uint64) {
		rd := reading(sec, drops.Count{Key: kw, Packets: n})
		rd.Devices = []drops.Device{{Netns: 9, Ifindex: 2, Name: "eth0"}}
		a.Update(rd)
		k.Observe(a.Snapshot())
	}
	observe(0, 0)
	observe(1, 5)
	r.spaces[9] = "web"
	observe(2, 8)
	got := gather(t, k, "skbtop_drops_total")
	unnamed := "function=fn0,interface=eth0,namespace=ns:9,protocol=IPv4/UDP,reason=NO_SOCKET"
	named := "function=fn0,interface=eth0,namespace=web,protocol=IPv4/UDP,reason=NO_SOCKET"
	if got[unnamed] != 5 || got[named] != 3 {
		t.Errorf("%v, want %s 5 and %s 3", got, unnamed, named)
	}
	if len(gather(t, k, "skbtop_interface_traced_drops_total")) != 0 {
		t.Error("an interface of another namespace has traced drops by counter; only the home namespace's have counters")
	}
}

// snapshot makes a snapshot by hand: one site per (function, interface)
// pair in counts, with the window's count, all in one window.
func snapshot(sec int, counts map[[2]int]uint64) drops.Snapshot {
	s := drops.Snapshot{Time: t0.Add(time.Duration(sec) * time.Second), Start: t0}
	for fi, n := range counts {
		site := drops.Site{Function: fmt.Sprintf("fn%d", fi[0]), Reason: "NO_SOCKET", Interface: fmt.Sprintf("veth%d", fi[1]),
			Ifindex: uint32(fi[1] + 1), L3: "IPv4", L4: "UDP", Count: n,
			Key: drops.Key{Location: uint64(fi[0]+1)<<20 | uint64(fi[1]), Ifindex: uint32(fi[1] + 1)}}
		s.Sites = append(s.Sites, site)
		s.Totals.Drops += n
	}
	return s
}

// TestFoldingKeepsTheTotal: 60 functions on one interface, a budget of 10.
// The series stay within it, their sum is every drop, the busiest functions
// keep their own series, and a folded function's later drops go to
// "other", not to a new series.
func TestFoldingKeepsTheTotal(t *testing.T) {
	k := New(Config{MaxSeries: 10})
	counts := map[[2]int]uint64{}
	var total uint64
	for sec := range 60 {
		// Function sec drops once; functions 0 to 4 drop every second.
		counts[[2]int{sec, 0}]++
		total++
		for fn := range 5 {
			if fn != sec {
				counts[[2]int{fn, 0}] += 10
				total += 10
			}
		}
		k.Observe(snapshot(sec, counts))
		got := gather(t, k, "skbtop_drops_total")
		if len(got) > 10 {
			t.Fatalf("second %d: %d series, more than the budget of 10", sec, len(got))
		}
		if s := sum(got); s != float64(total) {
			t.Fatalf("second %d: series add up to %v, want %d", sec, s, total)
		}
	}
	got := gather(t, k, "skbtop_drops_total")
	for fn := range 5 {
		name := fmt.Sprintf("function=fn%d,interface=veth0,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET", fn)
		if got[name] != float64(counts[[2]int{fn, 0}]) {
			t.Errorf("busy %s = %v, want its own %d", name, got[name], counts[[2]int{fn, 0}])
		}
	}
	other := "function=other,interface=veth0,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET"
	before := got[other]
	if before == 0 {
		t.Fatalf("no %s series in %v", other, got)
	}
	// fn5 was folded long ago: its next drops go to other.
	counts[[2]int{5, 0}] += 3
	k.Observe(snapshot(60, counts))
	got = gather(t, k, "skbtop_drops_total")
	if got[other] != before+3 || len(got) > 10 {
		t.Errorf("a folded function's drops: other %v -> %v, want +3, within 10 series: %v", before, got[other], got)
	}
	if folds := gather(t, k, "skbtop_series_folded_total")["metric=skbtop_drops_total"]; folds == 0 {
		t.Error("skbtop_series_folded_total is 0 after folding")
	}
}

// TestFoldingLevels: a budget spent on interfaces (one function, 40
// interfaces) cannot be met by folding functions, which would merge
// nothing; interfaces and namespaces fold instead, and the functions of
// those that stay keep their names.
func TestFoldingLevels(t *testing.T) {
	k := New(Config{MaxSeries: 8})
	counts := map[[2]int]uint64{}
	for ifc := range 40 {
		counts[[2]int{0, ifc}] = uint64(ifc + 1)
	}
	k.Observe(snapshot(1, counts))
	got := gather(t, k, "skbtop_drops_total")
	if len(got) > 8 || sum(got) != 40*41/2 {
		t.Fatalf("%d series adding up to %v, want at most 8 adding up to %d: %v", len(got), sum(got), 40*41/2, got)
	}
	if _, ok := got["function=other,interface=veth39,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET"]; ok {
		t.Errorf("a lone series was renamed to function=other: %v", got)
	}
	if got["function=fn0,interface=veth39,namespace=,protocol=IPv4/UDP,reason=NO_SOCKET"] != 40 {
		t.Errorf("the busiest interface lost its series: %v", got)
	}
	if got["function=other,interface=other,namespace=other,protocol=IPv4/UDP,reason=NO_SOCKET"] == 0 {
		t.Errorf("no series with interface and namespace folded: %v", got)
	}
}

// TestFoldingAtRandom: random snapshots over many label sets, windows and
// budgets. After every snapshot the series are within budget, add up to
// every drop made, and none that is still exported went backwards.
func TestFoldingAtRandom(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 2))
		max := 1 + rng.IntN(20)
		k := New(Config{MaxSeries: max})
		// Little memory, so that forgetting happens too.
		k.sites.memory = 2 * max
		counts := map[[2]int]uint64{}
		start := t0
		var total uint64
		prev := map[string]float64{}
		for sec := range 200 {
			if rng.IntN(15) == 0 {
				// A reset: a new window, counts from zero.
				clear(counts)
				start = t0.Add(time.Duration(sec) * time.Second)
			}
			for range rng.IntN(6) {
				n := uint64(1 + rng.IntN(20))
				counts[[2]int{rng.IntN(8), rng.IntN(1 + sec/10)}] += n
				total += n
			}
			s := snapshot(sec, counts)
			s.Start = start
			k.Observe(s)
			got := gather(t, k, "skbtop_drops_total")
			if len(got) > max {
				t.Fatalf("seed %d second %d: %d series, budget %d", seed, sec, len(got), max)
			}
			if sum(got) != float64(total) {
				t.Fatalf("seed %d second %d: series add up to %v, want %d", seed, sec, sum(got), total)
			}
			for name, v := range got {
				if v < prev[name] {
					t.Fatalf("seed %d second %d: %s went back from %v to %v", seed, sec, name, prev[name], v)
				}
			}
			prev = got
			if n := len(k.sites.series); n > max+k.sites.memory {
				t.Fatalf("seed %d: the family remembers %d label sets, budget %d", seed, n, max)
			}
		}
	}
}

// TestHealth: the tracer's health counters go on through resets; the map
// fill is a level.
func TestHealth(t *testing.T) {
	a, k := newAgg(), New(Config{Version: "v1.2.3", Attach: "tp_btf"})
	observe := func(sec int, h drops.Health) {
		r := reading(sec)
		r.Health = h
		a.Update(r)
		k.Observe(a.Snapshot())
	}
	observe(0, drops.Health{Lost: 5, OverflowPackets: 1, RecursionMisses: 2, Keys: 3, MaxKeys: 16384})
	observe(1, drops.Health{Lost: 7, OverflowPackets: 4, RecursionMisses: 2, Keys: 9, MaxKeys: 16384})
	a.Reset()
	observe(2, drops.Health{Lost: 8, OverflowPackets: 4, RecursionMisses: 5, Keys: 2, MaxKeys: 16384})
	k.ReadFailed(t0.Add(2500 * time.Millisecond))
	for name, want := range map[string]float64{
		"skbtop_samples_lost_total":                3,
		"skbtop_keys_overflowed_total":             3,
		"skbtop_recursion_misses_total":            3,
		"skbtop_map_keys":                          2,
		"skbtop_map_max_keys":                      16384,
		"skbtop_read_errors_total":                 1,
		"skbtop_last_read_error_timestamp_seconds": float64(t0.Unix()) + 2.5,
		"skbtop_last_read_timestamp_seconds":       float64(t0.Unix()) + 2,
	} {
		if got := gather(t, k, name)[""]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Overflowed drops are in the drops too, under [map full].
	if got := gather(t, k, "skbtop_drops_total")["function=[map full],interface=,namespace=,protocol=,reason="]; got != 3 {
		t.Errorf("[map full] drops %v, want 3", got)
	}
	info := gather(t, k, "skbtop_build_info")
	if len(info) != 1 || !strings.Contains(slices.Collect(maps.Keys(info))[0], "attach=tp_btf,goversion=go") ||
		!strings.Contains(slices.Collect(maps.Keys(info))[0], "kernel=6.18,version=v1.2.3") {
		t.Errorf("build info %v", info)
	}
}

// TestReconciliation: per interface of the home namespace, the drops its
// counters counted (by reconciliation rule) and the drops traced at the
// sites that count there go on through resets and the interface being
// made again; the explained fraction is the window's; protocol counters
// are exported only where node_exporter has none.
func TestReconciliation(t *testing.T) {
	a, k := newAgg(), New(Config{})
	observe := func(sec int, ls []drops.Link, counts ...drops.Count) {
		t.Helper()
		r := reading(sec, counts...)
		r.Links = ls
		r.Stack = drops.Stack{{Name: "UdpNoPorts", Value: 5}, {Name: "IpInDiscards", Value: uint64(7 + sec)}}
		a.Update(r)
		k.Observe(a.Snapshot())
	}
	eth := func(dropped, otherhost uint64) drops.Link {
		return drops.Link{Name: "eth0", Index: 2, Counters: drops.LinkCountersOf(map[drops.LinkField]uint64{
			drops.RxDropped: dropped, drops.RxNoHandler: 1, drops.RxOtherhostDropped: otherhost})}
	}
	lo := drops.Link{Name: "lo", Index: 1, Counters: drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: 0})}
	const rx, other = "counter=rx_dropped+rx_nohandler,interface=eth0", "counter=rx_otherhost_dropped,interface=eth0"
	check := func(what string, counted, traced map[string]float64) {
		t.Helper()
		for name, want := range counted {
			if got := gather(t, k, "skbtop_interface_counted_drops_total"); got[name] != want {
				t.Errorf("%s: counted %v, want %s %v", what, got, name, want)
			}
		}
		for name, want := range traced {
			if got := gather(t, k, "skbtop_interface_traced_drops_total"); got[name] != want {
				t.Errorf("%s: traced %v, want %s %v", what, got, name, want)
			}
		}
	}

	observe(0, []drops.Link{lo, eth(100, 5)})
	// Made at first sight, at 0: increase() then counts the first drops.
	check("first sight", map[string]float64{rx: 0, other: 0}, map[string]float64{rx: 0, other: 0})
	unhandled := drops.Count{Key: key(netifPage, 1), Packets: 8}
	unhandled.L3, unhandled.Reason = 0x88b5, 74
	observe(1, []drops.Link{lo, eth(110, 5)}, unhandled, drops.Count{Key: key(0, 1), Packets: 3})
	check("drops", map[string]float64{rx: 10, other: 0}, map[string]float64{rx: 8, "counter=none,interface=eth0": 3})
	if got := gather(t, k, "skbtop_interface_explained_ratio"); len(got) != 1 || got[rx] != 0.8 {
		t.Errorf("explained %v, want %s 0.8 alone (nothing counted in rx_otherhost_dropped)", got, rx)
	}
	a.Reset()
	observe(2, []drops.Link{lo, eth(113, 6)}, unhandled)
	check("after a reset", map[string]float64{rx: 13, other: 1}, nil)
	// eth0 deleted, then made again: its counters start again.
	observe(3, []drops.Link{lo})
	observe(4, []drops.Link{lo, eth(4, 0)})
	observe(5, []drops.Link{lo, eth(6, 0)})
	check("made again", map[string]float64{rx: 15, other: 1}, map[string]float64{rx: 8})

	if got := gather(t, k, "skbtop_protocol_drops_total"); len(got) != 1 || got["counter=IpInDiscards"] != 12 {
		t.Errorf("protocol counters %v, want IpInDiscards 12 alone (UdpNoPorts is node_exporter's)", got)
	}
}

// TestNodeExporterNames: every counter left to node_exporter is one skbtop
// reads, so that the list cannot name a counter skbtop never had.
func TestNodeExporterNames(t *testing.T) {
	names := counters.StackCounterNames()
	for name := range nodeExporterNetstat {
		if !slices.Contains(names, name) {
			t.Errorf("%s is left to node_exporter but skbtop does not read it", name)
		}
	}
}

func TestListenAddress(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "9979", want: "127.0.0.1:9979"},
		{in: ":9979", want: "127.0.0.1:9979"},
		{in: "0", want: "127.0.0.1:0"},
		{in: "127.0.0.1:0", want: "127.0.0.1:0"},
		{in: "0.0.0.0:9979", want: "0.0.0.0:9979"},
		{in: "[::]:9979", want: "[::]:9979"},
		{in: "[::1]:9979", want: "[::1]:9979"},
		{in: "node1.example:9979", want: "node1.example:9979"},
		{in: "99799", err: "want a port"},
		{in: "", err: "want a port"},
		{in: "localhost", err: "want a port"},
		{in: "0.0.0.0:http", err: `port "http" is not a number`},
		{in: "0.0.0.0:70000", err: `port "70000" is not a number`},
	} {
		got, err := ListenAddress(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ListenAddress(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ListenAddress(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
