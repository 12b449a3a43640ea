package tracer

import (
	"context"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// BenchmarkProgramRun measures what the kernel program costs per run, the
// figure of BENCHMARKS.md's "Sample cost in the kernel": with bpf_stats on,
// the kernel times every run of on_kfree_skb, and the growth of run_time_ns
// over that of run_cnt across a flood of b.N unhandled-ethertype frames is
// the ns/run metric. Other namespaces' drops run the program too (and leave
// at the namespace filter), so run it on a quiet host, with a fixed count.
// The stacks cases request stacks for a range no drop is in (what every
// drop pays while someone collects elsewhere) and for every location (what
// the requested site's drops pay):
//
//	go test -run '^$' -bench ProgramRun -benchtime 1100000x ./tracer
func BenchmarkProgramRun(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit uint32
		// stacks, when set, is started before the flood: a range no
		// drop is in (the cost of the compare), or every location
		// (each drop records its stack, as the requested site's do).
		stacks *drops.StackRequest
	}{
		{"sampling=off", 0, nil},
		{"sampling=64", DefaultSampleLimit, nil},
		{"sampling=64/stacks=other-site", DefaultSampleLimit, &drops.StackRequest{Lo: 1, Hi: 2}},
		{"sampling=64/stacks=this-site", DefaultSampleLimit, &drops.StackRequest{Lo: 1, Hi: ^uint64(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			kerneltest.NeedRoot(b)
			g, err := netlab.NewGenerator(1)
			if err != nil {
				kerneltest.SkipOrFail(b, "cannot create network namespaces here: %v", err)
			}
			b.Cleanup(func() { g.Close() })
			tr := openTracer(b, Config{Netns: g.Receiver.Inode, SampleLimit: bc.limit})
			stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
			if err != nil {
				kerneltest.SkipOrFail(b, "cannot enable bpf_stats: %v", err)
			}
			defer stats.Close()
			if bc.stacks != nil {
				if err := tr.StartStacks(*bc.stacks); err != nil {
					b.Fatal(err)
				}
			}
			before, err := tr.objs.OnKfreeSkb.Stats()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if _, err := g.Run(context.Background(), netlab.GenConfig{Kind: netlab.Frames, Count: uint64(b.N)}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			after, err := tr.objs.OnKfreeSkb.Stats()
			if err != nil {
				b.Fatal(err)
			}
			runs := after.RunCount - before.RunCount
			if runs < uint64(b.N) {
				b.Fatalf("the program ran %d times for %d drops", runs, b.N)
			}
			if bc.stacks != nil {
				raw, fails, err := tr.StopStacks()
				if err != nil {
					b.Fatal(err)
				}
				var n uint64
				for _, r := range raw {
					n += r.Count
				}
				b.ReportMetric(float64(n), "stacks")
				b.ReportMetric(float64(fails.Total()), "stacks-not-counted")
			}
			b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(runs), "ns/run")
		})
	}
}
