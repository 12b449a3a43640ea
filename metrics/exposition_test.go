package metrics

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
)

// richSink is a sink with a value for every metric it has.
func richSink() *Sink {
	k := New(Config{MaxSeries: 3, Version: "(devel)", Attach: "tp_btf"})
	eth := drops.Interface{Name: "eth0", Ifindex: 2, Counters: &drops.LinkCounters{},
		Reconciliation: drops.Reconciliation{HasCounters: true, Counters: []drops.CounterReconciliation{
			{Counters: "rx_dropped+rx_nohandler", Counted: 4, Explained: 3},
		}}}
	eth.Counters.Set(drops.RxOtherhostDropped, 2)
	s := drops.Snapshot{Time: t0, Start: t0, Kernel: "6.18.44", Interfaces: []drops.Interface{eth},
		Stack:  []drops.StackCounter{{Name: "IpInDiscards", Value: 3}, {Name: "UdpNoPorts", Value: 9}},
		Totals: drops.Totals{SamplesLost: 1, KeysOverflowed: 2, RecursionMisses: 1, Keys: 5, MaxKeys: 16384}}
	for i, fn := range []string{"__udp4_lib_rcv", "__netif_receive_skb_core.constprop.0", "nft_do_chain", "tcp_v4_rcv", "ip_rcv_core"} {
		s.Sites = append(s.Sites, drops.Site{Function: fn, Reason: "NO_SOCKET", Interface: "eth0", Ifindex: 2,
			L3: "IPv4", L4: "UDP", Count: uint64(i + 1), Key: drops.Key{Location: uint64(i + 1)}})
	}
	s.Sites = append(s.Sites, drops.Site{Function: drops.OverflowFunction, Count: 2})
	k.Observe(s)
	k.ReadFailed(t0)
	return k
}

// scrape returns what GET path on the handler answers.
func scrape(t testing.TB, h http.Handler, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

// TestPromtoolCheckMetrics lints the exposition with Prometheus's own
// promtool: names, types, HELP, units, counters ending in _total.
func TestPromtoolCheckMetrics(t *testing.T) {
	kerneltest.NeedTool(t, "promtool")
	code, ctype, body := scrape(t, Handler(richSink()), "/metrics")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET /metrics: %d %s", code, ctype)
	}
	for _, want := range []string{
		`skbtop_drops_total{function="ip_rcv_core",interface="eth0",namespace="",protocol="IPv4/UDP",reason="NO_SOCKET"} 5`,
		`skbtop_drops_total{function="other",interface="eth0",namespace="",protocol="IPv4/UDP",reason="NO_SOCKET"} 10`,
		`skbtop_keys_overflowed_total 2`,
		`skbtop_interface_explained_ratio{counter="rx_dropped+rx_nohandler",interface="eth0"} 0.75`,
		`skbtop_build_info{attach="tp_btf",goversion="go`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s:\n%s", want, body)
		}
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, body)
	}
}

func TestHandlerPaths(t *testing.T) {
	h := Handler(New(Config{}))
	if code, _, _ := scrape(t, h, "/"); code != 404 {
		t.Errorf("GET / = %d, want 404", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", rec.Code)
	}
	// Before any snapshot: no levels, but the endpoint answers.
	if code, _, body := scrape(t, h, "/metrics"); code != 200 || strings.Contains(body, "skbtop_map_keys") {
		t.Errorf("GET /metrics before a snapshot: %d\n%s", code, body)
	}
}

// BenchmarkScrape measures one scrape of /metrics after a snapshot of a
// full kernel map (16,384 keys: 1,024 functions on 16 interfaces), with the
// default budget and with a budget that exports every key as a series.
func BenchmarkScrape(b *testing.B) {
	for _, max := range []int{DefaultMaxSeries, 1 << 14} {
		b.Run(fmt.Sprintf("keys=16384/max-series=%d", max), func(b *testing.B) {
			k := New(Config{MaxSeries: max})
			k.Observe(fullMap(1))
			h := Handler(k)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// BenchmarkObserve measures what the sink adds to each refresh with a full
// kernel map where every key dropped since the last one.
func BenchmarkObserve(b *testing.B) {
	for _, max := range []int{DefaultMaxSeries, 1 << 14} {
		b.Run(fmt.Sprintf("keys=16384/max-series=%d", max), func(b *testing.B) {
			k := New(Config{MaxSeries: max})
			snaps := [2]drops.Snapshot{fullMap(1), fullMap(2)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Counts grow by one each snapshot.
				s := snaps[i%2]
				s.Time = t0.Add(time.Duration(i) * time.Second)
				for j := range s.Sites {
					s.Sites[j].Count = uint64(i + 1)
				}
				k.Observe(s)
				i++
			}
		})
	}
}

// fullMap is a snapshot of 16,384 sites, each with count n.
func fullMap(n uint64) drops.Snapshot {
	s := drops.Snapshot{Time: t0, Start: t0, Kernel: "6.18", Totals: drops.Totals{Keys: 16384, MaxKeys: 16384}}
	for fn := range 1024 {
		for ifc := range 16 {
			s.Sites = append(s.Sites, drops.Site{Function: fmt.Sprintf("kernel_function_%d", fn), Reason: "NO_SOCKET",
				Interface: fmt.Sprintf("veth%d", ifc), Ifindex: uint32(ifc + 2), L3: "IPv4", L4: "UDP", Count: n,
				Key: drops.Key{Location: 0xffffffff81000000 + uint64(fn)<<8, Ifindex: uint32(ifc + 2)}})
		}
	}
	return s
}

// BenchmarkObserveChurn measures a refresh in a storm of new label sets:
// every snapshot is a full map (16,384 keys) of keys never seen before,
// as when a scan sprays ethertypes, so that series are made and folded
// and folded label sets forgotten all the time.
func BenchmarkObserveChurn(b *testing.B) {
	k := New(Config{})
	b.ReportAllocs()
	for i := range b.N {
		b.StopTimer()
		at := t0.Add(time.Duration(i) * time.Second)
		s := drops.Snapshot{Time: at, Start: t0}
		for j := range 1 << 14 {
			s.Sites = append(s.Sites, drops.Site{Function: "__netif_receive_skb_core", Reason: "UNHANDLED_PROTO",
				Interface: "veth0", Ifindex: 2, L3: fmt.Sprintf("0x%05x", i<<14|j), Count: 1,
				Key: drops.Key{Location: uint64(i + 1), Ifindex: 2, L3: uint16(j)}})
		}
		b.StartTimer()
		k.Observe(s)
	}
}
