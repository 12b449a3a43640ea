package tracer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// accountant adds up a tracer's readings the way an aggregator must: a
// key's drops are the growth of its live count from reading to reading,
// plus, in the reading that retires it, its final count less the last live
// count seen (all of it if it was never seen live). It checks the
// invariants Read promises on the way.
type accountant struct {
	// live is the last live count of each key not retired since.
	live map[drops.Key]uint64
	// packets is every drop accounted to a key; overflow is the latest
	// overflow counter.
	packets, overflow uint64
	reads             int
}

func newAccountant() *accountant { return &accountant{live: map[drops.Key]uint64{}} }

// add accounts for one reading, or says which promise it breaks.
func (a *accountant) add(r drops.Reading, maxKeys uint32) error {
	a.reads++
	seen := map[drops.Key]bool{}
	for _, c := range r.Retired {
		if seen[c.Key] {
			return fmt.Errorf("read %d: key %+v retired twice", a.reads, c.Key)
		}
		seen[c.Key] = true
		last := a.live[c.Key]
		if c.Packets < last || c.Packets == 0 {
			return fmt.Errorf("read %d: key %+v retired at %d packets, last seen live at %d", a.reads, c.Key, c.Packets, last)
		}
		a.packets += c.Packets - last
		delete(a.live, c.Key)
	}
	// Each read retires the map whose keys the previous one read live.
	for k, v := range a.live {
		return fmt.Errorf("read %d: key %+v, live at %d packets in the read before, neither retired nor counting from zero again", a.reads, k, v)
	}
	clear(seen)
	for _, c := range r.Counts {
		if seen[c.Key] {
			return fmt.Errorf("read %d: key %+v read live twice", a.reads, c.Key)
		}
		seen[c.Key] = true
		a.packets += c.Packets
		a.live[c.Key] = c.Packets
	}
	if r.Health.OverflowPackets < a.overflow {
		return fmt.Errorf("read %d: overflow went back from %d to %d", a.reads, a.overflow, r.Health.OverflowPackets)
	}
	a.overflow = r.Health.OverflowPackets
	if r.Health.MaxKeys != maxKeys || r.Health.Keys > maxKeys ||
		r.Health.Keys != uint32(max(len(r.Retired), len(r.Counts))) {
		return fmt.Errorf("read %d: health says %d keys of %d with %d retired and %d live, want the larger of those, at most %d",
			a.reads, r.Health.Keys, r.Health.MaxKeys, len(r.Retired), len(r.Counts), maxKeys)
	}
	return nil
}

// total is every drop accounted for: in keys, or as overflow.
func (a *accountant) total() uint64 { return a.packets + a.overflow }

func newGenerator(t *testing.T, pairs int) *netlab.Generator {
	t.Helper()
	kerneltest.NeedRoot(t)
	g, err := netlab.NewGenerator(pairs)
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("remove test namespaces: %v", err)
		}
	})
	return g
}

