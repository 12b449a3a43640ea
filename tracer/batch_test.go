package tracer

import (
	"context"
	"testing"

	"github.com/skbtop/skbtop/internal/netlab"
)

// TestReadManyKeys fills a small map past capacity with frames of distinct
// ethertypes: Read must retire every key through several batch reads and
// batch deletes (or, as on kernels without batch operations, key by key),
// the drops that found the map full must be counted as overflow, so that
// the total stays exact, and the next Read must find both maps empty.
func TestReadManyKeys(t *testing.T) {
	for _, batch := range []bool{true, false} {
		t.Run(map[bool]string{true: "batch", false: "key by key"}[batch], func(t *testing.T) {
			testReadManyKeys(t, batch)
		})
	}
}

func testReadManyKeys(t *testing.T, batch bool) {
	const maxKeys = 2 * batchKeys
	g := newGenerator(t, 1)
	tr := openTracer(t, Config{Netns: g.Receiver.Inode, MaxKeys: maxKeys})
	tr.noBatch, tr.noBatchDelete = !batch, !batch
	types, err := netlab.UnhandledEthertypes()
	if err != nil {
		t.Fatal(err)
	}
	types = types[:maxKeys+500]
	before, err := g.Drops()
	if err != nil {
		t.Fatal(err)
	}
	const passes = 2
	if _, err := g.Run(context.Background(), netlab.GenConfig{Kind: netlab.Frames, Ethertypes: types, Count: uint64(passes * len(types))}); err != nil {
		t.Fatal(err)
	}
	after, err := g.Drops()
	if err != nil {
		t.Fatal(err)
	}
	truth := after.Sub(before).Total()
	if truth != passes*uint64(len(types)) {
		t.Fatalf("the receiver counted %d drops, want %d", truth, passes*len(types))
	}
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Retired) != maxKeys || len(r.Counts) != 0 {
		t.Errorf("retired %d keys and read %d live ones, want a full map of %d retired and none live", len(r.Retired), len(r.Counts), maxKeys)
	}
	if r.Health.Keys != maxKeys || r.Health.MaxKeys != maxKeys {
		t.Errorf("health says %d keys of %d, want %d of %d", r.Health.Keys, r.Health.MaxKeys, maxKeys, maxKeys)
	}
	seen := map[uint16]bool{}
	var total uint64
	for _, c := range r.Retired {
		if seen[c.L3] {
			t.Errorf("ethertype %#04x read twice", c.L3)
		}
		seen[c.L3] = true
		total += c.Packets
	}
	if total+r.Health.OverflowPackets != truth {
		t.Errorf("keys %d + overflow %d = %d drops, want %d", total, r.Health.OverflowPackets, total+r.Health.OverflowPackets, truth)
	}
	if r.Health.OverflowPackets == 0 {
		t.Error("no overflow counted with more ethertypes than map entries")
	}
	r, err = tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Retired) != 0 || len(r.Counts) != 0 || r.Health.Keys != 0 {
		t.Errorf("after the drops stopped, a read retired %d keys and found %d (health: %d), want none", len(r.Retired), len(r.Counts), r.Health.Keys)
	}
}
