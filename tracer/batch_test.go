package tracer

import (
	"context"
	"testing"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// TestReadManyKeys fills a small map past capacity with frames of distinct
// ethertypes: Read must return every key through several batch reads, and
// the drops that found the map full must be counted as overflow, so that the
// total stays exact.
func TestReadManyKeys(t *testing.T) {
	kerneltest.NeedRoot(t)
	const maxKeys = 2 * batchKeys
	g, err := netlab.NewGenerator(1)
	if err != nil {
		t.Fatalf("create test namespaces: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("remove test namespaces: %v", err)
		}
	})
	tr := openTracer(t, Config{Netns: g.Receiver.Inode, MaxKeys: maxKeys})
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
	if len(r.Counts) != maxKeys {
		t.Errorf("read %d keys, want a full map of %d", len(r.Counts), maxKeys)
	}
	seen := map[uint16]bool{}
	var total uint64
	for _, c := range r.Counts {
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
}