// TestEvictionExactAtFloodRate floods a 64-key tracer with frames of a
// thousand distinct keys while reading it as fast as it can: every read
// retires every key while the program keeps counting, and the drops
// accounted over all readings (keys and overflow) must equal the
// receiver's own count exactly.
func TestEvictionExactAtFloodRate(t *testing.T) {
	const (
		maxKeys = 64
		frames  = 600_000
	)
	g := newGenerator(t, 2)
	tr := openTracer(t, Config{Netns: g.Receiver.Inode, MaxKeys: maxKeys})
	types, err := netlab.UnhandledEthertypes()
	if err != nil {
		t.Fatal(err)
	}
	types = types[:500] // over two veth pairs: 1000 keys

	// The receiver namespace is quiet until the load starts: the baseline
	// reading and the ground truth's are of the same moment.
	acct := newAccountant()
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if err := acct.add(r, maxKeys); err != nil {
		t.Fatal(err)
	}
	base := acct.total()
	before, err := g.Drops()
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := g.Run(context.Background(), netlab.GenConfig{Kind: netlab.Frames, Ethertypes: types, Count: frames})
		done <- err
	}()
	var (
		during, retiredKeys int
		genErr              error
	)
	for running := true; running; {
		select {
		case genErr = <-done:
			running = false
		default:
		}
		r, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		if err := acct.add(r, maxKeys); err != nil {
			t.Fatal(err)
		}
		during++
		retiredKeys += len(r.Retired)
	}
	if genErr != nil {
		t.Fatal(genErr)
	}
	after, err := g.Drops()
	if err != nil {
		t.Fatal(err)
	}
	truth := after.Sub(before).Total()
	if truth < frames {
		t.Fatalf("the receiver counted %d drops of %d frames sent", truth, frames)
	}
	// The receiver counts a frame just before the program sees it freed:
	// read until the program has caught up.
	for deadline := time.Now().Add(5 * time.Second); acct.total()-base < truth && time.Now().Before(deadline); {
		r, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		if err := acct.add(r, maxKeys); err != nil {
			t.Fatal(err)
		}
	}
	got := acct.total() - base
	t.Logf("%d reads during the load (waiting with membarrier: %v) retired %d keys; %d drops in keys, %d overflowed; receiver: %+v",
		during, !tr.noMembarrier, retiredKeys, acct.packets, acct.overflow, after.Sub(before))
	if got != truth {
		t.Errorf("accounted %d drops (%d in keys + %d overflow, less %d before the load), the receiver counted %d",
			got, acct.packets, acct.overflow, base, truth)
	}
	if during < 10 || retiredKeys <= maxKeys {
		t.Errorf("only %d reads retiring %d keys during the load: too few to test eviction", during, retiredKeys)
	}
	if acct.overflow == 0 {
		t.Error("no drop overflowed with 1000 keys cycling through a 64-key map")
	}
}

// TestNewSiteAfterChurn fills a 64-key tracer with 200 keys that then sit
// idle, as keys of a past incident do: once skbtop's refresh has read the
// tracer, the drops of a site new to it must get their own key, not land
// in the overflow. The tracer watches every namespace, as skbtop does by
// default.
func TestNewSiteAfterChurn(t *testing.T) {
	const (
		maxKeys = 64
		churn   = 200
		n       = 5
	)
	g := newGenerator(t, 1)
	tr := openTracer(t, Config{MaxKeys: maxKeys})
	types, err := netlab.UnhandledEthertypes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Run(context.Background(), netlab.GenConfig{Kind: netlab.Frames, Ethertypes: types[:churn], Count: churn}); err != nil {
		t.Fatal(err)
	}
	// The refresh while the keys sit idle.
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if r.Health.Keys != maxKeys || r.Health.OverflowPackets < churn-maxKeys {
		t.Fatalf("after %d keys, a read found %d keys of %d and %d overflowed drops, want a full map and at least %d",
			churn, r.Health.Keys, maxKeys, r.Health.OverflowPackets, churn-maxKeys)
	}

	// Other tests' drops land in this tracer too: should they fill the
	// map in the moment between two reads, the datagrams overflow
	// rightly, and the attempt says nothing. A map that is still full
	// of the churn fails every attempt.
	for attempt := 1; ; attempt++ {
		l := kerneltest.NewLink(t)
		if err := l.SendUDP(9, n, 64); err != nil {
			t.Fatal(err)
		}
		var (
			got  uint64
			full bool
		)
		for range 2 {
			r, err := tr.Read()
			if err != nil {
				t.Fatal(err)
			}
			full = full || r.Health.Keys == maxKeys
			for _, list := range [][]drops.Count{r.Retired, r.Counts} {
				for _, c := range list {
					if c.Netns == l.Receiver.Inode && c.L4 == unix.IPPROTO_UDP {
						got += c.Packets
					}
				}
			}
			if got == n {
				return
			}
		}
		if !full || attempt == 5 {
			t.Fatalf("attempt %d: two reads after %d datagrams to a closed port counted %d in their own key (map full: %v)", attempt, n, got, full)
		}
		t.Logf("attempt %d: counted %d, with the map full (of other tests' drops?); trying again", attempt, got)
	}
}
