package tracer

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
	"github.com/skbtop/skbtop/netns"
	"github.com/skbtop/skbtop/symbols"
)

func openTracer(t testing.TB, cfg Config) *Tracer {
	t.Helper()
	kerneltest.NeedRoot(t)
	tr, err := Open(cfg)
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot load the BPF program here: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close tracer: %v", err)
		}
	})
	return tr
}

var (
	namesOnce sync.Once
	kallsyms  *symbols.Kallsyms
	reasons   *symbols.Reasons
	namesErr  error
)

// newResolver names sites with the running kernel's own symbols and reason
// enum, as skbtop does.
func newResolver(t *testing.T, tr *Tracer) symbols.Resolver {
	t.Helper()
	namesOnce.Do(func() {
		if kallsyms, namesErr = symbols.OpenKallsyms("/proc/kallsyms"); namesErr != nil {
			return
		}
		if tr.Reasons() {
			reasons, namesErr = symbols.LoadReasons()
		}
	})
	if namesErr != nil {
		t.Fatalf("load kernel names: %v", namesErr)
	}
	home, err := netns.Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return symbols.Resolver{Kallsyms: kallsyms, Reasons: reasons, Namespaces: netns.NewNames(home).Name}
}

// snapshot reads the tracer once and names what it counted. Read once, a
// tracer's keys hold every drop since it was opened in their retired count
// plus their live one: the aggregator gets the sums as the live counts of
// keys new since its baseline.
func snapshot(t *testing.T, tr *Tracer) drops.Snapshot {
	t.Helper()
	agg := drops.NewAggregator(drops.Config{Resolver: newResolver(t, tr), NoReasons: !tr.Reasons()})
	r, err := tr.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	r.Counts, r.Retired = slices.Collect(maps.Values(merged(r))), nil
	agg.Update(drops.Reading{Time: r.Time.Add(-time.Second)})
	agg.Update(r)
	return agg.Snapshot()
}

func describe(sites []drops.Site) string {
	var b strings.Builder
	for _, s := range sites {
		fmt.Fprintf(&b, "\n  %s %s %s %s/%s count=%d", s.Symbol(), s.Reason, s.Interface, s.L3, s.L4, s.Count)
	}
	return b.String()
}

