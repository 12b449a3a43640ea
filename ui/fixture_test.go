package ui

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/skbtop/skbtop/drops"
)

// fixtureTime is when the fixture snapshot was taken. It is in the local
// zone so the rendered clock times do not depend on TZ.
var fixtureTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.Local)

// history makes a deterministic minute of rates around base.
func history(base float64, phase int) []float64 {
	h := make([]float64, drops.HistoryLen)
	for i := range h {
		h[i] = math.Round(base * (1 + 0.8*math.Sin(float64(i+phase)/5)))
	}
	return h
}

func at(ms int) time.Time { return fixtureTime.Add(-time.Duration(ms) * time.Millisecond) }

// fixtureSnapshot is a realistic unfiltered snapshot of a troubled box: DNS
// replies to a restarted resolver, a firewall dropping SSH from a scanner,
// multicast on the wrong interface, STP frames nobody listens for, an
// unanswered ARP next hop and a slow UDP reader on loopback; a docker
// bridge is quiet.
func fixtureSnapshot() drops.Snapshot {
	const netns = 4026531840
	sites := []drops.Site{
		{
			Function: "__udp4_lib_rcv", Offset: "0x3f2", Address: "0xffffffff81b2c3f2", Reason: "NO_SOCKET", ReasonCode: 2,
			Interface: "veth0", Ifindex: 7, Netns: netns, L3: "IPv4", L4: "UDP", Count: 24718, Bytes: 2619000, Rate: 412,
			History: history(400, 0),
			Key:     drops.Key{Location: 0xffffffff81b2c3f2, Reason: 2, Ifindex: 7, Netns: netns, L3: 0x0800, L4: 17},
			Samples: []drops.Packet{
				{Time: at(2900), CPU: 3, Interface: "veth0", Len: 112, Captured: 112, L3: "IPv4", L4: "UDP", Src: "10.0.0.53", Dst: "10.0.0.12", SrcPort: 53, DstPort: 41234},
				{Time: at(1700), CPU: 1, Interface: "veth0", Len: 96, Captured: 96, L3: "IPv4", L4: "UDP", Src: "10.0.0.53", Dst: "10.0.0.12", SrcPort: 53, DstPort: 50011},
				{Time: at(420), CPU: 3, Interface: "veth0", Len: 140, Captured: 128, L3: "IPv4", L4: "UDP", Src: "10.0.0.53", Dst: "10.0.0.12", SrcPort: 53, DstPort: 38802},
			},
		},
		{
			Function: "nf_hook_slow", Offset: "0x9c", Address: "0xffffffff81a6e05c", Reason: "NETFILTER_DROP", ReasonCode: 8,
			Interface: "eth0", Ifindex: 2, Netns: netns, L3: "IPv4", L4: "TCP", Count: 5204, Bytes: 312240, Rate: 87,
			History: history(90, 20),
			Key:     drops.Key{Location: 0xffffffff81a6e05c, Reason: 8, Ifindex: 2, Netns: netns, L3: 0x0800, L4: 6},
			Samples: []drops.Packet{
				{Time: at(800), CPU: 0, Interface: "eth0", Len: 60, Captured: 60, L3: "IPv4", L4: "TCP", Src: "203.0.113.7", Dst: "192.0.2.10", SrcPort: 51514, DstPort: 22, TCPFlags: "S"},
				{Time: at(310), CPU: 2, Interface: "eth0", Len: 60, Captured: 60, L3: "IPv4", L4: "TCP", Src: "203.0.113.7", Dst: "192.0.2.10", SrcPort: 51522, DstPort: 22, TCPFlags: "S"},
			},
		},
		{
			Function: "ip_rcv_finish_core", Offset: "0x1b4", Address: "0xffffffff81b012a4", Reason: "IP_RPFILTER", ReasonCode: 13,
			Interface: "eth1", Ifindex: 3, Netns: netns, L3: "IPv4", L4: "UDP", Count: 1500, Bytes: 1974000, Rate: 25,
			History: history(25, 40),
			Key:     drops.Key{Location: 0xffffffff81b012a4, Reason: 13, Ifindex: 3, Netns: netns, L3: 0x0800, L4: 17},
			Samples: []drops.Packet{
				{Time: at(150), CPU: 5, Interface: "eth1", Len: 1316, Captured: 128, L3: "IPv4", L4: "UDP", Src: "172.16.9.4", Dst: "239.1.1.1", SrcPort: 5000, DstPort: 5000},
			},
		},
		{
			Function: "__neigh_event_send", Offset: "0x1c7", Address: "0xffffffff81a3f1c7", Reason: "NEIGH_QUEUEFULL", ReasonCode: 42,
			Interface: "bond0", Ifindex: 5, Netns: netns, L3: "IPv4", L4: "TCP", Count: 180, Bytes: 10800, Rate: 3,
			History: history(3, 10),
			Key:     drops.Key{Location: 0xffffffff81a3f1c7, Reason: 42, Ifindex: 5, Netns: netns, L3: 0x0800, L4: 6},
		},
		{
			Function: "udp_queue_rcv_one_skb", Offset: "0x3b9", Address: "0xffffffff81b2a0b9", Reason: "SOCKET_RCVBUFF", ReasonCode: 6,
			Interface: "lo", Ifindex: 1, Netns: netns, L3: "IPv4", L4: "UDP", Count: 640, Bytes: 5242880, Rate: 0,
			History: append(make([]float64, 50), 64, 128, 256, 128, 64, 0, 0, 0, 0, 0),
			Key:     drops.Key{Location: 0xffffffff81b2a0b9, Reason: 6, Ifindex: 1, Netns: netns, L3: 0x0800, L4: 17},
		},
		{
			Function: "__netif_receive_skb_core.constprop.0", Offset: "0x8a1", Address: "0xffffffff819f48a1", Reason: "UNHANDLED_PROTO", ReasonCode: 73,
			Interface: "eth0", Ifindex: 2, Netns: netns, L3: "802.2", Count: 156, Bytes: 9360, Rate: 0.5,
			History: []float64{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
			Key:     drops.Key{Location: 0xffffffff819f48a1, Reason: 73, Ifindex: 2, Netns: netns, L3: 0x0004},
		},
	}
	counters := func(rxDropped, txDropped, rxMissed, rxFIFO, noHandler uint64) *drops.LinkCounters {
		c := drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxPackets: 9_000_000, drops.TxPackets: 7_500_000,
			drops.RxDropped: rxDropped, drops.TxDropped: txDropped, drops.RxMissed: rxMissed, drops.RxFIFO: rxFIFO,
			drops.RxNoHandler: noHandler, drops.RxErrors: 0, drops.TxErrors: 0})
		return &c
	}
	snap := drops.Snapshot{
		Schema: drops.SchemaV1, Host: "edge-01", Kernel: "6.8.0-45-generic", Time: fixtureTime, WindowS: 312, IntervalS: 1,
		Totals: drops.Totals{SamplesSuppressed: 31120},
		Sites:  sites,
		Interfaces: []drops.Interface{
			{Name: "eth0", Ifindex: 2, Netns: netns, Counters: counters(9120, 0, 2400, 310, 0), Delta: counters(160, 0, 1204, 12, 0), Rates: &drops.LinkRates{}},
			{Name: "veth0", Ifindex: 7, Netns: netns, Counters: counters(0, 3, 0, 0, 0), Delta: counters(0, 0, 0, 0, 0), Rates: &drops.LinkRates{}},
			{Name: "eth1", Ifindex: 3, Netns: netns, Counters: counters(0, 0, 0, 0, 0), Delta: counters(0, 0, 0, 0, 0), Rates: &drops.LinkRates{}},
			{Name: "bond0", Ifindex: 5, Netns: netns},
			{Name: "lo", Ifindex: 1, Netns: netns, Counters: counters(0, 0, 0, 0, 0), Delta: counters(0, 0, 0, 0, 0), Rates: &drops.LinkRates{}},
			// Quiet: its counters did not move and nothing was traced on it.
			{Name: "docker0", Ifindex: 4, Netns: netns, Counters: counters(12, 0, 0, 0, 0), Delta: counters(0, 0, 0, 0, 0), Rates: &drops.LinkRates{}},
		},
		StackCounters: []drops.StackCounter{
			{Name: "UdpNoPorts", Value: 1_204_311, Delta: 24_718, Rate: 412},
			{Name: "TcpExtListenDrops", Value: 88, Delta: 12, Rate: 0},
			{Name: "IpInAddrErrors", Value: 1_500, Delta: 1_500, Rate: 25},
		},
	}
	snap.Recount()
	return snap
}

