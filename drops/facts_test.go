package drops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortSites: by rate, by total and by name, ties broken by symbol,
// reason, interface, namespace, L3, L4, netns and ifindex in turn, whatever
// order the sites came in.
func TestSortSites(t *testing.T) {
	site := func(id string, fn string, rate float64, count uint64, reason, iface, ns, l3 string, netns, ifindex uint32) Site {
		return Site{Function: fn, Offset: "0x10", Rate: rate, Count: count, Reason: reason, Interface: iface,
			Namespace: ns, L3: l3, Netns: netns, Ifindex: ifindex, Samples: []Packet{{Src: id}}}
	}
	sites := []Site{
		site("a", "ip_rcv", 5, 10, "X", "eth0", "", "IPv4", 1, 2),
		site("b", "ip_rcv", 5, 20, "X", "eth0", "", "IPv4", 1, 2),
		site("c", "ip_rcv", 0, 20, "X", "eth0", "", "IPv4", 1, 2),
		site("d", "ip_rcv", 0, 20, "Y", "eth0", "", "IPv4", 1, 2),
		site("e", "ip_rcv", 0, 20, "X", "eth1", "", "IPv4", 1, 2),
		site("f", "ip_rcv", 0, 20, "X", "eth0", "web", "IPv4", 1, 2),
		site("g", "ip_rcv", 0, 20, "X", "eth0", "", "IPv6", 1, 2),
		site("h", "ip_rcv", 0, 20, "X", "eth0", "", "IPv4", 2, 2),
		site("i", "ip_rcv", 0, 20, "X", "eth0", "", "IPv4", 1, 3),
		site("j", "ip_rcv_core", 0, 20, "X", "eth0", "", "IPv4", 1, 2),
		site("k", "ip", 0, 20, "X", "eth0", "", "IPv4", 1, 2),
		site("l", "zz", 9, 1, "X", "eth0", "", "IPv4", 1, 2),
		// ip_rcv+0x10 [br] after ip_rcv+0x10 and before ip_rcv+0x10x
		// (which the Offset makes up), and before ip_rcv_core: a site's
		// symbol is compared whole.
		withModule(site("m", "ip_rcv", 0, 20, "X", "eth0", "", "IPv4", 1, 2), "br"),
		withOffset(site("n", "ip_rcv", 0, 20, "X", "eth0", "", "IPv4", 1, 2), "0x10x"),
		// No function: the address is the symbol, before the netns.
		withAddress(site("o", "", 0, 20, "X", "eth0", "", "IPv4", 1, 2), "0xffffffff81000010"),
		withAddress(site("p", "", 0, 20, "X", "eth0", "", "IPv4", 2, 2), "0xffffffff81000001"),
	}
	for _, tc := range []struct {
		o    Order
		want string
	}{
		// "ip+0x10" < "ip_rcv+0x10" < "ip_rcv_core+0x10": '+' sorts before '_'.
		{ByRate, "l b a p o k c i h g f e d m n j"},
		{ByTotal, "b p o k c i h g f e d m n j a l"},
	} {
		for trial := range 20 {
			in := slices.Clone(sites)
			rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			SortSites(in, tc.o)
			var got []byte
			for i, s := range in {
				if i > 0 {
					got = append(got, ' ')
				}
				got = append(got, s.Samples[0].Src...)
			}
			if string(got) != tc.want {
				t.Fatalf("order %v, shuffle %d: %s, want %s", tc.o, trial, got, tc.want)
			}
		}
	}
}

func withModule(s Site, m string) Site { s.Module = m; return s }
func withOffset(s Site, o string) Site { s.Offset = o; return s }
func withAddress(s Site, a string) Site {
	s.Function, s.Address = "", a
	return s
}

