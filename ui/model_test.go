package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charmbracelet/x/ansi"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/skbtop/skbtop/drops"
)

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  []string
		snap  func() drops.Snapshot
		sizes [][2]int
	}{
		{"sites", nil, fixtureSnapshot, nil},
		{"detail", []string{"enter"}, fixtureSnapshot, nil},
		{"interfaces", []string{"tab"}, fixtureSnapshot, nil},
		{"protocols", []string{"tab", "tab"}, fixtureSnapshot, nil},
		{"picker", []string{"i"}, fixtureSnapshot, nil},
		{"filtered", []string{"/", "u", "d", "p", "enter"}, fixtureSnapshot, nil},
		{"help", []string{"?"}, fixtureSnapshot, nil},
		{"help-detail", []string{"enter", "?"}, fixtureSnapshot, nil},
		{"hidden", []string{"x"}, fixtureSnapshot, nil},
		// The groupings, on a host full of containers.
		{"containers", nil, containerSnapshot, nil},
		{"group-site", []string{"v"}, containerSnapshot, nil},
		{"group-reason", []string{"v", "v"}, containerSnapshot, nil},
		{"group-site-detail", []string{"v", "down", "enter"}, containerSnapshot, nil},
		// TCP retransmitting, the loss of one peer outside the host:
		// the header, the pane as a tab (compact), in the right
		// column (wide) and stacked.
		{"retransmits", []string{"tab", "tab", "tab"}, retransSnapshot, [][2]int{{60, 15}, {80, 24}, {120, 40}, {90, 48}}},
		// The README's screens (TestReadmeScreens).
		{"readme", nil, readmeSnapshot, [][2]int{{80, 24}}},
		{"readme-detail", []string{"down", "enter"}, readmeSnapshot, [][2]int{{120, 24}}},
	} {
		sizes := tc.sizes
		if sizes == nil {
			sizes = [][2]int{{60, 15}, {80, 24}, {120, 40}}
		}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", tc.name, size[0], size[1]), func(t *testing.T) {
				hs := newHarness(t, &fakeSource{snap: tc.snap()}, size[0], size[1], Options{})
				hs.tick()
				hs.press(tc.keys...)
				golden.RequireEqual(t, hs.view())
			})
		}
	}
}