// containerSnapshot is the fixture on a host full of containers: the same
// multicast site drops on five containers' interfaces, ICMPv6 and UDP, a
// firewall drops in two of them and an nftables rule in a third.
func containerSnapshot() drops.Snapshot {
	snap := fixtureSnapshot()
	for i, c := range []struct {
		ifc, ns string
		l3, l4  string
		count   uint64
		rate    float64
	}{
		{"eth0", "web", "IPv6", "ICMPv6", 320, 4},
		{"eth0", "db", "IPv6", "ICMPv6", 95, 1},
		{"eth0", "cache", "IPv6", "UDP", 60, 1},
		{"eth0", "queue", "IPv6", "ICMPv6", 30, 0.5},
		{"eth0", "pid 812 (nginx)", "IPv6", "ICMPv6", 12, 0},
	} {
		netns := uint32(4026532100 + i)
		snap.Sites = append(snap.Sites, drops.Site{
			Function: "ip6_mc_input", Offset: "0x15e", Address: "0xffffffff81c4e15e", Reason: "NOT_SPECIFIED", ReasonCode: 2,
			Interface: c.ifc, Namespace: c.ns, Ifindex: 2, Netns: netns, L3: c.l3, L4: c.l4, Count: c.count, Bytes: 90 * c.count, Rate: c.rate,
			History: history(c.rate, 7*i),
			Key:     drops.Key{Location: 0xffffffff81c4e15e, Reason: 2, Ifindex: 2, Netns: netns, L3: 0x86dd, L4: 58},
		})
		if i == 2 {
			snap.Sites = append(snap.Sites, drops.Site{
				Function: "nft_do_chain", Offset: "0x3e8", Module: "nf_tables", Address: "0xffffffffc0a013e8", Reason: "NETFILTER_DROP", ReasonCode: 8,
				Interface: c.ifc, Namespace: c.ns, Ifindex: 2, Netns: netns, L3: "IPv4", L4: "UDP", Count: 700, Bytes: 700 * 80, Rate: 6,
				History: history(6, 11),
				Key:     drops.Key{Location: 0xffffffffc0a013e8, Reason: 8, Ifindex: 2, Netns: netns, L3: 0x0800, L4: 17},
			})
		}
		if i < 2 {
			snap.Sites = append(snap.Sites, drops.Site{
				Function: "nf_hook_slow", Offset: "0x9c", Address: "0xffffffff81a6e05c", Reason: "NETFILTER_DROP", ReasonCode: 8,
				Interface: c.ifc, Namespace: c.ns, Ifindex: 2, Netns: netns, L3: "IPv4", L4: "TCP", Count: 40 * c.count, Bytes: 60 * 40 * c.count, Rate: 10 * c.rate,
				History: history(10*c.rate, 3*i),
				Key:     drops.Key{Location: 0xffffffff81a6e05c, Reason: 8, Ifindex: 2, Netns: netns, L3: 0x0800, L4: 6},
			})
		}
	}
	snap.Recount()
	return snap
}

