package drops

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixedResolver names keys from tables, as the kernel's names would.
type fixedResolver struct {
	funcs  map[uint64]Location
	spaces map[uint32]string
}

func (r fixedResolver) Locate(addr uint64) (Location, bool) {
	for base, loc := range r.funcs {
		if addr >= base && addr < base+0x1000 {
			loc.Offset, loc.Address = addr-base, addr
			return loc, true
		}
	}
	return Location{Address: addr}, false
}

func (r fixedResolver) Reason(code uint32) string {
	return map[uint32]string{2: "NOT_SPECIFIED", 3: "NO_SOCKET", 74: "UNHANDLED_PROTO"}[code]
}

func (r fixedResolver) Namespace(netns uint32, fresh bool) string { return r.spaces[netns] }

var (
	res = fixedResolver{
		funcs: map[uint64]Location{
			0xffffffff81000000: {Function: "__udp4_lib_rcv"},
			0xffffffff82000000: {Function: "__netif_receive_skb_core.constprop.0"},
			0xffffffffc0001000: {Function: "nft_do_chain", Module: "nf_tables"},
		},
		spaces: map[uint32]string{7: "web"},
	}
	udp   = Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 2, Netns: 1, L3: 0x0800, L4: 17}
	lldp  = Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: 3, Netns: 7, L3: 0x88cc}
	nft   = Key{Location: 0xffffffffc00013e8, Reason: 2, Ifindex: 2, Netns: 1, L3: 0x0800, L4: 6}
	start = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
)

// devices are the names the tracer reports for the keys' interfaces.
var devices = []Device{{Netns: 1, Ifindex: 2, Name: "eth0"}, {Netns: 7, Ifindex: 3, Name: "veth1"}}

func reading(sec int, h Health, counts ...Count) Reading {
	return Reading{Time: start.Add(time.Duration(sec) * time.Second), Counts: counts, Health: h, Devices: devices}
}

func newAgg() *Aggregator {
	return NewAggregator(Config{Resolver: res, Host: "host", Kernel: "6.18", History: true, Home: NamespaceID{Inode: 1}})
}

func site(t *testing.T, s Snapshot, fn string) Site {
	t.Helper()
	for _, site := range s.Sites {
		if site.Function == fn {
			return site
		}
	}
	t.Fatalf("no site %s in %+v", fn, s.Sites)
	return Site{}
}

func TestAggregatorCountsSinceBaseline(t *testing.T) {
	a := newAgg()
	// Before the first reading there is nothing, but a valid document.
	if s := a.Snapshot(); s.Schema != SchemaV1 || len(s.Sites) != 0 || s.Sites == nil {
		t.Fatalf("empty snapshot: %+v", s)
	}
	// Drops before skbtop started are not in the window.
	a.Update(reading(0, Health{}, Count{Key: udp, Packets: 100, Bytes: 4000}))
	a.Update(reading(2, Health{Suppressed: 5}, Count{Key: udp, Packets: 160, Bytes: 6400}, Count{Key: lldp, Packets: 4, Bytes: 240}))
	s := a.Snapshot()
	u := site(t, s, "__udp4_lib_rcv")
	if u.Count != 60 || u.Bytes != 2400 || u.Rate != 30 {
		t.Errorf("udp site: count %d bytes %d rate %v, want 60, 2400, 30", u.Count, u.Bytes, u.Rate)
	}
	if u.Offset != "0x4bc" || u.Address != "0xffffffff810004bc" || u.Reason != "NO_SOCKET" || u.Interface != "eth0" ||
		u.L3 != "IPv4" || u.L4 != "UDP" || u.Symbol() != "__udp4_lib_rcv+0x4bc" {
		t.Errorf("udp site named %+v", u)
	}
	l := site(t, s, "__netif_receive_skb_core.constprop.0")
	if l.Count != 4 || l.InterfaceLabel() != "veth1@web" || l.L3 != "LLDP" || l.L4 != "" {
		t.Errorf("lldp site: %+v", l)
	}
	if s.Totals.Drops != 64 || s.Totals.Rate != 32 || s.Totals.SamplesSuppressed != 5 || s.WindowS != 2 || s.IntervalS != 2 {
		t.Errorf("totals %+v window %v interval %v", s.Totals, s.WindowS, s.IntervalS)
	}
	// Sorted by rate: UDP first.
	if s.Sites[0].Function != "__udp4_lib_rcv" {
		t.Errorf("first site %s, want the fastest", s.Sites[0].Function)
	}

	// Reset: counts restart, rates still come from the last interval.
	a.Reset()
	a.Update(reading(3, Health{Suppressed: 9}, Count{Key: udp, Packets: 170, Bytes: 6800}, Count{Key: lldp, Packets: 4, Bytes: 240}))
	s = a.Snapshot()
	if u := site(t, s, "__udp4_lib_rcv"); u.Count != 10 || u.Rate != 10 {
		t.Errorf("after reset: count %d rate %v, want 10, 10", u.Count, u.Rate)
	}
	for _, st := range s.Sites {
		if st.Function == "__netif_receive_skb_core.constprop.0" {
			t.Errorf("a site without drops since the reset is shown: %+v", st)
		}
	}
	if s.Totals.SamplesSuppressed != 4 {
		t.Errorf("suppressed since reset %d, want 4", s.Totals.SamplesSuppressed)
	}
}

