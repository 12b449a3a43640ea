package counters_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// benchVeths is the number of container veths of BenchmarkLinks.
const benchVeths = 500

// BenchmarkLinks reads a namespace that looks like a container host's:
// benchVeths veth ends, each the peer of an eth0 in a namespace of its
// own, so that every RTM_GETLINK message carries IFLA_LINK_NETNSID. It
// times Links as it runs (RTM_GETSTATS, names dumped every namesEvery
// calls), one RTM_GETSTATS dump alone (the nine calls in ten that dump no
// names), and the RTM_GETLINK path of a kernel without RTM_GETSTATS. Beside
// ns/op it reports the process's CPU time per call, user and system
// (getrusage): the dumps are made in the kernel, in the reading thread's
// recvmsg.
func BenchmarkLinks(b *testing.B) {
	kerneltest.NeedRoot(b)
	kerneltest.NeedTool(b, "ip")
	host := containerHost(b, benchVeths)
	open := func(b *testing.B) *counters.Reader {
		r, err := counters.OpenPath(host.Path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		ls, err := r.Links() // the first names dump, outside the timing
		if err != nil || len(ls) != benchVeths+1 {
			b.Fatalf("links: %d, %v; want %d", len(ls), err, benchVeths+1)
		}
		return r
	}
	b.Run("getstats", func(b *testing.B) {
		r := open(b)
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			if _, err := r.Links(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
		if !counters.UsesStats(r) {
			b.Fatal("the kernel refused RTM_GETSTATS")
		}
	})
	b.Run("getstats-no-names", func(b *testing.B) {
		r := open(b)
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			msgs, err := counters.DumpStats(r)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := counters.DecodeStats(msgs); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("getlink", func(b *testing.B) {
		r := open(b)
		counters.RefuseStats(r)
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			if _, err := r.Links(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
		if counters.UsesStats(r) {
			b.Fatal("the reader did not fall back to RTM_GETLINK")
		}
	})
}

// containerHost makes a namespace holding n veth ends whose peers are each
// in a namespace of their own, with one ip -batch (an exec per command
// would take longer than the benchmark), and deletes them all at the end.
func containerHost(b *testing.B, n int) *netlab.Namespace {
	b.Helper()
	host, err := netlab.NewNamespace("skbtop-bench")
	if err != nil {
		kerneltest.SkipOrFail(b, "cannot create network namespaces here: %v", err)
	}
	prefix := host.Name + "-c"
	var add, up, del bytes.Buffer
	for i := range n {
		fmt.Fprintf(&add, "netns add %s%d\n", prefix, i)
		fmt.Fprintf(&add, "link add veth%d netns %s type veth peer name eth0 netns %s%d\n", i, host.Name, prefix, i)
		fmt.Fprintf(&up, "link set veth%d up\n", i)
		fmt.Fprintf(&del, "netns del %s%d\n", prefix, i)
	}
	b.Cleanup(func() {
		// Deleting the host namespace takes the veths with it; the kernel
		// frees the namespaces in the background.
		if err := ipBatch(&del, "-force"); err != nil {
			b.Errorf("delete benchmark namespaces: %v", err)
		}
		if err := host.Close(); err != nil {
			b.Errorf("delete %s: %v", host.Name, err)
		}
	})
	start := time.Now()
	if err := ipBatch(&add); err != nil {
		b.Fatal(err)
	}
	if err := ipBatch(&up, "-n", host.Name); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d namespaces and veth pairs made in %v", n, time.Since(start).Round(time.Millisecond))
	return host
}

// ipBatch runs the ip commands in batch, one a line, with ip's options
// before -batch.
func ipBatch(batch *bytes.Buffer, opts ...string) error {
	args := append(opts, "-batch", "-")
	cmd := exec.Command("ip", args...)
	cmd.Stdin = bytes.NewReader(batch.Bytes())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(stderr.String(), "\n")
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// cpuClock is the process's CPU time at the start of a benchmark loop.
type cpuClock struct{ user, sys time.Duration }

func readCPU() cpuClock {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "getrusage:", err)
	}
	return cpuClock{user: time.Duration(ru.Utime.Nano()), sys: time.Duration(ru.Stime.Nano())}
}

func startCPU() cpuClock { return readCPU() }

// report adds the CPU time the loop took, per call, to the benchmark's
// figures.
func (c cpuClock) report(b *testing.B) {
	end := readCPU()
	n := float64(b.N)
	b.ReportMetric(float64(end.user-c.user)/n, "user-ns/op")
	b.ReportMetric(float64(end.sys-c.sys)/n, "sys-ns/op")
}