// readmeSnapshot is the README's example: one namespace watched (web), with
// UDP to a closed port, multicast for a group joined on the wrong
// interface, an nftables drop rule and LLDP frames nothing listens for.
func readmeSnapshot() drops.Snapshot {
	const netns = 4026532177
	at := func(ms int) time.Time { return fixtureTime.Add(-time.Duration(ms) * time.Millisecond) }
	site := func(fn, off, addr, reason string, code uint32, ifc string, ifindex uint32, l3, l4 string, count uint64, rate float64, loc uint64) drops.Site {
		return drops.Site{Function: fn, Offset: off, Address: addr, Reason: reason, ReasonCode: drops.ReasonCode(code), Interface: ifc, Ifindex: ifindex, Netns: netns,
			L3: l3, L4: l4, Count: count, Bytes: 72 * count, Rate: rate, History: history(rate, int(loc%17)),
			Key: drops.Key{Location: loc, Reason: code, Ifindex: ifindex, Netns: netns}}
	}
	mc := site("ip_rcv_finish_core", "0x25b", "0xffffffff81ff52cb", "NOT_SPECIFIED", 2, "eth0", 2, "IPv4", "UDP", 1356, 120, 0xffffffff81ff52cb)
	for i := range 4 {
		mc.Samples = append(mc.Samples, drops.Packet{Time: at(140 - 20*i), CPU: 1, Interface: "eth0", Len: 30, Captured: 58, L3: "IPv4", L4: "UDP",
			Src: "198.18.7.1", Dst: "239.18.0.7", SrcPort: 34855, DstPort: 5000})
	}
	snap := drops.Snapshot{
		Schema: drops.SchemaV1, Host: "vm", Kernel: "6.18.44-fc-v595", Time: fixtureTime, WindowS: 12, IntervalS: 1,
		Namespace: &drops.Watched{Name: "web", Path: "/run/netns/web", Inode: netns},
		Sites: []drops.Site{
			site("__udp4_lib_rcv", "0x4bc", "0xffffffff8204674c", "NO_SOCKET", 3, "eth0", 2, "IPv4", "UDP", 4520, 399, 0xffffffff8204674c),
			mc,
			site("nft_do_chain", "0x3e8", "0xffffffffc0a013e8", "NETFILTER_DROP", 8, "eth0", 2, "IPv4", "TCP", 339, 30, 0xffffffffc0a013e8),
			site("__netif_receive_skb_core.constprop.0", "0x7e6", "0xffffffff81e64e46", "UNHANDLED_PROTO", 74, "eth0", 2, "LLDP", "", 23, 2, 0xffffffff81e64e46),
			site("dst_discard", "0xf", "0xffffffff81fd100f", "NOT_SPECIFIED", 2, "lo", 1, "IPv4", "IGMP", 1, 0, 0xffffffff81fd100f),
		},
		Interfaces: []drops.Interface{
			{Name: "lo", Ifindex: 1, Netns: netns},
			{Name: "eth0", Ifindex: 2, Netns: netns},
		},
	}
	for i := range snap.Interfaces {
		c := drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: uint64(23 * (i % 2)), drops.RxNoHandler: 0, drops.TxDropped: 0})
		snap.Interfaces[i].Counters, snap.Interfaces[i].Delta, snap.Interfaces[i].Rates = &c, &c, &drops.LinkRates{}
	}
	snap.Recount()
	return snap
}