func TestAggregatorOverflowAndReset(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}))
	a.Update(reading(1, Health{OverflowPackets: 50, OverflowBytes: 500}, Count{Key: udp, Packets: 10}))
	s := a.Snapshot()
	o := site(t, s, OverflowFunction)
	if o.Count != 50 || o.Symbol() != OverflowFunction || s.Totals.KeysOverflowed != 50 || s.Totals.Drops != 60 {
		t.Errorf("overflow site %+v, totals %+v: want 50 overflowed, 60 in all", o, s.Totals)
	}
	// A kernel map recreated under us: counters go backwards, and grow
	// by their new value instead of wrapping; the 10 counted before stay.
	a.Update(reading(2, Health{}, Count{Key: udp, Packets: 3}))
	if u := site(t, a.Snapshot(), "__udp4_lib_rcv"); u.Count != 13 || u.Rate != 3 {
		t.Errorf("after counters went backwards: count %d rate %v, want 13, 3", u.Count, u.Rate)
	}
}

func TestAggregatorHistoryAndSamples(t *testing.T) {
	a := newAgg()
	for sec := range HistoryLen + 5 {
		a.Update(reading(sec, Health{}, Count{Key: udp, Packets: uint64(sec * sec)}))
	}
	u := site(t, a.Snapshot(), "__udp4_lib_rcv")
	if len(u.History) != HistoryLen {
		t.Fatalf("history of %d intervals, want %d", len(u.History), HistoryLen)
	}
	// The rate in interval n is n² - (n-1)² = 2n-1; the last is newest.
	if last, want := u.History[HistoryLen-1], float64(2*(HistoryLen+4)-1); last != want {
		t.Errorf("newest history point %v, want %v", last, want)
	}
	if first, want := u.History[0], float64(2*5-1); first != want {
		t.Errorf("oldest history point %v, want %v", first, want)
	}

	for i := range SamplesPerSite + 3 {
		a.AddSample(Sample{Key: udp, CPU: uint32(i), Len: 40, Data: ipv4UDP(t)})
	}
	u = site(t, a.Snapshot(), "__udp4_lib_rcv")
	if len(u.Samples) != SamplesPerSite || u.Samples[SamplesPerSite-1].CPU != SamplesPerSite+2 {
		t.Fatalf("kept %d samples (newest CPU %d), want the newest %d", len(u.Samples), u.Samples[len(u.Samples)-1].CPU, SamplesPerSite)
	}
	if p := u.Samples[0]; p.Src != "198.18.0.1" || p.Dst != "198.18.0.2" || p.DstPort != 9 || p.L4 != "UDP" {
		t.Errorf("sample decoded as %+v", p)
	}
	// Every sample is counted, not only those kept, and the bytes stay
	// for pcap-ng files; a reset counts from zero.
	if u.Sampled != SamplesPerSite+3 || string(u.Samples[0].Data) != string(ipv4UDP(t)) {
		t.Errorf("sampled %d, data %x; want %d and the sample's bytes", u.Sampled, u.Samples[0].Data, SamplesPerSite+3)
	}
	a.Reset()
	a.AddSample(Sample{Key: udp, Len: 40, Data: ipv4UDP(t)})
	a.Update(reading(HistoryLen+5, Health{}, Count{Key: udp, Packets: uint64((HistoryLen + 5) * (HistoryLen + 5))}))
	if u = site(t, a.Snapshot(), "__udp4_lib_rcv"); u.Sampled != 1 {
		t.Errorf("sampled %d after a reset and one sample, want 1", u.Sampled)
	}
}

