package drops

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCountsInRxDropped(t *testing.T) {
	for _, tc := range []struct {
		function, reason string
		want             bool
	}{
		{"__netif_receive_skb_core", "UNHANDLED_PROTO", true},
		{"__netif_receive_skb_core.constprop.0", "UNHANDLED_PROTO", true},
		{"__netif_receive_skb_core.constprop.0", "PFMEMALLOC", true},
		{"enqueue_to_backlog", "CPU_BACKLOG", true},
		{"enqueue_to_backlog", "DEV_READY", true},
		// Same reasons elsewhere do not touch the device counters.
		{"ip6_protocol_deliver_rcu", "UNHANDLED_PROTO", false},
		{"tcp_v4_rcv", "PFMEMALLOC", false},
		{"__dev_queue_xmit", "DEV_READY", false},
		{"__netif_receive_skb_core.constprop.0", "TC_INGRESS", false},
		{"__netif_receive_skb_core_x", "UNHANDLED_PROTO", false},
		{"__udp4_lib_rcv", "NO_SOCKET", false},
		// Without symbols nothing is known to count.
		{"", "UNHANDLED_PROTO", false},
	} {
		if got := CountsInRxDropped(Site{Function: tc.function, Reason: tc.reason}); got != tc.want {
			t.Errorf("CountsInRxDropped(%s, %s) = %v, want %v", tc.function, tc.reason, got, tc.want)
		}
	}
}

func TestCountedIn(t *testing.T) {
	for _, tc := range []struct {
		function, reason, want string
	}{
		{"__netif_receive_skb_core.constprop.0", "UNHANDLED_PROTO", "rx_dropped+rx_nohandler"},
		{"enqueue_to_backlog", "CPU_BACKLOG", "rx_dropped+rx_nohandler"},
		{"ip_rcv_core", "OTHERHOST", "rx_otherhost_dropped"},
		{"ipv6_rcv", "OTHERHOST", "rx_otherhost_dropped"},
		{"__udp4_lib_rcv", "NO_SOCKET", ""},
		{"", "UNHANDLED_PROTO", ""},
	} {
		if got := CountedIn(Site{Function: tc.function, Reason: tc.reason}); got != tc.want {
			t.Errorf("CountedIn(%s, %s) = %q, want %q", tc.function, tc.reason, got, tc.want)
		}
	}
}