// fakeSource returns fixture snapshots and records resets.
type fakeSource struct {
	snap   drops.Snapshot
	err    error
	resets int
	calls  int
	panics bool
}

func (f *fakeSource) Snapshot() (drops.Snapshot, error) {
	f.calls++
	if f.panics {
		panic("source exploded")
	}
	if f.err != nil {
		return drops.Snapshot{}, f.err
	}
	// In the order the Source contract promises.
	snap := f.snap
	snap.Sites = slices.Clone(snap.Sites)
	drops.SortSites(snap.Sites, drops.ByRate)
	return snap, nil
}

func (f *fakeSource) Reset() { f.resets++ }

// clock is an injectable clock tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: fixtureTime.Add(time.Second)} }
func fixtureSource() *fakeSource         { return &fakeSource{snap: fixtureSnapshot()} }
func sizeMsg(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
func stripLines(view string) []string    { return strings.Split(ansi.Strip(view), "\n") }
func keyPress(code rune, text string) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: code, Text: text}
}

// keyMsg builds the key press a terminal sends for a key name.
func keyMsg(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(name)
	if len(r) != 1 {
		panic("keyMsg: unknown key " + name)
	}
	return keyPress(r[0], name)
}

// harness drives a Model the way bubbletea would, minus the timer: tests
// deliver ticks themselves.
type harness struct {
	t     *testing.T
	m     Model
	src   *fakeSource
	clock *clock
	quit  bool
	// timers counts refresh timers the model started.
	timers int
}

// timerStartedMsg stands in for the refresh timer: tests tick by hand.
type timerStartedMsg struct{}