// ipv4UDP is a 198.18.0.1:5000 -> 198.18.0.2:9 UDP header pair.
func ipv4UDP(t *testing.T) []byte {
	t.Helper()
	return []byte{
		0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
		0x13, 0x88, 0, 9, 0, 8, 0, 0,
	}
}

func TestFiltered(t *testing.T) {
	a := newAgg()
	eth0 := []Link{{Name: "eth0", Index: 2, Counters: LinkCountersOf(map[LinkField]uint64{RxDropped: 0})}}
	r := reading(0, Health{})
	r.Links = eth0
	a.Update(r)
	r = reading(1, Health{Lost: 2},
		Count{Key: udp, Packets: 30, Bytes: 1200}, Count{Key: lldp, Packets: 4, Bytes: 240}, Count{Key: nft, Packets: 6, Bytes: 360})
	r.Links = eth0
	a.Update(r)
	all := a.Snapshot()

	tests := []struct {
		filter     Filter
		sites      []string
		drops      uint64
		protocols  int
		interfaces []string
	}{
		{Filter{}, []string{"__udp4_lib_rcv", "nft_do_chain", "__netif_receive_skb_core.constprop.0"}, 40, 3, []string{"eth0", "veth1@web"}},
		{Filter{Symbol: "UDP4"}, []string{"__udp4_lib_rcv"}, 30, 1, []string{"eth0"}},
		{Filter{Interface: "eth0"}, []string{"__udp4_lib_rcv", "nft_do_chain"}, 36, 2, []string{"eth0"}},
		{Filter{Interface: "veth1@web"}, []string{"__netif_receive_skb_core.constprop.0"}, 4, 1, []string{"veth1@web"}},
		{Filter{Interface: "veth1"}, []string{"__netif_receive_skb_core.constprop.0"}, 4, 1, []string{"veth1@web"}},
		// An interface's counters say nothing about the sites a symbol
		// filter keeps.
		{Filter{Symbol: "nothing-matches"}, nil, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter.String(), func(t *testing.T) {
			s := all.Filtered(tt.filter)
			var names []string
			for _, st := range s.Sites {
				names = append(names, st.Function)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.sites) {
				t.Errorf("sites %v, want %v", names, tt.sites)
			}
			if s.Totals.Drops != tt.drops || s.Totals.SamplesLost != 2 || len(s.Protocols) != tt.protocols {
				t.Errorf("totals %+v, %d protocols; want %d drops, lost 2 kept, %d protocols", s.Totals, len(s.Protocols), tt.drops, tt.protocols)
			}
			var ifaces []string
			for _, ifc := range s.Interfaces {
				ifaces = append(ifaces, ifc.Label())
			}
			if fmt.Sprint(ifaces) != fmt.Sprint(tt.interfaces) {
				t.Errorf("interfaces %v, want %v", ifaces, tt.interfaces)
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"sites":[`) || s.Filter != tt.filter {
				t.Errorf("document lost its sites list or filter: %s", b)
			}
		})
	}
	// The eth0 counters meet the traced drops on eth0.
	if ifc := all.Filtered(Filter{}).Interfaces[0]; ifc.Name != "eth0" || ifc.TracedDrops != 36 || ifc.Counters == nil {
		t.Errorf("eth0 row %+v: want its counters and 36 traced drops", ifc)
	}
}

// TestUnmatched: a filter part that matches nothing seen so far is named,
// with what there is instead; one that matches, or may yet, is not.
func TestUnmatched(t *testing.T) {
	a := newAgg()
	eth0 := []Link{{Name: "eth0", Index: 2, Counters: LinkCountersOf(map[LinkField]uint64{RxDropped: 0})}}
	r := reading(0, Health{})
	r.Links = eth0
	a.Update(r)
	first := a.Snapshot()
	r = reading(1, Health{}, Count{Key: udp, Packets: 30}, Count{Key: lldp, Packets: 4})
	r.Links = eth0
	a.Update(r)
	all := a.Snapshot()
	kernel := func(sub string) bool { return strings.Contains("__udp4_lib_rcv tcp_v4_rcv", strings.ToLower(sub)) }
	tests := []struct {
		snap   Snapshot
		filter Filter
		has    func(string) bool
		want   []string
	}{
		{all, Filter{}, nil, nil},
		{all, Filter{Interface: "eth0"}, nil, nil},
		{all, Filter{Interface: "veth1@web"}, nil, nil},
		// A quiet interface of the home namespace exists already.
		{first, Filter{Interface: "eth0"}, nil, nil},
		{first, Filter{Interface: "nosuch0"}, nil, []string{"iface=nosuch0 matches no interface seen so far (interfaces: eth0)"}},
		{all, Filter{Interface: "veth1@db"}, nil, []string{"iface=veth1@db matches no interface seen so far (interfaces: eth0, veth1@web)"}},
		{all, Filter{Symbol: "UDP4"}, nil, nil},
		{all, Filter{Symbol: "tcp_v4"}, nil, []string{"symbol~tcp_v4 matches no drop site seen so far (drop sites: __netif_receive_skb_core.constprop.0, __udp4_lib_rcv)"}},
		// A kernel function has it: it may drop yet.
		{all, Filter{Symbol: "tcp_v4"}, kernel, nil},
		{first, Filter{Symbol: "no_such"}, kernel, []string{"symbol~no_such is in no kernel function's name (drop sites: none yet)"}},
		// Nothing to compare with yet.
		{first, Filter{Symbol: "no_such"}, nil, nil},
		{all, Filter{Interface: "nosuch0", Symbol: "no_such"}, kernel, []string{
			"iface=nosuch0 matches no interface seen so far (interfaces: eth0, veth1@web)",
			"symbol~no_such is in no kernel function's name (drop sites: __netif_receive_skb_core.constprop.0, __udp4_lib_rcv)"}},
	}
	for _, tt := range tests {
		if got := tt.snap.Unmatched(tt.filter, tt.has); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Unmatched(%v) = %q, want %q", tt.filter, got, tt.want)
		}
	}
	many := all
	for i := range 12 {
		many.Interfaces = append(many.Interfaces, Interface{Name: fmt.Sprintf("cni%02d", i)})
	}
	if got := many.Unmatched(Filter{Interface: "x"}, nil); len(got) != 1 || !strings.HasSuffix(got[0], "cni07 and 6 more)") {
		t.Errorf("Unmatched names at most %d: %q", maxNamed, got)
	}
}

// TestWatchedNamespace: the namespace skbtop watches is named at the top
// of every snapshot, filtered ones too, and absent when it watches all.
func TestWatchedNamespace(t *testing.T) {
	w := &Watched{Name: "web", Path: "/run/netns/web", Inode: 1}
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1}, Watched: w, Only: true})
	a.Update(reading(0, Health{}))
	s := a.Snapshot().Filtered(Filter{Symbol: "udp"})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"namespace":{"name":"web","path":"/run/netns/web","inode":1}`) || s.Namespace.Label() != "web" {
		t.Errorf("document %s: want the watched namespace at the top", b)
	}
	if (&Watched{Path: "/proc/812/ns/net"}).Label() != "/proc/812/ns/net" {
		t.Error("a namespace without a name goes by its path")
	}
	b, _ = json.Marshal(newAgg().Snapshot())
	if strings.Contains(string(b), `"namespace"`) {
		t.Errorf("without --netns the document names no namespace: %s", b)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{L3Name(0x0800), "IPv4"}, {L3Name(0x86dd), "IPv6"}, {L3Name(0x0806), "ARP"},
		{L3Name(0x0004), "802.2"}, {L3Name(0x88b5), "0x88b5"}, {L3Name(0x0000), "none"}, {L3Name(0x8809), "LACP"},
		{L3Label(0, "virtio_transport_recv_pkt"), "vsock"}, {L3Label(0, "vhost_vsock_handle_tx_kick"), "vsock"},
		{L3Label(0, "netlink_unicast"), "netlink"}, {L3Label(0, "unix_stream_connect"), "unix"},
		{L3Label(0, "skb_queue_purge_reason"), "none"}, {L3Label(0x0800, "virtio_transport_recv_pkt"), "IPv4"},
		{L4Name(0), ""}, {L4Name(6), "TCP"}, {L4Name(58), "ICMPv6"}, {L4Name(253), "253"},
		{Site{Function: "f", Offset: "0x1", Module: "m"}.Symbol(), "f+0x1 [m]"},
		{Site{Address: "0xffffffff81000000"}.Symbol(), "0xffffffff81000000"},
		{Interface{Name: "lo"}.Label(), "lo"}, {Interface{Name: "lo", Namespace: "pid 1 (init)"}.Label(), "lo@pid 1 (init)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestAggregatorWithoutHistory(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1}})
	for sec := range 3 {
		a.Update(reading(sec, Health{}, Count{Key: udp, Packets: uint64(10 * sec)}))
	}
	u := site(t, a.Snapshot(), "__udp4_lib_rcv")
	if u.History != nil || u.Count != 20 || u.Rate != 10 {
		t.Errorf("without history: %+v, want no history, count 20, rate 10", u)
	}
}

func TestChanges(t *testing.T) {
	a := newAgg()
	a.Update(reading(0, Health{}))
	a.Update(reading(1, Health{}, Count{Key: udp, Packets: 30}, Count{Key: nft, Packets: 6}))
	a.Update(reading(2, Health{}, Count{Key: udp, Packets: 35}, Count{Key: nft, Packets: 6}))
	s := a.Snapshot()
	c := s.Changes()
	if !c.Partial || s.Partial {
		t.Errorf("partial: changes %v, snapshot %v", c.Partial, s.Partial)
	}
	if len(c.Sites) != 1 || c.Sites[0].Function != "__udp4_lib_rcv" || c.Sites[0].Count != 35 {
		t.Errorf("changes list %+v, want the UDP site alone with its window count 35", c.Sites)
	}
	if c.Totals.Drops != 41 || len(s.Sites) != 2 {
		t.Errorf("totals %d (want the window's 41), the snapshot has %d sites (want 2)", c.Totals.Drops, len(s.Sites))
	}
}

// TestChanged: the rows that moved, in order; a slice of the rows (capped,
// so that appending to it cannot write over the next row) when they lead,
// a copy otherwise.
func TestChanged(t *testing.T) {
	for _, tc := range []struct {
		rows   []int
		want   []int
		shared bool
	}{
		{[]int{5, 3, 0, 0}, []int{5, 3}, true},
		{[]int{5, 3, 1}, []int{5, 3, 1}, true},
		{[]int{0, 0}, []int{}, true},
		{nil, []int{}, true},
		{[]int{5, 0, 3, 0, 2}, []int{5, 3, 2}, false},
		{[]int{0, 4}, []int{4}, false},
	} {
		rows := slices.Clone(tc.rows)
		got := changed(rows, func(r *int) bool { return *r > 0 })
		if !slices.Equal(got, tc.want) {
			t.Errorf("changed(%v) = %v, want %v", tc.rows, got, tc.want)
		}
		if cap(got) != len(got) && tc.shared {
			t.Errorf("changed(%v) has room for %d more rows", tc.rows, cap(got)-len(got))
		}
		if len(got) > 0 && (&got[0] == &rows[0]) != tc.shared {
			t.Errorf("changed(%v): shares the rows %v, want %v", tc.rows, &got[0] == &rows[0], tc.shared)
		}
		if !slices.Equal(rows, tc.rows) {
			t.Errorf("changed(%v) changed its rows to %v", tc.rows, rows)
		}
	}
}