// TestDrops reproduces each kind of drop in its own pair of namespaces and
// asserts that exactly the drops made are counted, at the right function,
// with the right reason, interface and protocol.
func TestDrops(t *testing.T) {
	const n = 300
	tests := []struct {
		name string
		// functions are where the kernel may drop: the first on this
		// kernel, others on kernels that drop elsewhere.
		functions []string
		reason    string
		l3, l4    string
		// drop makes the drops and returns how many the kernel made,
		// which is n unless the ground truth is a kernel counter.
		drop func(t *testing.T, l *netlab.Link) uint64
	}{
		{
			name: "udp to a closed port", functions: []string{"__udp4_lib_rcv"}, reason: "NO_SOCKET", l3: "IPv4", l4: "UDP",
			drop: func(t *testing.T, l *netlab.Link) uint64 {
				if err := l.SendUDP(9, n, 64); err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
		{
			// nftables drops in nft_do_chain since it passes reasons
			// itself; older kernels drop its verdicts in nf_hook_slow.
			name: "nftables drop rule", functions: []string{"nft_do_chain", "nf_hook_slow"}, reason: "NETFILTER_DROP", l3: "IPv4", l4: "UDP",
			drop: func(t *testing.T, l *netlab.Link) uint64 {
				if err := l.Receiver.DropUDP(5001); err != nil {
					t.Fatal(err)
				}
				if err := l.SendUDP(5001, n, 64); err != nil {
					t.Fatal(err)
				}
				dropped, err := l.Receiver.DroppedUDP()
				if err != nil {
					t.Fatal(err)
				}
				if dropped != n {
					t.Errorf("nftables counted %d drops, want %d", dropped, n)
				}
				return dropped
			},
		},
		{
			name: "unhandled ethertype", functions: []string{"__netif_receive_skb_core"}, reason: "UNHANDLED_PROTO", l3: "0x88b5", l4: "",
			drop: func(t *testing.T, l *netlab.Link) uint64 {
				if err := l.SendFrames(0x88b5, n); err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
		{
			name: "tcp syn to a closed port", functions: []string{"tcp_v4_rcv"}, reason: "NO_SOCKET", l3: "IPv4", l4: "TCP",
			drop: func(t *testing.T, l *netlab.Link) uint64 {
				if err := l.ConnectTCP(9, n); err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := kerneltest.NewLink(t)
			tr := openTracer(t, Config{Netns: l.Receiver.Inode})
			want := tt.drop(t, l)
			snap := snapshot(t, tr)
			var got []drops.Site
			for _, s := range snap.Sites {
				// Compilers suffix local copies (.constprop.0, .isra.0).
				fn, _, _ := strings.Cut(s.Function, ".")
				if slices.Contains(tt.functions, fn) && s.Reason == kerneltest.Reason(t, tt.reason) {
					got = append(got, s)
				}
			}
			if len(got) != 1 {
				t.Fatalf("want one %s site with reason %s, got %d; sites:%s", strings.Join(tt.functions, " or "), tt.reason, len(got), describe(snap.Sites))
			}
			s := got[0]
			if s.Count != want {
				t.Errorf("%s counted %d drops, want exactly %d", s.Symbol(), s.Count, want)
			}
			if s.Interface != l.ReceiverIf || s.Ifindex != uint32(l.ReceiverIndex) {
				t.Errorf("interface %s (ifindex %d), want %s (%d)", s.Interface, s.Ifindex, l.ReceiverIf, l.ReceiverIndex)
			}
			if s.Netns != l.Receiver.Inode {
				t.Errorf("netns %d, want the receiver's %d", s.Netns, l.Receiver.Inode)
			}
			if s.L3 != tt.l3 || s.L4 != tt.l4 {
				t.Errorf("protocol %s/%s, want %s/%s", s.L3, s.L4, tt.l3, tt.l4)
			}
			if !strings.HasPrefix(s.Offset, "0x") {
				t.Errorf("offset %q is not hex", s.Offset)
			}
			// The namespace filter keeps every other namespace's drops out.
			for _, other := range snap.Sites {
				if other.Netns != l.Receiver.Inode {
					t.Errorf("drop from another namespace counted: %s netns %d", other.Symbol(), other.Netns)
				}
			}
		})
	}
}

// TestSamples checks that every counted drop is accounted for by the sampler
// (sampled, suppressed or lost) and that samples carry the packet.
func TestSamples(t *testing.T) {
	const n, limit = 500, 16
	l := kerneltest.NewLink(t)
	tr := openTracer(t, Config{Netns: l.Receiver.Inode, SampleLimit: limit})
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		samples []drops.Sample
	)
	done := make(chan error)
	go func() {
		done <- tr.Samples(ctx, func(s drops.Sample) {
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		})
	}()
	if err := l.SendUDP(9, n, 64); err != nil {
		t.Fatal(err)
	}
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, c := range merged(r) {
		total += c.Packets
	}
	h := r.Health
	if got := h.Sampled + h.Suppressed + h.Lost; got != total {
		t.Errorf("sampled %d + suppressed %d + lost %d = %d, want every counted drop (%d)", h.Sampled, h.Suppressed, h.Lost, got, total)
	}
	// Each CPU samples at most limit drops a second; the drops may straddle
	// one window boundary.
	if maxSampled := uint64(limit * runtime.NumCPU() * 2); h.Sampled == 0 || h.Sampled > maxSampled {
		t.Errorf("sampled %d drops, want between 1 and %d (limit %d per CPU per second)", h.Sampled, maxSampled, limit)
	}
	// Wait for the reader to drain what was sampled.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := uint64(len(samples))
		mu.Unlock()
		if got >= h.Sampled || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(samples)) != h.Sampled {
		t.Fatalf("received %d samples, the kernel sampled %d", len(samples), h.Sampled)
	}
	for _, s := range samples {
		p := drops.DecodePacket(s)
		if p.Src != l.SenderAddr.String() || p.Dst != l.ReceiverAddr.String() || p.DstPort != 9 || p.L4 != "UDP" {
			t.Errorf("sample decoded as %s:%d -> %s:%d %s, want %s -> %s:9 UDP", p.Src, p.SrcPort, p.Dst, p.DstPort, p.L4, l.SenderAddr, l.ReceiverAddr)
		}
		if s.Ifname != l.ReceiverIf {
			t.Errorf("sample interface %q, want %q", s.Ifname, l.ReceiverIf)
		}
		if d := time.Since(s.Time); d < 0 || d > time.Minute {
			t.Errorf("sample time %s is not the recent past", s.Time)
		}
	}
}

// TestOverflow fills a one-key map: the drops of the second key must still
// be counted, in the overflow figures.
func TestOverflow(t *testing.T) {
	const n = 100
	l := kerneltest.NewLink(t)
	tr := openTracer(t, Config{Netns: l.Receiver.Inode, MaxKeys: 1})
	if err := l.SendUDP(9, n, 64); err != nil {
		t.Fatal(err)
	}
	if err := l.SendFrames(0x88b5, n); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, tr)
	if snap.Totals.Drops != 2*n {
		t.Errorf("total %d drops, want %d; sites:%s", snap.Totals.Drops, 2*n, describe(snap.Sites))
	}
	if snap.Totals.KeysOverflowed != n {
		t.Errorf("%d drops overflowed, want %d", snap.Totals.KeysOverflowed, n)
	}
}

// TestCloseDetaches checks that Close leaves no program of ours loaded.
func TestCloseDetaches(t *testing.T) {
	kerneltest.NeedRoot(t)
	tr, err := Open(Config{})
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot load the BPF program here: %v", err)
	}
	info, err := tr.objs.OnKfreeSkb.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("kernel reports no program ID")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// The kernel frees a program after an RCU grace period, so it may
	// linger for a moment after its last reference is gone.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			break
		}
		p.Close()
		if time.Now().After(deadline) {
			t.Fatalf("program %d is still loaded 10s after Close", id)
		}
	}
}