func newHarness(t *testing.T, src *fakeSource, w, h int, opts Options) *harness {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.SnapshotDir == "" {
		opts.SnapshotDir = t.TempDir()
	}
	hs := &harness{t: t, m: New(src, opts), src: src, clock: c}
	hs.m.timer = func(time.Duration) tea.Cmd { return func() tea.Msg { return timerStartedMsg{} } }
	hs.send(sizeMsg(w, h))
	return hs
}

// send delivers a message and runs the commands it returns, delivering
// their messages in turn. The refresh timer is not run: tick does that.
func (hs *harness) send(msg tea.Msg) {
	hs.t.Helper()
	next, cmd := hs.m.Update(msg)
	hs.m = next.(Model)
	hs.run(cmd)
}

func (hs *harness) run(cmd tea.Cmd) {
	hs.t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			hs.run(c)
		}
	case tea.QuitMsg:
		hs.quit = true
	case timerStartedMsg:
		hs.timers++
	case nil:
	default:
		hs.send(msg)
	}
}

// tick is one refresh: the timer fires and the snapshot is pulled.
func (hs *harness) tick() {
	hs.t.Helper()
	hs.send(tickMsg{})
}

// press types keys by name ("j", "enter", "esc").
func (hs *harness) press(keys ...string) {
	hs.t.Helper()
	for _, k := range keys {
		hs.send(keyMsg(k))
	}
}

// typeText types text into whatever has the keyboard.
func (hs *harness) typeText(s string) {
	hs.t.Helper()
	for _, r := range s {
		hs.send(keyPress(r, string(r)))
	}
}

// view renders the model and checks the frame: exactly height lines, none
// wider than width. It returns the ANSI-stripped text.
func (hs *harness) view() string {
	hs.t.Helper()
	v := hs.m.View()
	assertFrame(hs.t, v.Content, hs.m.width, hs.m.height)
	return ansi.Strip(v.Content)
}

func assertFrame(t *testing.T, content string, w, h int) {
	t.Helper()
	if h <= 0 || w <= 0 {
		if content != "" {
			t.Errorf("view at %dx%d = %q, want empty", w, h, content)
		}
		return
	}
	lines := strings.Split(content, "\n")
	if len(lines) != h {
		t.Errorf("view at %dx%d has %d lines, want %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("view at %dx%d: line %d is %d cells wide: %q", w, h, i, lw, ansi.Strip(l))
		}
	}
}

func ansiWidth(s string) int { return ansi.StringWidth(s) }

// retransSnapshot is the fixture with TCP retransmitting: to a storage
// peer whose loss no drop on this host explains (the header says so), to
// a web backend over IPv6, and to a peer through bond0 whose connection is
// closing. The namespace's TcpRetransSegs grew by what was traced.
func retransSnapshot() drops.Snapshot {
	snap := fixtureSnapshot()
	const netns = 4026531840
	peer := func(remote string, port, local uint16, iface string, ifindex uint32, count, segs uint64, rate float64, state string, outside bool) drops.Peer {
		return drops.Peer{Remote: remote, RemotePort: port, LocalPort: local, Interface: iface, Ifindex: ifindex, Netns: netns,
			Count: count, Segs: segs, Rate: rate, State: state, Outside: outside,
			Key: drops.PeerKey{Netns: netns, Ifindex: ifindex, Remote: netip.MustParseAddr(remote), RemotePort: port, LocalPort: local}}
	}
	r := &drops.Retransmits{
		Count: 1412, Segs: 1431, Rate: 9.5, Keys: 3, MaxKeys: 4096, HomeSegs: 1431,
		Counter: &drops.StackCounter{Name: "TcpRetransSegs", Value: 88_120, Delta: 1431, Rate: 9.6},
		Peers: []drops.Peer{
			peer("198.18.0.7", 6300, 41234, "eth0", 2, 1204, 1204, 8, "ESTABLISHED", true),
			peer("2001:db8::9", 443, 50110, "eth1", 3, 180, 199, 1.5, "ESTABLISHED", false),
			peer("10.20.30.40", 5432, 39900, "bond0", 5, 28, 28, 0, "FIN_WAIT1", false),
		},
	}
	r.Notes = []string{drops.OutsideNote("198.18.0.7:6300")}
	snap.Retransmits = r
	return snap
}