// TestCompareJoined holds compareJoined to comparing the joined strings,
// over random lists of pieces (empty ones too) that share prefixes.
func TestCompareJoined(t *testing.T) {
	pieces := []string{"", "a", "ab", "b", "+", "_", " [", "]", "a+", "ba"}
	rnd := rand.New(rand.NewPCG(3, 4))
	list := func() []string {
		out := make([]string, rnd.IntN(5))
		for i := range out {
			out[i] = pieces[rnd.IntN(len(pieces))]
		}
		return out
	}
	for range 20000 {
		a, b := list(), list()
		want := strings.Compare(strings.Join(a, ""), strings.Join(b, ""))
		if got := compareJoined(a, b); got != want {
			t.Fatalf("compareJoined(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}

// TestPermute checks the in-place permutation against a copy made the
// plain way, for every permutation of 5 elements and random ones of many.
func TestPermute(t *testing.T) {
	check := func(at []int) {
		t.Helper()
		s := make([]string, len(at))
		for i := range s {
			s[i] = fmt.Sprint("e", i)
		}
		want := make([]string, len(at))
		for k, i := range at {
			want[k] = s[i]
		}
		permute(s, slices.Clone(at))
		if !slices.Equal(s, want) {
			t.Fatalf("permute by %v: got %v, want %v", at, s, want)
		}
	}
	var all func(prefix, rest []int)
	all = func(prefix, rest []int) {
		if len(rest) == 0 {
			check(prefix)
			return
		}
		for i := range rest {
			r := append(slices.Clone(rest[:i]), rest[i+1:]...)
			all(append(slices.Clone(prefix), rest[i]), r)
		}
	}
	all(nil, []int{0, 1, 2, 3, 4})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		check(rng.Perm(1 + rng.IntN(3000)))
	}
}

// TestJoinScratchReused: the interface rows of snapshot after snapshot,
// worked out in the same working memory as the aggregator does, are those
// worked out afresh each time, as interfaces come and go and their sites
// move between them.
func TestJoinScratchReused(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w joinScratch
	for step := range 200 {
		var ifaces []Interface
		for i := range rng.IntN(12) {
			c := LinkCountersOf(map[LinkField]uint64{RxDropped: uint64(i)})
			d := LinkCountersOf(map[LinkField]uint64{RxDropped: uint64(rng.IntN(3))})
			ifaces = append(ifaces, Interface{Name: fmt.Sprintf("if%d", rng.IntN(6)), Netns: 1, NetnsCookie: 1,
				Ifindex: uint32(1 + rng.IntN(16)), Counters: &c, Delta: &d})
		}
		var sites []Site
		for range rng.IntN(24) {
			sites = append(sites, Site{Function: "f", Reason: "NOT_SPECIFIED", Interface: "eth0", Netns: uint32(1 + rng.IntN(2)),
				NetnsCookie: 1, Ifindex: uint32(rng.IntN(16)), Count: uint64(1 + rng.IntN(5)), Rate: float64(rng.IntN(3))})
		}
		fresh := traceInterfaces(slices.Clone(ifaces), sites, true, nil)
		reused := traceInterfaces(slices.Clone(ifaces), sites, true, &w)
		if len(fresh) != len(reused) {
			t.Fatalf("step %d: %d rows with the working memory reused, %d afresh", step, len(reused), len(fresh))
		}
		for i := range fresh {
			f, r := fresh[i], reused[i]
			if f.Name != r.Name || f.Netns != r.Netns || f.Ifindex != r.Ifindex || f.TracedDrops != r.TracedDrops ||
				f.TracedRate != r.TracedRate || f.Reconciliation.Traced != r.Reconciliation.Traced ||
				f.Reconciliation.Elsewhere != r.Reconciliation.Elsewhere || f.Reconciliation.Counted != r.Reconciliation.Counted {
				t.Fatalf("step %d, row %d: reused %+v\nafresh %+v", step, i, r, f)
			}
		}
	}
}

// TestInterfaceOrder: interfaces by traced drops, most first, quiet ones
// last, ties broken by name, netns, ifindex and cookie in turn, whatever
// order they came in.
func TestInterfaceOrder(t *testing.T) {
	ifc := func(name string, netns, ifindex uint32, cookie uint64) Interface {
		c := LinkCountersOf(map[LinkField]uint64{RxDropped: 0})
		return Interface{Name: name, Netns: netns, Ifindex: ifindex, NetnsCookie: cookie, Counters: &c}
	}
	counted := func(name string, netns, ifindex uint32) Interface {
		i := ifc(name, netns, ifindex, 1)
		d := LinkCountersOf(map[LinkField]uint64{RxDropped: 4})
		i.Delta = &d
		return i
	}
	var sites []Site
	drop := func(i Interface, n uint64) {
		sites = append(sites, Site{Function: "f", Interface: i.Name, Netns: i.Netns, Ifindex: i.Ifindex, NetnsCookie: i.NetnsCookie, Count: n})
	}
	want := []Interface{
		ifc("zz", 1, 9, 1),   // most drops
		ifc("a", 1, 3, 1),    // then by name
		ifc("b", 1, 2, 1),    //
		ifc("b", 2, 1, 1),    // then by netns
		ifc("b", 2, 4, 1),    // then by ifindex
		ifc("b", 2, 4, 2),    // then by cookie
		ifc("aa", 1, 5, 1),   // fewer drops
		counted("zq", 1, 7),  // none traced, but counted: before quiet ones
		ifc("a0", 1, 8, 3),   // quiet, last
		ifc("eth0", 1, 2, 3), //
	}
	drop(want[0], 9)
	for _, i := range want[1:6] {
		drop(i, 5)
	}
	drop(want[6], 1)
	var w joinScratch // reused, as the aggregator does
	for trial := range 20 {
		in := slices.Clone(want)
		rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		got := traceInterfaces(in, sites, true, &w)
		for i := range want {
			if got[i].Name != want[i].Name || got[i].Netns != want[i].Netns || got[i].Ifindex != want[i].Ifindex || got[i].NetnsCookie != want[i].NetnsCookie {
				t.Fatalf("shuffle %d: row %d is %s %d/%d/%d, want %s %d/%d/%d", trial, i,
					got[i].Name, got[i].Netns, got[i].Ifindex, got[i].NetnsCookie, want[i].Name, want[i].Netns, want[i].Ifindex, want[i].NetnsCookie)
			}
		}
	}
}
