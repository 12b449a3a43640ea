package drops_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/symbols"
)

// TestResolveStacks names stacks with the kallsyms fixture: the leading
// frames no symbol covers (the program) are left out, stacks that then read
// the same are merged, and each key's stacks come most frequent first.
func TestResolveStacks(t *testing.T) {
	k, err := symbols.OpenKallsyms(filepath.Join("..", "symbols", "testdata", "kallsyms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r := symbols.Resolver{Kallsyms: k}
	const (
		drop = 0xffffffff81e425c0 + 0x90 // sk_skb_reason_drop+0x90
		tcp  = 0xffffffff820331c0 + 0x100
		nft  = 0xffffffffc0a01000 + 0x1c4
		core = 0xffffffff81e64660 + 0x10
	)
	a := drops.Key{Location: tcp, Reason: 2, Ifindex: 3}
	b := drops.Key{Location: nft, Reason: 6, Ifindex: 3}
	byKey := drops.ResolveStacks([]drops.RawStack{
		{Key: a, Frames: []uint64{0x1000, drop, tcp, nft}, Count: 3},
		// The same stack recorded from another program address.
		{Key: a, Frames: []uint64{0x2000, drop, tcp, nft}, Count: 2},
		{Key: a, Frames: []uint64{drop, core}, Count: 7},
		{Key: b, Frames: []uint64{nft, 0x3000}, Count: 1},
	}, r)
	want := map[drops.Key][]drops.KernelStack{
		a: {
			{Count: 7, Frames: []string{"sk_skb_reason_drop+0x90", "__netif_receive_skb_core.constprop.0+0x10"}},
			{Count: 5, Frames: []string{"sk_skb_reason_drop+0x90", "tcp_v4_rcv+0x100", "nft_do_chain+0x1c4 [nf_tables]"}},
		},
		// An unnamed frame after a named one stays, as its address.
		b: {{Count: 1, Frames: []string{"nft_do_chain+0x1c4 [nf_tables]", "0x3000"}}},
	}
	if len(byKey) != len(want) {
		t.Fatalf("stacks of %d keys, want %d: %v", len(byKey), len(want), byKey)
	}
	for key, w := range want {
		if got := byKey[key]; !slices.EqualFunc(got, w, func(x, y drops.KernelStack) bool {
			return x.Count == y.Count && slices.Equal(x.Frames, y.Frames)
		}) {
			t.Errorf("key %+v: %v, want %v", key, got, w)
		}
	}

	// A report attaches each key's stacks to its site, and a grouped row
	// takes them all.
	rep := drops.StackReport{Stacks: byKey, Trace: drops.StackTrace{Request: "tcp_v4_rcv", Recorded: 13}}
	snap := drops.Snapshot{Sites: []drops.Site{{Function: "tcp_v4_rcv", Key: a}, {Function: drops.OverflowFunction}}}
	with := snap.WithStacks(rep)
	if len(with.Sites[0].Stacks) != 2 || with.Sites[1].Stacks != nil || with.StackTrace == nil || with.StackTrace.Recorded != 13 {
		t.Errorf("WithStacks: %+v", with)
	}
	if snap.Sites[0].Stacks != nil {
		t.Error("WithStacks changed the snapshot's own sites")
	}
	all := rep.All()
	if len(all) != 3 || all[0].Count != 7 || all[1].Count != 5 || all[2].Count != 1 {
		t.Errorf("All: %v", all)
	}
}

// TestSiteStacks is the request of a row: its location and reason, its
// interface unless the row is grouped over several; none for a row of no
// single location.
func TestSiteStacks(t *testing.T) {
	full := drops.Site{Function: "f", Key: drops.Key{Location: 0x10, Reason: 2, Ifindex: 3, Netns: 4, NetnsCookie: 5}}
	if req, ok := drops.SiteStacks(full); !ok || req != (drops.StackRequest{Lo: 0x10, Hi: 0x11, MatchReason: true, Reason: 2,
		MatchIface: true, Ifindex: 3, Netns: 4, NetnsCookie: 5}) {
		t.Errorf("full row: %+v, %v", req, ok)
	}
	grouped := drops.Site{Function: "f", Ifaces: 2, Key: drops.Key{Location: 0x10, Reason: 2}}
	if req, ok := drops.SiteStacks(grouped); !ok || req != (drops.StackRequest{Lo: 0x10, Hi: 0x11, MatchReason: true, Reason: 2}) {
		t.Errorf("grouped row: %+v, %v", req, ok)
	}
	for _, s := range []drops.Site{{Key: drops.Key{Reason: 2}}, {Function: drops.OverflowFunction}} {
		if _, ok := drops.SiteStacks(s); ok {
			t.Errorf("a request for %+v", s)
		}
	}
}