func TestReconcile(t *testing.T) {
	const ns = 4026532000
	sites := []Site{
		{Function: "__netif_receive_skb_core.constprop.0", Reason: "UNHANDLED_PROTO", Ifindex: 2, Netns: ns, Count: 30},
		{Function: "enqueue_to_backlog", Reason: "CPU_BACKLOG", Ifindex: 2, Netns: ns, Count: 5},
		{Function: "__udp4_lib_rcv", Reason: "NO_SOCKET", Ifindex: 2, Netns: ns, Count: 7},
		// Other interfaces, namespaces and device-less drops stay out.
		{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO", Ifindex: 3, Netns: ns, Count: 100},
		{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO", Ifindex: 2, Netns: ns + 1, Count: 100},
		{Function: "tcp_v4_rcv", Reason: "NO_SOCKET", Ifindex: 0, Netns: ns, Count: 100},
	}
	ifc := func(d *LinkCounters) Interface { return Interface{Name: "eth0", Ifindex: 2, Netns: ns, Delta: d} }
	for _, tc := range []struct {
		name string
		ifc  Interface
		want Reconciliation
	}{
		{"partly explained", ifc(counters(map[LinkField]uint64{RxDropped: 40, RxNoHandler: 10, RxMissed: 3, RxFIFO: 4})),
			Reconciliation{HasCounters: true, Counted: 50, Traced: 35, Explained: 35, Unexplained: 15, Elsewhere: 7, NICRing: 7, Fraction: 0.7,
				Counters: []CounterReconciliation{{Counters: "rx_dropped+rx_nohandler", Counted: 50, Traced: 35, Explained: 35, Unexplained: 15}}}},
		{"traced more than counted is capped", ifc(counters(map[LinkField]uint64{RxDropped: 20, RxNoHandler: 0})),
			Reconciliation{HasCounters: true, Counted: 20, Traced: 35, Explained: 20, Elsewhere: 7, Fraction: 1,
				Counters: []CounterReconciliation{{Counters: "rx_dropped+rx_nohandler", Counted: 20, Traced: 35, Explained: 20}}}},
		{"nothing counted", ifc(counters(map[LinkField]uint64{RxDropped: 0, RxMissed: 9})),
			Reconciliation{HasCounters: true, Traced: 35, Elsewhere: 7, NICRing: 9,
				Counters: []CounterReconciliation{{Counters: "rx_dropped+rx_nohandler", Traced: 35}}}},
		{"no counters", ifc(nil), Reconciliation{Traced: 35, Elsewhere: 7, Counters: []CounterReconciliation{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Reconcile(tc.ifc, sites)); diff != "" {
				t.Errorf("Reconcile (-want +got):\n%s", diff)
			}
		})
	}
}

func counters(m map[LinkField]uint64) *LinkCounters {
	c := LinkCountersOf(m)
	return &c
}

// TestCountedInWithoutReasons: on kernels without drop reasons a site
// matches by its function alone.
func TestCountedInWithoutReasons(t *testing.T) {
	for _, tt := range []struct {
		function, want string
	}{
		{"__netif_receive_skb_core", "rx_dropped+rx_nohandler"},
		{"__netif_receive_skb_core.constprop.0", "rx_dropped+rx_nohandler"},
		{"enqueue_to_backlog", "rx_dropped+rx_nohandler"},
		{"__udp4_lib_rcv", ""},
	} {
		s := Site{Function: tt.function, ReasonCode: NoReason}
		if got := CountedIn(s); got != tt.want {
			t.Errorf("CountedIn(%s without a reason) = %q, want %q", tt.function, got, tt.want)
		}
	}
}

// TestLinkValuesJSON: counters and rates are written as an object of the
// present fields, under their names, in LinkFields order.
func TestLinkValuesJSON(t *testing.T) {
	c := LinkCountersOf(map[LinkField]uint64{RxNoHandler: 3, RxPackets: 18446744073709551615, RxDropped: 0})
	got, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rx_packets":18446744073709551615,"rx_dropped":0,"rx_nohandler":3}`; string(got) != want {
		t.Errorf("counters: %s, want %s", got, want)
	}
	var r LinkRates
	r.Set(TxDropped, 0.5)
	r.Set(RxMissed, 1e-7)
	if got, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if want := `{"tx_dropped":0.5,"rx_missed":1e-7}`; string(got) != want {
		t.Errorf("rates: %s, want %s", got, want)
	}
	if got, _ = json.Marshal(LinkCounters{}); string(got) != "{}" {
		t.Errorf("no counters: %s, want {}", got)
	}
}

// TestAppendFloat: rates are written as encoding/json writes a float64,
// for values around every boundary of its format and random ones; NaN and
// the infinities are an error.
func TestAppendFloat(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.0 / 3, 2.0 / 3, 1e-6, 9.99e-7, 1e-7, 1.5e-7, 1e-300,
		5e-324, 1e20, 1e21, 9.99999e20, 1.5e21, 1e100, math.MaxFloat64, 123456.789, 4000.0000001, -2.5e-9}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		vals = append(vals, math.Float64frombits(rng.Uint64()), rng.Float64()*math.Pow(10, float64(rng.IntN(50)-25)))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendFloat(nil, v)
		if err != nil || string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, %v; json.Marshal gives %s", v, got, err, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, err := appendFloat(nil, v); err == nil {
			t.Errorf("appendFloat(%v) = %s, want an error", v, got)
		}
	}
}

// TestRecountReconciles: Recount reconciles every interface with its own
// sites only, the way Reconcile does with all of them, and adds rows for
// interfaces that have traced drops but no counters.
func TestRecountReconciles(t *testing.T) {
	const ns = 4026532000
	snap := Snapshot{
		Sites: []Site{
			{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO", Ifindex: 2, Netns: ns, Count: 30, Interface: "eth0"},
			{Function: "__udp4_lib_rcv", Reason: "NO_SOCKET", Ifindex: 3, Netns: ns, Count: 7, Interface: "eth1"},
			{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO", Ifindex: 3, Netns: ns, Count: 12, Interface: "eth1"},
			{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO", Ifindex: 2, Netns: ns + 1, Count: 4, Interface: "eth0"},
			{Function: "enqueue_to_backlog", Reason: "CPU_BACKLOG", Ifindex: 2, Netns: ns, Count: 5, Interface: "eth0"},
			{Function: "tcp_v4_rcv", Reason: "NO_SOCKET", Netns: ns, Count: 100},
		},
		Interfaces: []Interface{
			{Name: "eth0", Ifindex: 2, Netns: ns, Delta: counters(map[LinkField]uint64{RxDropped: 40, RxNoHandler: 0})},
			{Name: "eth1", Ifindex: 3, Netns: ns, Delta: counters(map[LinkField]uint64{RxDropped: 12, RxNoHandler: 0})},
		},
	}
	want := map[string]Reconciliation{}
	for _, ifc := range snap.Interfaces {
		want[ifc.Name] = Reconcile(ifc, snap.Sites)
	}
	want["eth0@other"] = Reconcile(Interface{Ifindex: 2, Netns: ns + 1}, snap.Sites)
	snap.Recount()
	if len(snap.Interfaces) != 3 {
		t.Fatalf("interfaces %+v, want eth0, eth1 and eth0 of the other namespace", snap.Interfaces)
	}
	for _, ifc := range snap.Interfaces {
		name := ifc.Name
		if ifc.Netns != ns {
			name += "@other"
		}
		if diff := cmp.Diff(want[name], ifc.Reconciliation); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if r := want["eth0"]; r.Traced != 35 || r.Unexplained != 5 {
		t.Errorf("eth0's reconciliation %+v, want 35 traced, 5 unexplained", r)
	}
}
