package tracer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

// BenchmarkRetransmitRun measures what the retransmit program costs per
// run, BENCHMARKS.md's "Retransmit cost in the kernel": with bpf_stats on,
// the kernel times every run of on_tcp_retransmit_skb, and run_time_ns over
// run_cnt across b.N writes of 100 bytes through a router that loses one
// segment in five is the ns/run metric; runs/op says how many
// retransmissions a write cost. The program runs only when TCP
// retransmits: a host that does not retransmit pays nothing for it.
//
//	go test -run '^$' -bench RetransmitRun -benchtime 20000x ./tracer
func BenchmarkRetransmitRun(b *testing.B) {
	p := kerneltest.NewPath(b)
	const port, size = 6302, 100
	var got atomic.Int64
	ln, err := p.Serve(port, func(n int) { got.Add(int64(n)) })
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	if err := p.LoseTCP(port, 5); err != nil {
		b.Fatal(err)
	}
	tr := openTracer(b, Config{Netns: p.Client.Inode})
	if tr.RetransErr() != nil {
		kerneltest.SkipOrFail(b, "retransmits not traced: %v", tr.RetransErr())
	}
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		kerneltest.SkipOrFail(b, "cannot enable bpf_stats: %v", err)
	}
	defer stats.Close()
	c, err := p.Dial(port)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	before, err := tr.rt.objs.OnTcpRetransmitSkb.Stats()
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for got.Load() != int64(b.N*size) {
		if time.Now().After(deadline) {
			b.Fatalf("the server got %d of %d bytes", got.Load(), b.N*size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	after, err := tr.rt.objs.OnTcpRetransmitSkb.Stats()
	if err != nil {
		b.Fatal(err)
	}
	runs := after.RunCount - before.RunCount
	if runs == 0 {
		// The framework's first call (b.N = 1) may lose nothing.
		b.Logf("the program never ran: nothing was retransmitted in %d writes", b.N)
		return
	}
	b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(runs), "ns/run")
	b.ReportMetric(float64(runs)/float64(b.N), "runs/op")
}
