package drops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseHide(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Hide
	}{
		{"ip6_mc_input", Hide{Function: "ip6_mc_input"}},
		{"ip6_mc_input:NOT_SPECIFIED", Hide{Function: "ip6_mc_input", Reason: "NOT_SPECIFIED"}},
		{"ip6_mc_input+0x15e:NOT_SPECIFIED", Hide{Function: "ip6_mc_input", Offset: "0x15e", Reason: "NOT_SPECIFIED"}},
		{"__netif_receive_skb_core.constprop.0+0x7e6", Hide{Function: "__netif_receive_skb_core.constprop.0", Offset: "0x7e6"}},
		{":IPV6DISABLED", Hide{Reason: "IPV6DISABLED"}},
		{"  nft_do_chain  ", Hide{Function: "nft_do_chain"}},
	} {
		got, err := ParseHide(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseHide(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := ParseHide(got.String()); err != nil || again != got {
			t.Errorf("%q does not read back: %+v, %v", got.String(), again, err)
		}
	}
	for _, bad := range []string{"", ":", "+0x15e", "ip6_mc_input+15e", "ip6_mc_input+0x", "ip6 mc:X"} {
		if h, err := ParseHide(bad); err == nil {
			t.Errorf("ParseHide(%q) = %+v, want an error", bad, h)
		}
	}
}

func TestHideMatch(t *testing.T) {
	mc := Site{Function: "ip6_mc_input", Offset: "0x15e", Reason: "NOT_SPECIFIED"}
	core := Site{Function: "__netif_receive_skb_core.constprop.0", Offset: "0x7e6", Reason: "UNHANDLED_PROTO"}
	for _, tc := range []struct {
		rule string
		site Site
		want bool
	}{
		{"ip6_mc_input", mc, true},
		{"ip6_mc_input:NOT_SPECIFIED", mc, true},
		{"ip6_mc_input:NO_SOCKET", mc, false},
		{"ip6_mc_input+0x15e", mc, true},
		{"ip6_mc_input+0x160", mc, false},
		{"ip6_mc", mc, false},
		{":NOT_SPECIFIED", mc, true},
		{"__netif_receive_skb_core", core, true},
		{"__netif_receive_skb_core.constprop.0+0x7e6:UNHANDLED_PROTO", core, true},
		{":NOT_SPECIFIED", Site{Function: OverflowFunction}, false},
	} {
		h, err := ParseHide(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Match(tc.site); got != tc.want {
			t.Errorf("%s matches %s %s: %v, want %v", tc.rule, tc.site.Symbol(), tc.site.Reason, got, tc.want)
		}
	}
}

// TestHiding hides a site: its rows are gone on every interface, the totals,
// protocols and interfaces are what they were, and the document says what
// was hidden.
func TestHiding(t *testing.T) {
	snap := Snapshot{Sites: groupSites()}
	snap.Recount()
	before := snap.Totals
	h, ok := HideRow(snap.Sites[0], GroupFull)
	if !ok || h.String() != "ip6_mc_input+0x15e:NOT_SPECIFIED" {
		t.Fatalf("HideRow = %v, %v", h, ok)
	}
	v := snap.Apply(View{Hide: []Hide{h}})
	for _, s := range v.Sites {
		if s.Function == "ip6_mc_input" && s.Reason == "NOT_SPECIFIED" {
			t.Errorf("a hidden row is still there: %+v", s)
		}
	}
	if len(v.Sites) != 3 || v.Totals != before || !slices.Equal(v.Protocols, snap.Protocols) || len(v.Interfaces) != len(snap.Interfaces) {
		t.Errorf("hiding: %d rows, totals %+v (want %+v); want 3 rows and the totals unchanged", len(v.Sites), v.Totals, before)
	}
	if hd := v.Hidden; hd == nil || hd.Sites != 3 || hd.Drops != 600 || hd.Rate != 15 || !slices.Equal(hd.Rules, []string{h.String()}) {
		t.Errorf("hidden %+v, want 3 rows, 600 drops, 15/s under %s", hd, h)
	}
	if len(snap.Sites) != 6 {
		t.Error("Hiding changed the snapshot it was called on")
	}
	// With a filter: the totals are the filter's, hidden drops in them.
	f := snap.Apply(View{Filter: Filter{Interface: "eth0@a"}, Hide: []Hide{h}})
	if f.Totals.Drops != 107 || len(f.Sites) != 1 || f.Hidden.Drops != 100 {
		t.Errorf("filtered to eth0@a and hidden: %d drops in %d rows, %d hidden; want 107, 1, 100", f.Totals.Drops, len(f.Sites), f.Hidden.Drops)
	}
	// Grouped by reason, a row hides its reason at every site.
	r, ok := HideRow(Group(snap.Sites, GroupReason)[0], GroupReason)
	if !ok || r.String() != ":NOT_SPECIFIED" {
		t.Errorf("HideRow by reason = %v, %v", r, ok)
	}
	if g := snap.Apply(View{Hide: []Hide{r}, Group: GroupReason}); len(g.Sites) != 2 || g.Hidden.Sites != 4 || g.Totals != before {
		t.Errorf("by reason, hiding NOT_SPECIFIED: %d rows, %+v hidden", len(g.Sites), g.Hidden)
	}
	if _, ok := HideRow(Site{Function: OverflowFunction}, GroupFull); ok {
		t.Error("the map-full row can be hidden")
	}
	if _, ok := HideRow(Site{Address: "0xffffffffc0001000"}, GroupSite); ok {
		t.Error("a site without a symbol can be hidden")
	}
	// No rules: nothing said.
	if n := snap.Apply(View{}); n.Hidden != nil {
		t.Errorf("no rules, hidden %+v", n.Hidden)
	}
}

func TestHidesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skbtop", "hides")
	if hides, err := LoadHides(path); err != nil || hides != nil {
		t.Fatalf("a missing file: %v, %v; want no rules", hides, err)
	}
	want := []Hide{{Function: "ip6_mc_input", Offset: "0x15e", Reason: "NOT_SPECIFIED"}, {Reason: "IPV6DISABLED"}}
	if err := SaveHides(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadHides(path)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("LoadHides = %v, %v; want %v", got, err, want)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory %v, %v; want 0700", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if _, err := ReadHides(strings.NewReader("# comment\n\nip6_mc_input\nbad rule here\n")); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("a bad line: %v, want an error naming line 4", err)
	}
}
