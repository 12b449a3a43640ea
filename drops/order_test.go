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
// come back, interfaces renamed and namespaces named late, and the map
// filling and emptying. It also holds Names to the rows' labels: the same
// exactly when the snapshot lists the same rows under the same labels.
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
	var overflowed uint64
	var last Snapshot
	var lastLabels []string
	renames := 0
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
		case step%20 == 9:
			// The map full for a while: its row comes, and goes again
			// at the next Reset.
			overflowed++
		}
		r.Health.OverflowPackets = overflowed
		a.Update(r)
		if step%10 == 7 {
			// A new window: the rows leave until they drop again.
			a.Reset()
		}
		snap := a.Snapshot()
		labels := make([]string, len(snap.Sites))
		for i, s := range snap.Sites {
			labels[i] = fmt.Sprintf("%+v/%d %s %s %s %s", s.Key, s.Lifetime, s.Symbol(), s.ReasonLabel(), s.InterfaceLabel(), s.Proto())
		}
		slices.Sort(labels)
		if step > 0 {
			if same := slices.Equal(labels, lastLabels); same != (snap.Names == last.Names) {
				t.Fatalf("step %d: Names %d after %d, though the labels are the same: %v", step, snap.Names, last.Names, same)
			}
		}
		if snap.Names == 0 {
			t.Fatalf("step %d: Names is 0", step)
		}
		if snap.Names != last.Names {
			renames++
		}
		last, lastLabels = snap, labels
		want := slices.Clone(snap.Sites)
		SortSites(want, ByRate)
		for i := range want {
			if got := snap.Sites[i]; got.Key != want[i].Key || got.Lifetime != want[i].Lifetime {
				t.Fatalf("step %d: row %d is %s on %s, SortSites puts %s on %s there",
					step, i, got.Symbol(), got.InterfaceLabel(), want[i].Symbol(), want[i].InterfaceLabel())
			}
		}
	}
	// Counts moved every step; the rows or their names, in some (133).
	if renames < 10 || renames > 190 {
		t.Errorf("Names changed in %d of 200 steps: the test no longer has both kinds of step", renames)
	}
}

// TestNamesSwap: a snapshot that lists one row where the last listed
// another, as many rows in all, has other Names, though both rows were
// listed before under the same names.
func TestNamesSwap(t *testing.T) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1}})
	x := Key{Location: 0xffffffff810004bc, Reason: 3, Ifindex: 2, Netns: 1}
	y := Key{Location: 0xffffffff810004c0, Reason: 3, Ifindex: 2, Netns: 1}
	var snaps []Snapshot
	for sec, counts := range [][2]uint64{{0, 0}, {1, 1}, {2, 1}, {2, 2}} {
		a.Update(Reading{Time: start.Add(time.Duration(sec) * time.Second),
			Counts: []Count{{Key: x, Packets: counts[0]}, {Key: y, Packets: counts[1]}}})
		if sec > 0 {
			snaps = append(snaps, a.Snapshot())
			// A new window from this reading on.
			a.Reset()
		}
	}
	var keys [][]Key
	for _, s := range snaps {
		var k []Key
		for _, site := range s.Sites {
			k = append(k, site.Key)
		}
		keys = append(keys, k)
	}
	if !slices.Equal(keys[1], []Key{x}) || !slices.Equal(keys[2], []Key{y}) {
		t.Fatalf("rows %v, want both, then x, then y", keys)
	}
	if snaps[1].Names == snaps[2].Names {
		t.Errorf("Names %d for x's row and for y's", snaps[1].Names)
	}
}