// TestReadmeScreens checks that the README shows the screens its golden
// files hold, so that it cannot drift from what skbtop draws.
func TestReadmeScreens(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"readme/80x24", "readme-detail/120x24"} {
		b, err := os.ReadFile("testdata/TestGolden/" + name + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			lines = append(lines, strings.TrimRight(l, " "))
		}
		screen := "```\n" + strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n```"
		if !strings.Contains(string(readme), screen) {
			t.Errorf("README.md lacks the screen of %s (trailing spaces trimmed):\n%s", name, screen)
		}
	}
}

// prose is the view with every run of white space, line ends included,
// folded to one space, so that wrapped text can be looked for whole.
func prose(view string) string { return strings.Join(strings.Fields(view), " ") }

// siteRows returns the drop-site symbols in the order the view lists them.
func siteRows(view string, symbols ...string) []string {
	type pos struct {
		sym string
		at  int
	}
	var found []pos
	for _, s := range symbols {
		if i := strings.Index(view, s); i >= 0 {
			found = append(found, pos{s, i})
		}
	}
	for i := range found {
		for j := i + 1; j < len(found); j++ {
			if found[j].at < found[i].at {
				found[i], found[j] = found[j], found[i]
			}
		}
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.sym
	}
	return out
}

func TestHeader(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 120, 40, Options{})
	if v := hs.view(); !strings.Contains(v, "waiting for the first reading") {
		t.Errorf("before the first snapshot the header should say it waits:\n%s", v)
	}
	hs.tick()
	v := hs.view()
	for _, want := range []string{"edge-01", "6.8.0-45-generic", "528 drops/s", "32,398 drops in 5m12s", "samples lost 0", "filter: none", "● live"} {
		if !strings.Contains(v, want) {
			t.Errorf("header lacks %q:\n%s", want, v)
		}
	}

	snap := fixtureSnapshot()
	snap.Totals.SamplesLost = 1234
	snap.Warnings = []string{"kernel.kptr_restrict hides symbol addresses", "link counters: permission denied"}
	hs.src.snap = snap
	hs.tick()
	v = hs.view()
	for _, want := range []string{"samples lost 1,234", "⚠ kernel.kptr_restrict hides symbol addresses (+1 more"} {
		if !strings.Contains(v, want) {
			t.Errorf("header lacks %q:\n%s", want, v)
		}
	}
}

func TestSymbolFilter(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("/")
	hs.typeText("UDP")
	v := hs.view()
	if !strings.Contains(v, "/ symbol: UDP") {
		t.Errorf("status line should show the filter being typed:\n%s", v)
	}
	hs.press("enter")
	v = hs.view()
	if got := siteRows(v, "__udp4_lib_rcv", "udp_queue_rcv", "nf_hook_slow", "__netif_recei", "ip_rcv_finish", "__neigh_event"); strings.Join(got, " ") != "__udp4_lib_rcv udp_queue_rcv" {
		t.Errorf("with symbol~UDP the sites shown are %v, want the two udp functions:\n%s", got, v)
	}
	if !strings.Contains(v, "filter: symbol~UDP") {
		t.Errorf("header should show the active filter:\n%s", v)
	}
	// Filtered totals: 412+0 drops/s.
	if !strings.Contains(v, "412 drops/s") || !strings.Contains(v, "25,358 drops") {
		t.Errorf("header totals should cover the filtered sites only:\n%s", v)
	}
	// The filter survives refreshes and applies to the other panes.
	hs.tick()
	hs.press("tab", "tab")
	if v := hs.view(); strings.Contains(v, "IPv4/TCP") || !strings.Contains(v, "IPv4/UDP") {
		t.Errorf("protocols pane ignores the filter:\n%s", v)
	}

	// Esc in the input clears the symbol filter.
	hs.press("/", "esc")
	if v := hs.view(); !strings.Contains(v, "nf_hook_slow") && !strings.Contains(v, "IPv4/TCP") {
		t.Errorf("esc should clear the symbol filter:\n%s", v)
	}
	if hs.m.filter.Symbol != "" {
		t.Errorf("filter after esc = %+v, want no symbol", hs.m.filter)
	}
}

func TestSymbolFilterEditing(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("/")
	hs.typeText("nf_hookq")
	hs.press("backspace")
	// q and other command keys are text while typing.
	if hs.quit {
		t.Fatal("q in the filter input quit the program")
	}
	hs.press("enter")
	if hs.m.filter.Symbol != "nf_hook" {
		t.Errorf("symbol filter = %q, want nf_hook", hs.m.filter.Symbol)
	}
	v := hs.view()
	if !strings.Contains(v, "nf_hook_slow") || strings.Contains(v, "__udp4_lib_rcv") {
		t.Errorf("symbol~nf_hook should show nf_hook_slow only:\n%s", v)
	}
	// Esc in the normal view clears every filter.
	hs.press("esc")
	if !hs.m.filter.IsZero() || !strings.Contains(hs.view(), "__udp4_lib_rcv") {
		t.Errorf("esc should clear the filter, have %+v", hs.m.filter)
	}
}

func TestInterfaceFilter(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("i")
	v := hs.view()
	// Quiet interfaces too: one may be what the user wants to watch.
	for _, name := range []string{"all interfaces", "veth0", "eth0", "eth1", "bond0", "lo", "docker0"} {
		if !strings.Contains(v, name) {
			t.Errorf("picker lacks %q:\n%s", name, v)
		}
	}
	// Typing narrows the choices: eth0 and veth0 contain "eth0", listed
	// by name.
	hs.typeText("eth0")
	if v := hs.view(); strings.Contains(v, "bond0") || !strings.Contains(v, "veth0") {
		t.Errorf("narrowed to eth0, the picker should list eth0 and veth0 only:\n%s", v)
	}
	hs.press("enter")
	if hs.m.filter.Interface != "eth0" {
		t.Fatalf("interface filter = %q, want eth0", hs.m.filter.Interface)
	}
	v = hs.view()
	got := siteRows(v, "__udp4_lib_rcv", "udp_queue_rcv", "nf_hook_slow", "__netif_recei", "ip_rcv_finish", "__neigh_event")
	if strings.Join(got, " ") != "nf_hook_slow __netif_recei" {
		t.Errorf("with iface=eth0 the sites are %v, want nf_hook_slow and __netif_receive_skb_core:\n%s", got, v)
	}
	if !strings.Contains(v, "filter: iface=eth0") {
		t.Errorf("header should show iface=eth0:\n%s", v)
	}
	hs.press("tab")
	if v := hs.view(); strings.Contains(v, "veth0") || !strings.Contains(v, "eth0") {
		t.Errorf("interfaces pane should show eth0 only:\n%s", v)
	}

	// The picker opens on the current choice, and its cursor stays where
	// the user moves it while refreshes come in; esc clears the filter.
	hs.press("i")
	if ifc, _ := hs.m.picker.Selected(); ifc.Label() != "eth0" {
		t.Errorf("picker opened on %q, want eth0", ifc.Label())
	}
	hs.press("down")
	hs.tick()
	if ifc, _ := hs.m.picker.Selected(); ifc.Label() != "eth1" {
		t.Errorf("picker cursor on %q after down and a refresh, want eth1", ifc.Label())
	}
	hs.press("esc")
	if hs.m.filter.Interface != "" || hs.m.mode != modeNormal {
		t.Errorf("esc in the picker: filter %+v, mode %v; want cleared and closed", hs.m.filter, hs.m.mode)
	}
}

// TestPicker: the picker's cursor stays on its interface however the
// refreshes reorder them, q and i are text, the label chosen is the
// filter exactly (one namespace's eth0, not another's), and reopened, the
// picker marks the filter in force.
func TestPicker(t *testing.T) {
	snap := fixtureSnapshot()
	for i, ns := range []string{"nsA", "nsB"} {
		snap.Sites = append(snap.Sites, drops.Site{Function: "__udp4_lib_rcv", Offset: "0x4bc", Reason: "NO_SOCKET",
			Interface: "X", Namespace: ns, Ifindex: 2, Netns: uint32(10 + i), L3: "IPv4", L4: "UDP", Count: uint64(100 * (i + 1)),
			Rate: float64(10 * (i + 1)), Key: drops.Key{Location: 7, Ifindex: 2, Netns: uint32(10 + i)}})
	}
	snap.Recount()
	src := &fakeSource{snap: snap}
	hs := newHarness(t, src, 80, 24, Options{})
	hs.tick()
	hs.press("i")
	// Six downs over refreshes that reorder the traced drops.
	for i := range 6 {
		hs.press("down")
		next := fixtureSnapshot()
		next.Sites = append(next.Sites, snap.Sites[len(snap.Sites)-2:]...)
		for j := range next.Sites {
			next.Sites[j].Count += uint64(1000 * ((i + j) % 5))
		}
		next.Recount()
		src.snap = next
		hs.tick()
	}
	// all, bond0, docker0, eth0, eth1, lo, veth0: six downs end on veth0.
	if ifc, _ := hs.m.picker.Selected(); ifc.Label() != "veth0" {
		t.Errorf("after six downs over six refreshes the picker is on %q, want veth0:\n%s", ifc.Label(), hs.view())
	}
	hs.press("esc")
	hs.press("i")
	hs.typeText("X@nsB")
	if hs.quit {
		t.Fatal("typing in the picker quit")
	}
	hs.press("enter")
	if hs.m.filter.Interface != "X@nsB" {
		t.Fatalf("filter %+v, want iface=X@nsB", hs.m.filter)
	}
	for _, s := range hs.m.view.Sites {
		if s.InterfaceLabel() != "X@nsB" {
			t.Errorf("with iface=X@nsB the view has a site on %s", s.InterfaceLabel())
		}
	}
	if len(hs.m.view.Sites) != 1 || hs.m.view.Sites[0].Namespace != "nsB" || hs.m.view.Totals.Drops != hs.m.view.Sites[0].Count {
		t.Errorf("with iface=X@nsB: %d sites, %d drops; want nsB's one site and its drops", len(hs.m.view.Sites), hs.m.view.Totals.Drops)
	}
	hs.press("i")
	v := hs.view()
	if ifc, _ := hs.m.picker.Selected(); ifc.Label() != "X@nsB" || !strings.Contains(v, "X@nsB") || !strings.Contains(v, "(current)") {
		t.Errorf("reopened, the picker should be on the current filter X@nsB and mark it:\n%s", v)
	}
	for _, l := range stripLines(v) {
		if strings.Contains(l, "(current)") && !strings.Contains(l, "X@nsB") {
			t.Errorf("the wrong row is marked current: %q", l)
		}
	}
	// Esc clears what was typed first, then the filter.
	hs.typeText("zz")
	if v := hs.view(); !strings.Contains(v, "No interface matches zz") {
		t.Errorf("a query matching nothing should say so:\n%s", v)
	}
	hs.press("esc")
	if hs.m.mode != modePick || hs.m.picker.Query() != "" || hs.m.filter.Interface != "X@nsB" {
		t.Errorf("esc with a query: mode %v, query %q, filter %+v; want the query cleared only", hs.m.mode, hs.m.picker.Query(), hs.m.filter)
	}
}

// TestFilterSaysWhatItMatches: a filter that matches nothing seen so far
// says so in the header, naming what there is, and stays; the header names
// the namespace watched.
func TestFilterSaysWhatItMatches(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Namespace = &drops.Watched{Name: "web", Path: "/run/netns/web", Inode: 4026531840}
	hs := newHarness(t, &fakeSource{snap: snap}, 120, 40, Options{Filter: drops.Filter{Interface: "nosuch0"},
		HasFunction: func(sub string) bool { return sub == "tcp_v4" }})
	hs.tick()
	v := hs.view()
	for _, want := range []string{"netns web · filter: iface=nosuch0", "⚠ iface=nosuch0 matches no interface seen so far (interfaces: bond0, docker0, eth0, eth1, lo, veth0)"} {
		if !strings.Contains(v, want) {
			t.Errorf("header lacks %q:\n%s", want, v)
		}
	}
	hs.press("esc", "/")
	hs.typeText("no_such_fn")
	hs.press("enter")
	if v := hs.view(); !strings.Contains(v, "⚠ symbol~no_such_fn is in no kernel function's name (drop sites: __neigh_event_send,") {
		t.Errorf("a symbol no kernel function has should be said:\n%s", v)
	}
	// One a kernel function has may drop yet: no warning.
	hs.press("/")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}) // clear the field
	hs.typeText("tcp_v4")
	hs.press("enter")
	if v := hs.view(); strings.Contains(v, "⚠") || !strings.Contains(v, "No drop site matches symbol~tcp_v4") {
		t.Errorf("a symbol that may drop yet needs no warning:\n%s", v)
	}
}

func TestInterfaceFilterFromFlags(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 120, 40, Options{Filter: drops.Filter{Interface: "veth0"}})
	hs.tick()
	v := hs.view()
	if !strings.Contains(v, "filter: iface=veth0") || strings.Contains(v, "nf_hook_slow") || !strings.Contains(v, "__udp4_lib_rcv") {
		t.Errorf("the initial filter should apply:\n%s", v)
	}
}

func TestEnterOnInterfaceFilters(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("tab", "down", "enter") // veth0, eth0
	if hs.m.filter.Interface != "eth0" {
		t.Errorf("enter on the eth0 row set filter %+v, want iface=eth0", hs.m.filter)
	}
}

func TestSortOrder(t *testing.T) {
	all := []string{"__udp4_lib_rcv", "udp_queue_rcv", "nf_hook_slow", "__netif_recei", "ip_rcv_finish", "__neigh_event"}
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	for _, tc := range []struct {
		order string
		want  string
	}{
		{"rate", "__udp4_lib_rcv nf_hook_slow ip_rcv_finish __neigh_event __netif_recei udp_queue_rcv"},
		{"total", "__udp4_lib_rcv nf_hook_slow ip_rcv_finish udp_queue_rcv __neigh_event __netif_recei"},
		{"name", "__neigh_event __netif_recei __udp4_lib_rcv ip_rcv_finish nf_hook_slow udp_queue_rcv"},
		{"rate", "__udp4_lib_rcv nf_hook_slow ip_rcv_finish __neigh_event __netif_recei udp_queue_rcv"},
	} {
		v := hs.view()
		if got := strings.Join(siteRows(v, all...), " "); got != tc.want {
			t.Errorf("by %s: order %s, want %s", tc.order, got, tc.want)
		}
		if !strings.Contains(v, "by "+tc.order) {
			t.Errorf("title should say by %s:\n%s", tc.order, v)
		}
		hs.press("o")
	}
}

// TestTopContract: the view shows the top of its order after every
// refresh and every o; the cursor keeps its row on the screen, not its
// site, unless f pins it.
func TestTopContract(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("down") // nf_hook_slow, row 1
	snap := fixtureSnapshot()
	snap.Sites[1].Rate = 9999 // nf_hook_slow moves to the top
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if s, ok := hs.m.sites.Selected(); !ok || s.Function != "__udp4_lib_rcv" || hs.m.sites.cursor != 1 {
		t.Errorf("cursor on row %d, %q; want it to stay on row 1, now __udp4_lib_rcv", hs.m.sites.cursor, s.Function)
	}
	if got := siteRows(hs.view(), "__udp4_lib_rcv", "nf_hook_slow"); strings.Join(got, " ") != "nf_hook_slow __udp4_lib_rcv" {
		t.Errorf("rows %v: the busiest site should be first", got)
	}

	// A busy site that appears among many quiet ones is on screen at the
	// top, whatever row the cursor is on.
	snap = fixtureSnapshot()
	for i := range 40 {
		snap.Sites = append(snap.Sites, drops.Site{Function: fmt.Sprintf("quiet_%02d", i), Offset: "0x10", Reason: "NOT_SPECIFIED",
			Interface: "eth0", L3: "IPv4", L4: "UDP", Count: 40, Rate: 1, Key: drops.Key{Location: uint64(1000 + i)}})
	}
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	hs.press("down", "down", "down")
	snap.Sites = append(snap.Sites, drops.Site{Function: "flood_rcv", Offset: "0x1", Reason: "NO_SOCKET", Interface: "eth0",
		L3: "IPv4", L4: "UDP", Count: 100, Rate: 50000, Key: drops.Key{Location: 1}})
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	lines := stripLines(hs.view())
	if !strings.HasPrefix(lines[4], "flood_rcv+0x1") {
		t.Errorf("the new busiest site should be the first row:\n%s", strings.Join(lines, "\n"))
	}

	// Scrolled down, o shows the top of the new order, the cursor keeping
	// its place on the screen.
	for range 30 {
		hs.press("down")
	}
	if hs.m.sites.offset == 0 {
		t.Fatal("30 downs did not scroll")
	}
	row := hs.m.sites.cursor - hs.m.sites.offset
	hs.press("o")
	if hs.m.sites.offset != 0 || hs.m.sites.cursor != row {
		t.Errorf("after o: offset %d, cursor %d; want the top, the cursor on screen row %d", hs.m.sites.offset, hs.m.sites.cursor, row)
	}
	lines = stripLines(hs.view())
	if !strings.HasPrefix(lines[4], "__udp4_lib_rcv") || !strings.Contains(lines[2], "by total") {
		t.Errorf("by total, the first row should be the largest count:\n%s", strings.Join(lines, "\n"))
	}
}

// TestFollow: f pins the selected site; the cursor follows it wherever
// refreshes move it, the status line says so, and f again lets go.
func TestFollow(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("down", "f") // nf_hook_slow
	if v := hs.view(); !strings.Contains(v, "following nf_hook_slow+0x9c eth0") {
		t.Errorf("the status line should say which site is followed:\n%s", v)
	}
	snap := fixtureSnapshot()
	snap.Sites[1].Rate = 9999 // nf_hook_slow moves to the top
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if s, ok := hs.m.sites.Selected(); !ok || s.Function != "nf_hook_slow" || hs.m.sites.cursor != 0 {
		t.Errorf("followed cursor on row %d, %q; want nf_hook_slow on row 0", hs.m.sites.cursor, s.Function)
	}
	// Moving the cursor follows the new row.
	hs.press("down")
	snap.Sites[0].Rate = 99999
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if s, _ := hs.m.sites.Selected(); s.Function != "__udp4_lib_rcv" {
		t.Errorf("after down the cursor follows %q, want __udp4_lib_rcv", s.Function)
	}
	// A followed site that leaves the view is named still.
	snap.Sites = snap.Sites[1:]
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "following __udp4_lib_rcv+0x3f2 veth0 (not in view)") {
		t.Errorf("status line should say the followed site is gone:\n%s", v)
	}
	hs.press("f")
	if v := hs.view(); strings.Contains(v, "following") || hs.m.sites.pinned {
		t.Errorf("f again should stop following:\n%s", v)
	}
}

// TestGrouping: v cycles what a row stands for, the title says which, and
// the totals stay what they were.
func TestGrouping(t *testing.T) {
	hs := newHarness(t, &fakeSource{snap: containerSnapshot()}, 120, 40, Options{})
	hs.tick()
	full := hs.view()
	header := stripLines(full)[1]
	if n := strings.Count(full, "ip6_mc_input+0x15e"); n != 5 {
		t.Fatalf("ungrouped, ip6_mc_input is on %d rows, want 5:\n%s", n, full)
	}
	hs.press("v")
	v := hs.view()
	if n := strings.Count(v, "ip6_mc_input+0x15e"); n != 1 || !strings.Contains(v, "5 ifaces (eth0@web)") || !strings.Contains(v, "per site, reason") {
		t.Errorf("per site, ip6_mc_input should be one row over 5 interfaces:\n%s", v)
	}
	if stripLines(v)[1] != header {
		t.Errorf("grouping changed the totals: %q, want %q", stripLines(v)[1], header)
	}
	var sum uint64
	for _, s := range hs.m.sites.items {
		sum += s.Count
	}
	if sum != hs.m.view.Totals.Drops {
		t.Errorf("the rows sum to %d drops, the totals say %d", sum, hs.m.view.Totals.Drops)
	}
	hs.press("v")
	v = hs.view()
	if !strings.Contains(v, "2 sites (nf_hook_slow+0x9c)") || !strings.Contains(v, "per reason") || stripLines(v)[1] != header {
		t.Errorf("per reason, the two firewall sites should be one row:\n%s", v)
	}
	hs.press("v")
	if v := hs.view(); v != full {
		t.Errorf("a third v should come back to a row per site, reason, interface and protocol:\n%s", v)
	}
	// The grouping from the command line.
	hs = newHarness(t, &fakeSource{snap: containerSnapshot()}, 120, 40, Options{Group: drops.GroupReason})
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "per reason") {
		t.Errorf("Options.Group should set the first grouping:\n%s", v)
	}
}

// TestHide hides a site: its row is gone, the totals are what they were,
// the header counts what is hidden; X shows it again, and W saves the
// rules where the next run reads them.
func TestHide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "skbtop", "hides")
	hs := newHarness(t, &fakeSource{snap: containerSnapshot()}, 120, 40, Options{HidesPath: path})
	hs.tick()
	before := hs.m.view.Totals
	header := stripLines(hs.view())[1]
	hs.press("down", "down") // nf_hook_slow on eth0@web
	hs.press("x")
	v := hs.view()
	if rowsOf(hs, "nf_hook_slow") != 0 {
		t.Errorf("x should hide nf_hook_slow NETFILTER_DROP on every interface:\n%s", v)
	}
	if hs.m.view.Totals != before || !strings.HasPrefix(stripLines(v)[1], "590 drops/s · 50,215 drops in 5m12s · ") || !strings.HasPrefix(header, "590 drops/s · 50,215 drops in 5m12s · ") {
		t.Errorf("hiding changed the totals: %+v, want %+v\n%s", hs.m.view.Totals, before, v)
	}
	if !strings.Contains(v, "3 hidden (21.8k drops)") || !strings.Contains(v, "hid nf_hook_slow+0x9c:NETFILTER_DROP") {
		t.Errorf("the header should count the hidden rows and the status line say what was hidden:\n%s", v)
	}
	if s, _ := hs.m.sites.Selected(); hs.m.sites.cursor != 2 || s.Function == "nf_hook_slow" {
		t.Errorf("the cursor should stay on its row, now %s", s.Function)
	}
	// It stays hidden across refreshes; the next key clears the message.
	hs.tick()
	hs.press("down")
	if v := hs.view(); rowsOf(hs, "nf_hook_slow") != 0 || strings.Contains(v, "hid nf_hook") || !strings.Contains(v, "3 hidden") {
		t.Errorf("after a refresh and a key:\n%s", v)
	}
	hs.press("W")
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "\nnf_hook_slow+0x9c:NETFILTER_DROP\n") {
		t.Fatalf("W wrote %q, %v", b, err)
	}
	if v := hs.view(); !strings.Contains(v, "saved 1 hide rules to "+path) {
		t.Errorf("status line should say where the hides went:\n%s", v)
	}
	hs.press("X")
	if v := hs.view(); rowsOf(hs, "nf_hook_slow") != 3 || strings.Contains(v, "hidden") {
		t.Errorf("X should show every site again:\n%s", v)
	}

	// The next run starts with the saved rules, and says so.
	hides, err := drops.LoadHides(path)
	if err != nil {
		t.Fatal(err)
	}
	hs = newHarness(t, &fakeSource{snap: containerSnapshot()}, 120, 40, Options{Hides: hides, HidesPath: path})
	hs.tick()
	if v := hs.view(); rowsOf(hs, "nf_hook_slow") != 0 || !strings.Contains(v, "3 hidden (21.8k drops)") {
		t.Errorf("saved hides should be in force from the start:\n%s", v)
	}
	// A rule that hides nothing now still says it is there.
	hs.src.snap = fixtureSnapshot()
	hs.src.snap.Sites = hs.src.snap.Sites[:1]
	hs.src.snap.Recount()
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "0 hidden (1 rule)") {
		t.Errorf("the header should say hides are in force:\n%s", v)
	}

	// Grouped by reason, x hides the reason; the map-full row cannot be.
	hs = newHarness(t, &fakeSource{snap: containerSnapshot()}, 120, 40, Options{Group: drops.GroupReason})
	hs.tick()
	hs.press("down", "x")
	if v := hs.view(); len(hs.m.sites.items) != 6 || strings.Contains(strings.Join(stripLines(v)[:10], "\n"), "NETFILTER_DROP") || !strings.Contains(v, "hid :NETFILTER_DROP") {
		t.Errorf("by reason, x should hide the reason:\n%s", v)
	}
	hs.press("W")
	if v := hs.view(); !strings.Contains(v, "hides cannot be saved") {
		t.Errorf("without a place to save, W should say so:\n%s", v)
	}
}

// rowsOf counts the sites pane's rows of function fn.
func rowsOf(hs *harness, fn string) int {
	n := 0
	for _, s := range hs.m.sites.items {
		if s.Function == fn {
			n++
		}
	}
	return n
}

// TestHelpModes: the help lists the keys of the mode it was opened from,
// every one of them, none cut at 40 columns; it scrolls when it does not
// fit, and the status line's keys are the mode's.
func TestHelpModes(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 40, 80, Options{})
	hs.tick()
	hs.press("?")
	v := hs.view()
	for _, b := range hs.m.keys.fullHelpFor(modeNormal) {
		for _, k := range b {
			if h := k.Help(); !strings.Contains(v, h.Key+" ") || !strings.Contains(v, h.Desc) {
				t.Errorf("the help at 40 columns lacks %q %q:\n%s", h.Key, h.Desc, v)
			}
		}
	}
	for _, l := range stripLines(v)[2 : len(stripLines(v))-1] {
		if strings.Contains(l, "…") {
			t.Errorf("a help line is cut at 40 columns: %q", l)
		}
	}
	hs.press("esc", "enter")
	if v := hs.view(); !strings.Contains(v, "esc/↵ back to the list") || strings.Contains(v, "o sort") {
		t.Errorf("in the detail, the status line should offer the detail's keys:\n%s", v)
	}
	hs.press("?")
	v = hs.view()
	if !strings.Contains(v, "previous/next site") || strings.Contains(v, "group rows") || strings.Contains(v, "shift+tab") {
		t.Errorf("opened from the detail, the help should list the detail's keys:\n%s", v)
	}
	hs.press("esc")
	if hs.m.mode != modeDetail {
		t.Errorf("closing the help went to mode %v, want the detail it came from", hs.m.mode)
	}
	// Keys of the list do nothing in the detail.
	order := hs.m.order
	hs.press("o", "v")
	if hs.m.order != order || hs.m.group != drops.GroupFull || hs.m.mode != modeDetail {
		t.Error("o and v changed the list behind the detail")
	}
	// At 60x15 the help scrolls to its last key.
	hs = newHarness(t, fixtureSource(), 60, 15, Options{})
	hs.tick()
	hs.press("?")
	if v := hs.view(); strings.Contains(v, "ctrl+c") || !strings.Contains(v, "more below") {
		t.Fatalf("at 60x15 the help should not fit:\n%s", v)
	}
	for range 5 {
		hs.press("down")
	}
	if v := hs.view(); !strings.Contains(v, "ctrl+c") || hs.m.mode != modeHelp {
		t.Errorf("scrolled, the help should show its last keys:\n%s", v)
	}
	hs.press("esc", "i")
	if v := hs.view(); !strings.Contains(v, "type to narrow") || strings.Contains(v, "q quit") {
		t.Errorf("the picker's status line should offer its own keys:\n%s", v)
	}
}

// TestStatusShowsState: the status line says what is so now, never what
// was done a while ago.
func TestStatusShowsState(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("/")
	hs.typeText("udp")
	hs.press("enter", "esc")
	hs.press("/")
	hs.typeText("nf")
	hs.press("enter")
	if v := hs.view(); strings.Contains(v, "cleared") || !strings.Contains(v, "filter: symbol~nf") {
		t.Errorf("after clearing one filter and setting another:\n%s", v)
	}
	hs.press("esc", "p")
	if v := stripLines(hs.view()); !strings.HasPrefix(v[len(v)-1], "paused: p resumes") {
		t.Errorf("paused, the status line should say so: %q", v[len(v)-1])
	}
	hs.press("c")
	if v := hs.view(); !strings.Contains(v, "counts reset") {
		t.Errorf("c should say the counts were reset:\n%s", v)
	}
	hs.press("p")
	if v := stripLines(hs.view()); strings.Contains(v[len(v)-1], "paused") || strings.Contains(v[len(v)-1], "reset") {
		t.Errorf("unpaused, the status line still says %q", v[len(v)-1])
	}
}

// TestOtherFamilies: drops of skbs from no device show "-" for the
// interface and their family by name.
func TestOtherFamilies(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Sites = append(snap.Sites,
		drops.Site{Function: "virtio_transport_recv_pkt", Offset: "0x2a1", Reason: "NOT_SPECIFIED", L3: "vsock", Count: 5000, Rate: 900, Key: drops.Key{Location: 1}},
		drops.Site{Function: "skb_queue_purge_reason", Offset: "0x61", Reason: "QUEUE_PURGE", L3: "none", Count: 10, Rate: 800, Key: drops.Key{Location: 2}},
		drops.Site{Function: "arp_process", Offset: "0x19c", Reason: "NOT_SPECIFIED", Interface: "eth0", L3: "ARP", Count: 30, Rate: 700, Key: drops.Key{Location: 3}})
	snap.Recount()
	hs := newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	lines := stripLines(hs.view())
	for i, want := range [][]string{
		{"virtio_transport_recv_pkt+0x2a1", "NOT_SPECIFIED", "-", "vsock"},
		{"skb_queue_purge_reason+0x61", "QUEUE_PURGE", "-", "none"},
		{"arp_process+0x19c", "NOT_SPECIFIED", "eth0", "ARP"},
	} {
		if got := cells(lines[4+i])[:4]; !slices.Equal(got, want) {
			t.Errorf("row %d: %q, want %q", i, got, want)
		}
	}
}

func TestPause(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	before := hs.view()
	hs.press("p")
	paused := hs.view()
	if !strings.Contains(paused, "PAUSED 09:26:53") {
		t.Errorf("header should say PAUSED with the frozen time:\n%s", paused)
	}

	snap := fixtureSnapshot()
	snap.Sites = append(snap.Sites, drops.Site{Function: "tcp_v4_rcv", Offset: "0x6a4", Reason: "NO_SOCKET", Interface: "eth0", Ifindex: 2,
		L3: "IPv4", L4: "TCP", Count: 99999, Rate: 5000, Key: drops.Key{Location: 1}})
	snap.Recount()
	hs.src.snap = snap
	calls := hs.src.calls
	hs.tick()
	hs.tick()
	if hs.src.calls != calls+2 {
		t.Errorf("paused model pulled %d snapshots in 2 ticks, want 2: it keeps ticking", hs.src.calls-calls)
	}
	if v := hs.view(); v != paused {
		t.Errorf("paused view changed:\n%s\nwant:\n%s", v, paused)
	}
	hs.press("p")
	v := hs.view()
	if v == before || !strings.Contains(v, "tcp_v4_rcv") || strings.Contains(v, "PAUSED") {
		t.Errorf("unpausing should show the latest data:\n%s", v)
	}
}

func TestReset(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	calls := hs.src.calls
	hs.press("c")
	if hs.src.resets != 1 {
		t.Errorf("c called Reset %d times, want 1", hs.src.resets)
	}
	if hs.src.calls != calls+1 {
		t.Errorf("c should pull a fresh snapshot at once")
	}
	// The refresh pulled on c must not start a second chain of ticks.
	timers := hs.timers
	hs.tick()
	hs.tick()
	if hs.timers != timers+2 {
		t.Errorf("2 ticks after c started %d timers, want 2", hs.timers-timers)
	}
	if v := hs.view(); !strings.Contains(v, "counts reset") {
		t.Errorf("status line should confirm the reset:\n%s", v)
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	hs := newHarness(t, fixtureSource(), 80, 24, Options{SnapshotDir: dir})
	hs.tick()
	hs.press("i")
	hs.typeText("veth")
	hs.press("enter")
	hs.press("s")
	want := filepath.Join(dir, "skbtop-"+hs.clock.Now().Format("20060102-150405")+".json")
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("s did not write %s: %v", want, err)
	}
	var got drops.Snapshot
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Filter.Interface != "veth0" || len(got.Sites) != 1 || got.Sites[0].Function != "__udp4_lib_rcv" || got.Totals.Drops != 24718 {
		t.Errorf("saved filter %+v, %d sites, totals %+v; want the veth0 view", got.Filter, len(got.Sites), got.Totals)
	}
	if len(got.Sites[0].Samples) != 3 {
		t.Errorf("saved site has %d samples, want 3", len(got.Sites[0].Samples))
	}
	v := hs.view()
	if !strings.Contains(v, "saved "+dir) {
		t.Errorf("status line should show the path:\n%s", v)
	}

	// The message clears itself after a few seconds of ticks.
	hs.clock.Advance(2 * time.Second)
	hs.tick()
	if !strings.Contains(hs.view(), "saved ") {
		t.Error("the status message went away too soon")
	}
	hs.clock.Advance(statusTTL)
	hs.tick()
	if v := hs.view(); strings.Contains(v, "saved ") || !strings.Contains(v, "q quit") {
		t.Errorf("the status message should have cleared for the key help:\n%s", v)
	}
}

func TestSaveUnwritable(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, fixtureSource(), 80, 24, Options{SnapshotDir: file})
	hs.tick()
	hs.press("s")
	v := hs.view()
	if !strings.Contains(v, "save failed") {
		t.Errorf("status line should show the error:\n%s", v)
	}
	if hs.quit || hs.m.fatal != nil {
		t.Fatalf("a failed save ended the program: %v", hs.m.fatal)
	}
	hs.tick()
	if !strings.Contains(hs.view(), "__udp4_lib_rcv") {
		t.Error("the UI should keep running after a failed save")
	}
}

func TestSaveBeforeData(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.press("s")
	if v := hs.view(); !strings.Contains(v, "nothing to save yet") {
		t.Errorf("s before any snapshot should say so:\n%s", v)
	}
}

func TestDetail(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("enter")
	v := hs.view()
	for _, want := range []string{
		"__udp4_lib_rcv+0x3f2",
		"NO_SOCKET: No socket listens",
		"10.0.0.53:53 → 10.0.0.12:38802",
		"09:26:52.580",
		"IPv4/UDP",
		"412/s",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	// Newest sample first.
	if strings.Index(v, "38802") > strings.Index(v, "41234") {
		t.Errorf("samples should be newest first:\n%s", v)
	}
	// Down steps to the next site without leaving the detail.
	hs.press("down")
	v = hs.view()
	for _, want := range []string{"nf_hook_slow+0x9c", "NETFILTER_DROP:", "203.0.113.7:51522 → 192.0.2.10:22", " S "} {
		if !strings.Contains(v, want) {
			t.Errorf("detail of nf_hook_slow lacks %q:\n%s", want, v)
		}
	}
	// It follows refreshes.
	snap := fixtureSnapshot()
	snap.Sites[1].Rate = 1234
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "1.2k/s") {
		t.Errorf("detail should refresh:\n%s", v)
	}
	hs.press("esc")
	if v := hs.view(); hs.m.mode != modeNormal || !strings.Contains(v, "DROP SITE") {
		t.Errorf("esc should go back to the list:\n%s", v)
	}
}

func TestDetailWithoutSamples(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("down", "down", "down", "enter") // __neigh_event_send, no samples
	v := hs.view()
	for _, want := range []string{"__neigh_event_send+0x1c7", "NEIGH_QUEUEFULL:", "ARP", "No sampled packets yet", "31,120"} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
}

func TestDetailSiteGone(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("enter")
	snap := fixtureSnapshot()
	snap.Sites = snap.Sites[1:]
	snap.Recount()
	hs.src.snap = snap
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "__udp4_lib_rcv+0x3f2") || !strings.Contains(v, "no longer in view") {
		t.Errorf("detail of a vanished site should say so:\n%s", v)
	}
}

// TestQuietAnywhere: a quiet interface is left out wherever the snapshot
// lists it, not only at the end where snapshots put them.
func TestQuietAnywhere(t *testing.T) {
	snap := fixtureSnapshot()
	i := slices.IndexFunc(snap.Interfaces, func(i drops.Interface) bool { return i.Name == "docker0" })
	quiet := snap.Interfaces[i]
	snap.Interfaces = append([]drops.Interface{quiet}, slices.Delete(slices.Clone(snap.Interfaces), i, i+1)...)
	src := fixtureSource()
	src.snap = snap
	hs := newHarness(t, src, 120, 40, Options{})
	hs.tick()
	hs.press("tab")
	if v := hs.view(); strings.Contains(v, "docker0") || !strings.Contains(v, "Interfaces  5 · 1 quiet not shown") {
		t.Errorf("the quiet docker0, listed first, should be left out and counted:\n%s", v)
	}
}

func TestPanes(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("tab")
	v := hs.view()
	for _, want := range []string{"rx_drop", "rx_miss", "1204", "98%", "EXPLAINED", "Interfaces 5"} {
		if !strings.Contains(v, want) {
			t.Errorf("interfaces pane lacks %q:\n%s", want, v)
		}
	}
	// The notes are drops' own, whole.
	for _, note := range []string{drops.CountersNote, drops.ExplainedNote, drops.NICRingNote} {
		if !strings.Contains(prose(v), note) {
			t.Errorf("interfaces pane lacks the note %q:\n%s", note, v)
		}
	}
	// The quiet interface is left out, and the title says so.
	if strings.Contains(v, "docker0") {
		t.Errorf("interfaces pane shows the quiet docker0:\n%s", v)
	}
	hs.send(sizeMsg(120, 40))
	if v := hs.view(); !strings.Contains(v, "Interfaces  5 · 1 quiet not shown") || strings.Contains(v, "docker0") {
		t.Errorf("the interfaces title should count the quiet interface it leaves out:\n%s", v)
	}
	hs.send(sizeMsg(80, 24))
	hs.press("tab")
	v = hs.view()
	for _, want := range []string{"IPv4/UDP", "IPv4/TCP", "802.2", "83%", "█"} {
		if !strings.Contains(v, want) {
			t.Errorf("protocols pane lacks %q:\n%s", want, v)
		}
	}
	hs.press("tab")
	if !strings.Contains(hs.view(), "DROP SITE") {
		t.Error("tab should cycle back to the sites")
	}
	hs.press("shift+tab")
	if v := hs.view(); strings.Contains(v, "DROP SITE") || !strings.Contains(v, "KERNEL COUNTER") {
		t.Errorf("shift+tab from the sites should go back to the protocols:\n%s", v)
	}
}

func TestInterfacesWithoutCounters(t *testing.T) {
	snap := fixtureSnapshot()
	for i := range snap.Interfaces {
		snap.Interfaces[i].Counters, snap.Interfaces[i].Delta, snap.Interfaces[i].Rates = nil, nil, nil
	}
	hs := newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	hs.press("tab")
	v := hs.view()
	if strings.Contains(v, "rx_drop") || !strings.Contains(v, "TRACED") || !strings.Contains(v, "24.7k") {
		t.Errorf("without counters the pane shows traced drops only:\n%s", v)
	}
}

func TestWideShowsAllPanes(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 120, 40, Options{})
	hs.tick()
	v := hs.view()
	for _, want := range []string{"Drop sites", "Interfaces", "Protocols", "DROP SITE", "rx_drop", "IPv4/UDP", "LAST 60s"} {
		if !strings.Contains(v, want) {
			t.Errorf("120x40 lacks %q:\n%s", want, v)
		}
	}
}

// TestSourceErrorClears: a non-fatal Source error goes to the status line,
// the data on screen stays, the message stays while the error does, and it
// clears once reads succeed again.
func TestSourceErrorClears(t *testing.T) {
	src := fixtureSource()
	hs := newHarness(t, src, 80, 24, Options{})
	hs.tick()
	src.err = errors.New("read counts: map lookup failed")
	hs.tick()
	v := hs.view()
	if !strings.Contains(v, "reading drops: read counts: map lookup failed") || !strings.Contains(v, "__udp4_lib_rcv") {
		t.Errorf("a non-fatal error goes to the status line, keeping the data:\n%s", v)
	}
	if hs.quit || hs.m.fatal != nil {
		t.Fatalf("a non-fatal error quit: %v", hs.m.fatal)
	}
	hs.clock.Advance(statusTTL)
	hs.tick()
	if !strings.Contains(hs.view(), "map lookup failed") {
		t.Error("the error went away while reads still fail")
	}
	src.err = nil
	hs.tick()
	hs.clock.Advance(statusTTL)
	hs.tick()
	if v := hs.view(); strings.Contains(v, "map lookup failed") || !strings.Contains(v, "q quit") {
		t.Errorf("the error should have cleared for the key help once reads succeed:\n%s", v)
	}
}

// TestTickDrawsNothing: the refresh tick alone changes nothing on screen,
// so the frame drawn before it is given again, not drawn anew; the
// snapshot it pulls is drawn.
func TestTickDrawsNothing(t *testing.T) {
	src := fixtureSource()
	hs := newHarness(t, src, 100, 30, Options{})
	hs.tick()
	before := hs.m.View().Content
	next, _ := hs.m.Update(tickMsg{})
	hs.m = next.(Model)
	if after := hs.m.View().Content; unsafe.StringData(after) != unsafe.StringData(before) {
		t.Error("the tick drew the frame again")
	}
	hs.send(snapshotMsg{snap: src.snap})
	if after := hs.m.View().Content; unsafe.StringData(after) == unsafe.StringData(before) {
		t.Error("the snapshot was not drawn")
	}
}

// errRing stands for the error a dead tracer returns.
var errRing = errors.New("ring buffer closed")

// TestSourceFatalError: a Source error marked Fatal quits the program at
// once, and Run returns it, unwrapped from Fatal but with its own chain.
func TestSourceFatalError(t *testing.T) {
	src := fixtureSource()
	hs := newHarness(t, src, 80, 24, Options{})
	hs.tick()
	src.err = Fatal(fmt.Errorf("read drop counts: %w", errRing))
	hs.tick()
	if !hs.quit || !errors.Is(hs.m.fatal, errRing) {
		t.Errorf("a fatal error should quit and be stored: quit %v, fatal %v", hs.quit, hs.m.fatal)
	}

	src = &fakeSource{err: Fatal(fmt.Errorf("read drop counts: %w", errRing))}
	err := run(context.Background(), New(src, Options{Interval: time.Hour}),
		tea.WithInput(nil), tea.WithOutput(&bytes.Buffer{}), tea.WithWindowSize(80, 24))
	if !errors.Is(err, errRing) || err.Error() != "read drop counts: ring buffer closed" {
		t.Errorf("run = %v, want the source's error", err)
	}
	if _, fatal := isFatal(err); fatal {
		t.Error("run returned the error still marked Fatal")
	}
}

func TestSourcePanicIsFatal(t *testing.T) {
	src := fixtureSource()
	hs := newHarness(t, src, 80, 24, Options{})
	src.panics = true
	hs.tick()
	if !hs.quit || hs.m.fatal == nil || !strings.Contains(hs.m.fatal.Error(), "source exploded") {
		t.Errorf("a panicking Source should end the program with its panic: quit %v, fatal %v", hs.quit, hs.m.fatal)
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		hs := newHarness(t, fixtureSource(), 80, 24, Options{})
		hs.tick()
		hs.press(k)
		if !hs.quit {
			t.Errorf("%s did not quit", k)
		}
	}
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.press("/", "ctrl+c")
	if !hs.quit {
		t.Error("ctrl+c in the filter input did not quit")
	}
}

func TestHelp(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	hs.press("?")
	v := hs.view()
	for _, want := range []string{"pause", "reset", "save", "symbol", "iface", "shift+tab", "ctrl+c", drops.NICRingNote} {
		if !strings.Contains(prose(v), want) {
			t.Errorf("help lacks %q:\n%s", want, v)
		}
	}
	hs.press("x")
	if hs.m.mode != modeNormal {
		t.Error("any key should close the help")
	}
}

func TestFrameAtEverySize(t *testing.T) {
	sizes := [][2]int{{0, 0}, {1, 1}, {5, 2}, {20, 5}, {10, 3}, {40, 12}, {60, 20}, {80, 24}, {79, 50}, {100, 30}, {110, 27}, {120, 40}, {200, 60}, {300, 10}}
	scenarios := [][]string{nil, {"enter"}, {"tab"}, {"tab", "tab"}, {"i"}, {"?"}, {"/", "x"}}
	for _, size := range sizes {
		for _, keys := range scenarios {
			hs := newHarness(t, fixtureSource(), size[0], size[1], Options{})
			hs.view()
			hs.tick()
			hs.press(keys...)
			hs.view()
			// Resizes keep the frame exact.
			hs.send(sizeMsg(size[1]+7, size[0]/2))
			hs.view()
		}
	}
}

func TestEmptySnapshot(t *testing.T) {
	empty := drops.Snapshot{Schema: drops.SchemaV1, Host: "quiet-01", Kernel: "6.1.0", Time: fixtureTime, Sites: []drops.Site{}}
	empty.Recount()
	hs := newHarness(t, &fakeSource{snap: empty}, 80, 24, Options{})
	hs.tick()
	hs.press("enter", "tab", "enter", "i", "enter")
	if v := hs.view(); !strings.Contains(v, "0 drops/s") {
		t.Errorf("an empty snapshot should still render totals:\n%s", v)
	}
	hs = newHarness(t, &fakeSource{snap: empty}, 80, 24, Options{})
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "No drops since the counts started") {
		t.Errorf("an empty view should say there are no drops:\n%s", v)
	}
	hs = newHarness(t, fixtureSource(), 80, 24, Options{Filter: drops.Filter{Symbol: "no_such_function"}})
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "No drop site matches symbol~no_such_function") {
		t.Errorf("a filter matching nothing should say so:\n%s", v)
	}
}

func TestNoColor(t *testing.T) {
	// The caller reads the environment (tui.go); the UI goes by its
	// options alone.
	t.Setenv("NO_COLOR", "1")
	hs := newHarness(t, fixtureSource(), 120, 40, Options{})
	hs.tick()
	if v := hs.m.View().Content; !strings.Contains(v, "38;") {
		t.Fatal("without Options.NoColor the view has no colour: either the colour test is broken or the UI reads NO_COLOR itself")
	}
	hs = newHarness(t, fixtureSource(), 120, 40, Options{NoColor: true})
	hs.tick()
	v := hs.m.View().Content
	for _, sgr := range []string{"38;", "48;"} {
		if strings.Contains(v, sgr) {
			t.Errorf("NO_COLOR view contains colour sequence %q", sgr)
		}
	}
	if !strings.Contains(v, "\x1b[7m") && !strings.Contains(v, ";7m") {
		t.Error("NO_COLOR view should mark the selection with reverse video")
	}
}

func TestBackgroundColor(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 80, 24, Options{})
	hs.tick()
	dark := hs.m.View().Content
	hs.send(tea.BackgroundColorMsg{Color: lightGray{}})
	if hs.m.isDark {
		t.Fatal("a light background was taken for dark")
	}
	light := hs.m.View().Content
	if light == dark {
		t.Error("styles did not change with the background")
	}
	if stripLines(light)[3] != stripLines(dark)[3] {
		t.Error("the background should change colours only")
	}
}

type lightGray struct{}

func (lightGray) RGBA() (r, g, b, a uint32) { return 0xeeee, 0xeeee, 0xeeee, 0xffff }

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		hist []float64
		w    int
		want string
	}{
		{[]float64{0, 1, 2, 4, 8}, 5, " ▁▂▄█"},
		{[]float64{5, 5}, 4, "  ██"},
		{[]float64{0, 0}, 3, "   "},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 3, "▇██"},
		{nil, 0, ""},
	} {
		if got := sparkline(tc.hist, tc.w); got != tc.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", tc.hist, tc.w, got, tc.want)
		}
	}
	// A one-second burst in a minute survives being squeezed into 8 cells.
	h := make([]float64, 60)
	h[30] = 100
	if got := minuteSparkline(h, 8); !strings.Contains(got, "█") {
		t.Errorf("minuteSparkline lost a burst: %q", got)
	}
	// A site seen for 10 s sits at the right end of the minute.
	if got := minuteSparkline([]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 60); got != strings.Repeat(" ", 50)+strings.Repeat("█", 10) {
		t.Errorf("short history not right-aligned: %q", got)
	}
}

// TestColumnPriorities: at 80 columns every function name of up to 30
// cells is whole with its offset, longer ones lose their middle and never
// their offset, interface labels that share a prefix stay apart, and at 60
// columns the L4 protocol is still there to read.
func TestColumnPriorities(t *testing.T) {
	snap := fixtureSnapshot()
	extra := []drops.Site{
		{Function: "ip_rcv_finish_core", Offset: "0x25b", Reason: "NOT_SPECIFIED", Interface: "nu-vb", Namespace: "nu-b", L3: "IPv4", L4: "UDP"},
		{Function: "__udp4_lib_rcv", Offset: "0x4bc", Reason: "NO_SOCKET", Interface: "nu-vb", Namespace: "nu-d", L3: "IPv4", L4: "UDP"},
		{Function: "abcdefghijklmnopqrstuvwxyz0123", Offset: "0x1234", Reason: "UNHANDLED_PROTO", Interface: "nu-vb", Namespace: "nu-b", L3: "IPv6", L4: "ICMPv6"},
		{Function: "tcp_v4_syn_recv_sock_with_a_very_long_name", Offset: "0x77", Reason: "TCP_OLD_SEQUENCE", Interface: "nu-vb", Namespace: "nu-d", L3: "IPv4", L4: "TCP"},
	}
	for i := range extra {
		extra[i].Count, extra[i].Rate = uint64(100*(i+1)), float64(1000*(i+1))
		extra[i].Key = drops.Key{Location: uint64(i + 1)}
	}
	snap.Sites = append(snap.Sites, extra...)
	snap.Recount()
	hs := newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	v := hs.view()
	for _, want := range []string{"ip_rcv_finish_core+0x25b", "__udp4_lib_rcv+0x4bc", "abcdefghijklmnopqrstuvwxyz0123+0x1234", "tcp_v4_syn_recv_sock_w…long_name+0x77 "} {
		if !strings.Contains(v, want) {
			t.Errorf("80x24 lacks %q whole:\n%s", want, v)
		}
	}
	var ifaces []string
	for _, l := range stripLines(v)[4:8] {
		ifaces = append(ifaces, cells(l)[2])
	}
	if ifaces[0] == ifaces[1] {
		t.Errorf("nu-vb@nu-b and nu-vb@nu-d read the same: %q\n%s", ifaces, v)
	}
	hs.send(sizeMsg(60, 15))
	v = hs.view()
	for _, l := range stripLines(v)[4:8] {
		if c := cells(l); len(c) < 5 || !slices.Contains([]string{"UDP", "TCP", "ICMPv6"}, c[3]) {
			t.Errorf("at 60 columns the L4 protocol should stay readable: %q\n%s", c, v)
		}
	}
}

// cells splits a table line at runs of spaces.
func cells(line string) []string { return strings.Fields(line) }

// TestFootnotesGiveWay: at 120x40 the interfaces pane shows its rows; the
// note under them goes when they need its room.
func TestFootnotesGiveWay(t *testing.T) {
	snap := fixtureSnapshot()
	for i := range 15 {
		c := drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: uint64(i + 1)})
		snap.Interfaces = append(snap.Interfaces, drops.Interface{Name: fmt.Sprintf("cni%02d", i), Ifindex: uint32(100 + i), Delta: &c, Counters: &c})
	}
	hs := newHarness(t, &fakeSource{snap: snap}, 120, 40, Options{})
	hs.tick()
	v := hs.view()
	for i := range 15 {
		if name := fmt.Sprintf("cni%02d", i); !strings.Contains(v, name) {
			t.Errorf("the interfaces pane lacks row %s:\n%s", name, v)
		}
	}
	if strings.Contains(v, drops.CountersNote) {
		t.Errorf("the note took room the rows needed:\n%s", v)
	}
}

// TestDistinctLabels: labels that would read the same once cut are cut
// where they differ instead.
func TestDistinctLabels(t *testing.T) {
	got := labelTexts([]string{"nu-vb@nu-b", "nu-vb@nu-d", "lo", "nu-vb@nu-b"}, 8)
	if got["nu-vb@nu-b"] == got["nu-vb@nu-d"] || got["lo"] != "lo" || ansiWidth(got["nu-vb@nu-b"]) > 8 {
		t.Errorf("labelTexts = %q: want two different texts of at most 8 cells", got)
	}
	if got := labelTexts([]string{"veth0@web", "eth0"}, 8); got["veth0@web"] != "veth0@w…" {
		t.Errorf("a label that collides with nothing is cut at its end: %q", got)
	}
	syms := symbolTexts([]string{"very_long_function_name_alpha_one+0x10", "very_long_function_name_alpha_two+0x10"}, 24)
	a, b := syms["very_long_function_name_alpha_one+0x10"], syms["very_long_function_name_alpha_two+0x10"]
	if a == b || !strings.HasSuffix(a, "+0x10") || ansiWidth(a) > 24 {
		t.Errorf("symbolTexts = %q, %q: want different texts ending in the offset", a, b)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtRate(0), "0"}, {fmtRate(0.44), "0.4"}, {fmtRate(12.5), "12"}, {fmtRate(850), "850"}, {fmtRate(1234), "1.2k"}, {fmtRate(3.4e6), "3.4M"},
		{fmtCount(950), "950"}, {fmtCount(9999), "9999"}, {fmtCount(45210), "45.2k"}, {fmtCount(123456789), "123M"},
		{fmtThousands(0), "0"}, {fmtThousands(45210), "45,210"}, {fmtThousands(1234567), "1,234,567"},
		{fmtShare(1, 300), "<1%"}, {fmtShare(0, 10), "0%"}, {fmtShare(5, 0), "-"}, {fmtShare(10, 10), "100%"},
		{fmtDuration(42 * time.Second), "42s"}, {fmtDuration(312 * time.Second), "5m12s"}, {fmtDuration(2*time.Hour + 3*time.Minute), "2h03m"},
		{truncSymbol("__netif_receive_skb_core.constprop.0+0x8a1", 20, 4), "__netif_r…op.0+0x8a1"},
		{truncSymbol("__netif_receive_skb_core.constprop.0+0x8a1", 36, 9), "__netif_receive_skb_…nstprop.0+0x8a1"},
		{truncSymbol("nf_hook_slow+0x9c", 20, 4), "nf_hook_slow+0x9c"},
		{truncSymbol("0xffffffffc0a01234", 10, 4), "0xfffffff…"},
		{truncSymbol("nft_do_chain+0x3e8 [nf_tables]", 24, 4), "nft_do_chain+0x3e8"},
		{elide("nu-vb@nu-b", 8, 0), "nu-vb@n…"}, {elide("nu-vb@nu-b", 8, 2), "nu-vb…-b"},
		{elidePort("10.0.0.53:53", 20), "10.0.0.53:53"}, {elidePort("[2001:db8::1234:5678]:443", 14), "[2001:db…]:443"},
		{hostPort("2001:db8::1", 443), "[2001:db8::1]:443"}, {hostPort("10.0.0.1", 0), "10.0.0.1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestHeaderKeys: the header says how full the kernel map is, and warns
// when it is full.
func TestHeaderKeys(t *testing.T) {
	for _, tc := range []struct {
		keys, max uint32
		want      string
	}{{1234, 16384, "keys 1,234/16,384"}, {64, 64, "keys 64/64"}} {
		snap := fixtureSnapshot()
		snap.Totals.Keys, snap.Totals.MaxKeys = tc.keys, tc.max
		hs := newHarness(t, &fakeSource{snap: snap}, 120, 40, Options{})
		hs.tick()
		if v := hs.view(); !strings.Contains(v, tc.want) {
			t.Errorf("header without %q:\n%s", tc.want, v)
		}
	}
}

// TestNoReasonsKernel: on a kernel without drop reasons the header says so
// in a line, and the sites show their reason as unknown.
func TestNoReasonsKernel(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Capabilities = &drops.Capabilities{DropReasons: false, Notes: []string{drops.NoReasonsNote}}
	for i := range snap.Sites {
		snap.Sites[i].Reason, snap.Sites[i].ReasonCode = "", drops.NoReason
	}
	hs := newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	lines := stripLines(hs.view())
	if got := strings.TrimSpace(lines[2]); got != drops.NoReasonsNote {
		t.Errorf("third header line %q, want %q:\n%s", got, drops.NoReasonsNote, strings.Join(lines, "\n"))
	}
	var rows int
	for _, l := range lines {
		if strings.HasPrefix(l, "__udp4_lib_rcv+0x3f2") {
			rows++
			if f := strings.Fields(l); len(f) < 2 || f[1] != "unknown" {
				t.Errorf("row %q: want the reason unknown", l)
			}
		}
	}
	if rows == 0 {
		t.Errorf("no __udp4_lib_rcv row:\n%s", strings.Join(lines, "\n"))
	}
}

// TestSameSnapshot: refreshes that bring the snapshot already on screen
// (same Version) move the clock, and a filter, order or hide still changes
// the rows at once; a new Version replaces them.
func TestSameSnapshot(t *testing.T) {
	all := []string{"__udp4_lib_rcv", "udp_queue_rcv", "nf_hook_slow", "__netif_recei", "ip_rcv_finish", "__neigh_event"}
	snap := fixtureSnapshot()
	snap.Version = 7
	hs := newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "in 5m12s") {
		t.Fatalf("header lacks the window:\n%s", v)
	}
	snap.WindowS += 60
	hs.src.snap = snap
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "in 6m12s") {
		t.Errorf("a refresh of the same snapshot should move the window to 6m12s:\n%s", v)
	}
	hs.press("/")
	hs.typeText("UDP")
	hs.press("enter")
	hs.tick()
	if got := strings.Join(siteRows(rowsOnly(hs.view()), all...), " "); got != "__udp4_lib_rcv udp_queue_rcv" {
		t.Errorf("filtered rows of the same snapshot: %s", got)
	}
	hs.press("/", "esc", "o")
	hs.tick()
	if got := strings.Join(siteRows(rowsOnly(hs.view()), all...), " "); got != "__udp4_lib_rcv nf_hook_slow ip_rcv_finish udp_queue_rcv __neigh_event __netif_recei" {
		t.Errorf("rows by total of the same snapshot: %s", got)
	}
	hs.press("x")
	hs.tick()
	if got := strings.Join(siteRows(rowsOnly(hs.view()), all...), " "); got != "nf_hook_slow ip_rcv_finish udp_queue_rcv __neigh_event __netif_recei" {
		t.Errorf("rows after hiding the top one: %s", got)
	}
	snap.Sites = snap.Sites[1:2]
	snap.Version = 8
	hs.src.snap = snap
	hs.tick()
	if got := strings.Join(siteRows(rowsOnly(hs.view()), all...), " "); got != "nf_hook_slow" {
		t.Errorf("a new version should replace the rows: %s", got)
	}
}

// rowsOnly is a frame without its status line, which may name a site.
func rowsOnly(view string) string {
	lines := strings.Split(view, "\n")
	return strings.Join(lines[:len(lines)-1], "\n")
}

// TestPlainCuts: ASCII labels are cut by byte, exactly as the ansi
// package cuts them by cell.
func TestPlainCuts(t *testing.T) {
	for _, s := range []string{"veth1234567@web-frontend-7", "a", "__netif_receive_skb_core.constprop.0", ""} {
		for w := 0; w <= len(s)+1; w++ {
			want := ""
			if w > 0 {
				want = s
				if len(s) > w {
					want = ansi.Truncate(s, w, ellipsis)
				}
			}
			if got := truncate(s, w); got != want {
				t.Errorf("truncate(%q, %d) = %q, want %q", s, w, got, want)
			}
			for tail := 0; tail < w; tail++ {
				want := s
				switch {
				case len(s) <= w:
				case w <= 1:
					want = ansi.Truncate(s, w, ellipsis)
				default:
					want = ansi.Truncate(s, w-1-tail, "") + ellipsis + ansi.TruncateLeft(s, len(s)-tail, "")
				}
				if got := elide(s, w, tail); got != want {
					t.Errorf("elide(%q, %d, %d) = %q, want %q", s, w, tail, got, want)
				}
			}
		}
	}
}

// TestSparklinesMove: a snapshot with the rows already on screen (same
// Rows) but new histories moves the sparklines, and nothing else.
func TestSparklinesMove(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Version, snap.Rows = 3, 3
	src := &fakeSource{snap: snap}
	hs := newHarness(t, src, 120, 30, Options{})
	hs.tick()
	before := hs.view()
	row := func(view string) string {
		for line := range strings.Lines(view) {
			if strings.Contains(line, "__udp4_lib_rcv") {
				return line
			}
		}
		t.Fatalf("no __udp4_lib_rcv row:\n%s", view)
		return ""
	}
	moved := slices.Clone(snap.Sites)
	for i := range moved {
		if moved[i].Function == "__udp4_lib_rcv" {
			moved[i].History = make([]float64, drops.HistoryLen)
			moved[i].History[drops.HistoryLen-1] = 400
		}
	}
	snap.Sites, snap.Version = moved, 4
	src.snap = snap
	hs.tick()
	after := hs.view()
	if row(after) == row(before) {
		t.Errorf("the sparkline did not move:\n%s", row(after))
	}
	if !strings.HasSuffix(strings.TrimRight(row(after), " \n"), "█") {
		t.Errorf("the new history ends in a burst, the row does not:\n%s", row(after))
	}
	rest := func(view string) string { return strings.Replace(view, row(view), "", 1) }
	if rest(after) != rest(before) {
		t.Errorf("more than the sparkline changed:\n%s\nwas\n%s", after, before)
	}
}

// TestLayoutFollowsLabels: the columns are laid out again when the rows'
// labels change at the same width (a longer function name, a longer
// interface name), and kept when only the counts change; a snapshot of the
// same Names as the last keeps the drop sites' layout without checking
// their labels again.
func TestLayoutFollowsLabels(t *testing.T) {
	site := func(fn, iface string, count uint64) drops.Site {
		return drops.Site{Function: fn, Offset: "0x1b4", Reason: "NO_SOCKET", Interface: iface, Ifindex: 2,
			L3: "IPv4", L4: "UDP", Count: count, Rate: 1, Key: drops.Key{Location: 7, Ifindex: 2}}
	}
	iface := func(name string) drops.Interface {
		c := drops.LinkCountersOf(map[drops.LinkField]uint64{drops.RxDropped: 3, drops.RxNoHandler: 0})
		return drops.Interface{Name: name, Ifindex: 2, Counters: &c, Delta: &c}
	}
	snapOf := func(version, names uint64, s drops.Site, i drops.Interface) drops.Snapshot {
		snap := fixtureSnapshot()
		snap.Sites, snap.Interfaces = []drops.Site{s}, []drops.Interface{i}
		snap.Version, snap.Rows, snap.Names = version, version, names
		snap.Recount()
		return snap
	}
	hs := newHarness(t, &fakeSource{snap: snapOf(1, 1, site("f", "e0", 3), iface("e0"))}, 120, 40, Options{})
	hs.tick()
	before, checks := hs.m.sites.tx.cols[colSym].w, hs.m.sites.fit.last.check
	hs.src.snap = snapOf(2, 1, site("f", "e0", 5), iface("e0"))
	hs.tick()
	if got := hs.m.sites.tx.cols[colSym].w; got != before {
		t.Errorf("counts changed: drop site column %d cells wide, was %d", got, before)
	}
	if got := hs.m.sites.fit.last.check; got != checks {
		t.Errorf("the same Names: the drop sites' labels were checked again (%d checks, was %d)", got, checks)
	}
	const longFn, longIface = "a_much_longer_function_name", "veth_long_name"
	hs.src.snap = snapOf(3, 3, site(longFn, longIface, 5), iface(longIface))
	hs.tick()
	view := hs.view()
	for _, want := range []string{longFn + "+0x1b4", longIface} {
		if !strings.Contains(view, want) {
			t.Errorf("the view does not show %q whole:\n%s", want, view)
		}
	}
	if got := hs.m.ifaces.cols[ifName].w; got < len(longIface) {
		t.Errorf("interface column %d cells wide, want at least %d", got, len(longIface))
	}
}

// TestSameNamesOtherView: snapshots under the same Names keep the drop
// sites' layout only while the user looks at them the same way: a filter
// lays the columns out for the rows it keeps, and grouped rows, which name
// their busiest member, are laid out each refresh.
func TestSameNamesOtherView(t *testing.T) {
	snap := containerSnapshot()
	snap.Version, snap.Rows, snap.Names = 1, 1, 1
	src := &fakeSource{snap: snap}
	hs := newHarness(t, src, 120, 40, Options{})
	hs.tick()
	hs.press("v")
	if v := hs.view(); !strings.Contains(v, "5 ifaces (eth0@web)") {
		t.Fatalf("per site, ip6_mc_input should be one row over 5 interfaces, eth0@web the busiest:\n%s", v)
	}
	// The same rows under the same names; eth0@db is now the busiest.
	snap.Sites = slices.Clone(snap.Sites)
	for i, s := range snap.Sites {
		if s.Function == "ip6_mc_input" && s.Namespace == "db" {
			snap.Sites[i].Count, snap.Sites[i].Rate = 5000, 50
		}
	}
	snap.Recount()
	snap.Version, snap.Rows = 2, 2
	src.snap = snap
	hs.tick()
	if v := hs.view(); !strings.Contains(v, "5 ifaces (eth0@db)") {
		t.Errorf("eth0@db should be named the busiest of ip6_mc_input's interfaces:\n%s", v)
	}

	hs.press("v", "v")
	hs.press("/")
	hs.typeText("ip6")
	hs.press("enter")
	hs.tick()
	fresh := newHarness(t, &fakeSource{snap: snap}, 120, 40, Options{Filter: drops.Filter{Symbol: "ip6"}})
	fresh.tick()
	if got, want := hs.m.sites.tx.cols[colSym].w, fresh.m.sites.tx.cols[colSym].w; got != want {
		t.Errorf("filtered to ip6_mc_input, the drop site column is %d cells wide, want %d as for a view that started filtered", got, want)
	}
}