// TestDrainSamples: a refresh's DrainSamples hands over, before it
// returns, the samples of every drop counted as sampled, and nothing else
// reads the ring: the loop's drain interval is an hour here, and the
// kernel's wakeups wake no one. After Samples has returned and after Close,
// DrainSamples does nothing.
func TestDrainSamples(t *testing.T) {
	l := kerneltest.NewLink(t)
	tr := openTracer(t, Config{Netns: l.Receiver.Inode, SampleLimit: 64})
	tr.drain = time.Hour
	var (
		mu    sync.Mutex
		ports []uint16
	)
	received := func() []uint16 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ports)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- tr.Samples(ctx, func(s drops.Sample) {
			mu.Lock()
			defer mu.Unlock()
			ports = append(ports, drops.DecodePacket(s).DstPort)
		})
	}()
	// DrainSamples hands samples over only once Samples has its callback.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		tr.samples.mu.Lock()
		running := tr.samples.fn != nil
		tr.samples.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Samples did not start in 10s")
		}
	}
	// sampled waits until the program has sampled n drops in all.
	sampled := func(n uint64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			r, err := tr.Read()
			if err != nil {
				t.Fatal(err)
			}
			if r.Health.Sampled == n {
				return
			}
			if r.Health.Sampled > n || time.Now().After(deadline) {
				t.Fatalf("the program sampled %d drops, want %d", r.Health.Sampled, n)
			}
		}
	}
	var want []uint16
	for burst, n := range []int{3, 2} {
		port := uint16(9 + burst)
		if err := l.SendUDP(port, n, 16); err != nil {
			t.Fatal(err)
		}
		sampled(uint64(len(want) + n))
		if got := received(); !slices.Equal(got, want) {
			t.Fatalf("burst %d: samples to ports %v before DrainSamples, want %v", burst, got, want)
		}
		tr.DrainSamples()
		for range n {
			want = append(want, port)
		}
		if got := received(); !slices.Equal(got, want) {
			t.Fatalf("burst %d: samples to ports %v after DrainSamples, want %v", burst, got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.SendUDP(11, 1, 16); err != nil {
		t.Fatal(err)
	}
	sampled(uint64(len(want) + 1))
	tr.DrainSamples()
	if got := received(); !slices.Equal(got, want) {
		t.Errorf("samples to ports %v after Samples returned, want %v", got, want)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr.DrainSamples()
}

// TestDrainInterval: the Samples loop reads the ring as late as it allows
// at the most samples this machine's CPUs may send.
func TestDrainInterval(t *testing.T) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	record := (binary.Size(bpf.DropEvent{}) + 8 + 7) &^ 7
	want := drainFor(256<<10, 64, ncpu, record)
	if tr := openTracer(t, Config{SampleLimit: 64}); tr.drain != want {
		t.Errorf("drain interval %v, want %v (%d CPUs, %d-byte records)", tr.drain, want, ncpu, record)
	}
}
