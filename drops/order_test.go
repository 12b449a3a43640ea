package drops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// namesLater names namespaces and functions from tables the test fills as
// it goes: a namespace found under a name only after its first drops, a
// function of a module loaded since kallsyms was read.
type namesLater struct {
	fixedResolver
	spaces map[uint32]string
	funcs  map[uint64]Location
}

func (r namesLater) Namespace(netns uint32, fresh bool) string { return r.spaces[netns] }

func (r namesLater) Locate(addr uint64) (Location, bool) {
	if loc, ok := r.funcs[addr]; ok {
		return loc, true
	}
	return r.fixedResolver.Locate(addr)
}

// TestSnapshotOrder holds the aggregator's order, which ranks rows by name
// only when one is new or renamed, to SortSites by rate: over refreshes
// with rates that tie and change places, rows that come, go (Reset) and
// come back, interfaces renamed and namespaces named late.
func TestSnapshotOrder(t *testing.T) {
	// Rows that have no names at all (addresses not in kallsyms, no
	// device, the home namespace) are ranked too.
	bare := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1}})
	for sec := range 2 {
		bare.Update(Reading{Time: start.Add(time.Duration(sec) * time.Second), Counts: []Count{
			{Key: Key{Location: 0xffffffff90000020, Netns: 1}, Packets: uint64(5 * sec)},
			{Key: Key{Location: 0xffffffff90000010, Netns: 1}, Packets: uint64(5 * sec)},
		}})
	}
	if s := bare.Snapshot().Sites; len(s) != 2 || s[0].Address != "0xffffffff90000010" {
		t.Fatalf("rows without names: %+v, want 0xffffffff90000010 first", s)
	}

	rnd := rand.New(rand.NewPCG(5, 6))
	spaces, funcs := map[uint32]string{}, map[uint64]Location{}
	a := NewAggregator(Config{Resolver: namesLater{res, spaces, funcs}, History: true, Home: NamespaceID{Inode: 1}})
	var keys []Key
	// The last location has no name until step 47; interfaces 5 have no
	// name until a step names them.
	for _, loc := range []uint64{0xffffffff810004bc, 0xffffffff810004c0, 0xffffffff820007e6, 0xffffffffc00013e8, 0xffffffff84000010} {
		for netns := uint32(1); netns <= 4; netns++ {
			for ifindex := uint32(2); ifindex <= 5; ifindex++ {
				keys = append(keys, Key{Location: loc, Reason: 3, Ifindex: ifindex, Netns: netns, L3: 0x0800, L4: 17})
			}
		}
	}
	names := []string{"eth0", "eth1", "veth0", "a0", "zz9", "lan"}
	counts := make([]uint64, len(keys))
	// Each kind of change comes in a step of its own, so that each must
	// rank the rows anew by itself.
	for step := range 200 {
		r := Reading{Time: start.Add(time.Duration(step) * time.Second)}
		for i, k := range keys {
			switch {
			case step%10 == 8:
				counts[i]++ // every row back after the Reset
			case rnd.IntN(3) > 0:
				counts[i] += uint64(rnd.IntN(3)) // many rows tie
			}
			r.Counts = append(r.Counts, Count{Key: k, Packets: counts[i], Bytes: counts[i] * 60})
		}
		switch {
		case step == 47:
			// A module's function named.
			funcs[0xffffffff84000010] = Location{Function: "aaa_loaded_late", Offset: 0x10, Address: 0xffffffff84000010}
		case step%10 == 1:
			// Interfaces renamed: the kernel program names them at
			// their next new keys.
			for range 2 {
				k := keys[rnd.IntN(len(keys))]
				r.Devices = append(r.Devices, Device{Netns: k.Netns, Ifindex: min(k.Ifindex, 4), Name: names[rnd.IntN(len(names))]})
			}
		case step%10 == 3:
			// An interface named for the first time.
			r.Devices = append(r.Devices, Device{Netns: uint32(1 + step/10%4), Ifindex: 5, Name: names[rnd.IntN(len(names))]})
		case step%10 == 5:
			// A namespace named.
			spaces[uint32(2+rnd.IntN(3))] = fmt.Sprintf("ns%c", 'a'+rnd.IntN(26))
		}
		a.Update(r)
		if step%10 == 7 {
			// A new window: the rows leave until they drop again.
			a.Reset()
		}
		snap := a.Snapshot()
		want := slices.Clone(snap.Sites)
		SortSites(want, ByRate)
		for i := range want {
			if got := snap.Sites[i]; got.Key != want[i].Key || got.Lifetime != want[i].Lifetime {
				t.Fatalf("step %d: row %d is %s on %s, SortSites puts %s on %s there",
					step, i, got.Symbol(), got.InterfaceLabel(), want[i].Symbol(), want[i].InterfaceLabel())
			}
		}
	}
}
