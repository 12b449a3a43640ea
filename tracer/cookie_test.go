package tracer

import (
	"context"
	"errors"
	"maps"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
	"github.com/skbtop/skbtop/netns"
)

// cookieOf reads the namespace's cookie from user space, the way skbtop
// does (netns.Cookie: SO_NETNS_COOKIE on a socket made inside it), or 0 on
// kernels without cookies (before 5.14), where the kernel program must
// report 0 too (netns.TestCookie checks that such a kernel refuses the
// option).
func cookieOf(t *testing.T, ns *netlab.Namespace) uint64 {
	t.Helper()
	f, err := os.Open(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := netns.Cookie(f)
	if errors.Is(err, netns.ErrNoCookie) {
		t.Logf("%v: the inode alone names a namespace", err)
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNetnsCookie checks that the counts, the device names and the samples
// carry the cookie user space reads for the namespace the drops happened in.
func TestNetnsCookie(t *testing.T) {
	const n = 7
	l := kerneltest.NewLink(t)
	want := cookieOf(t, l.Receiver)
	tr := openTracer(t, Config{Netns: l.Receiver.Inode, SampleLimit: n})
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
	counts := merged(r)
	if len(counts) == 0 {
		t.Fatal("no drops counted")
	}
	for k := range counts {
		if k.Netns != l.Receiver.Inode || k.NetnsCookie != want {
			t.Errorf("key in namespace %d cookie %d, want the receiver's %d cookie %d", k.Netns, k.NetnsCookie, l.Receiver.Inode, want)
		}
	}
	named := false
	for _, d := range r.Devices {
		if d.Ifindex == uint32(l.ReceiverIndex) && d.Netns == l.Receiver.Inode {
			named = true
			if d.NetnsCookie != want || d.Name != l.ReceiverIf {
				t.Errorf("device %d named %q with cookie %d, want %q with cookie %d", d.Ifindex, d.Name, d.NetnsCookie, l.ReceiverIf, want)
			}
		}
	}
	if !named {
		t.Errorf("the receiver's interface was not named; devices: %+v", r.Devices)
	}

	// Wait for the reader to drain what was sampled.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		got := uint64(len(samples))
		mu.Unlock()
		if got >= r.Health.Sampled || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, s := range samples {
		if s.Netns != l.Receiver.Inode || s.NetnsCookie != want {
			t.Errorf("sample in namespace %d cookie %d, want %d cookie %d", s.Netns, s.NetnsCookie, l.Receiver.Inode, want)
		}
	}
}

// TestNetnsCookieReusedInode deletes a namespace, gets the kernel to give
// its inode to a new one, and checks that the drops of the two stay apart:
// same inode, different cookies, each key with its own namespace's count.
func TestNetnsCookieReusedInode(t *testing.T) {
	const inA, inB = 3, 4
	kerneltest.NeedRoot(t)
	tr := openTracer(t, Config{})
	a, err := netlab.NewNamespace("skbtop-reuse")
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	ino, cookieA := a.Inode, cookieOf(t, a)
	kerneltest.SendLoopbackUDP(t, a, inA)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := kerneltest.NamespaceWithInode(t, ino)
	cookieB := cookieOf(t, b)
	want := map[uint64]uint64{cookieA: inA, cookieB: inB}
	if cookieA == 0 {
		// No cookies on this kernel: the two namespaces' drops are
		// one key, as the README says of kernels before 5.14.
		want = map[uint64]uint64{0: inA + inB}
	} else if cookieB == cookieA {
		t.Fatalf("namespace %s has inode %d and cookie %d, the same as the deleted one's", b.Name, ino, cookieB)
	}
	kerneltest.SendLoopbackUDP(t, b, inB)

	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]uint64{}
	for k, c := range merged(r) {
		if k.Netns == ino && k.L4 == unix.IPPROTO_UDP {
			got[k.NetnsCookie] += c.Packets
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("UDP drops in namespaces of inode %d by cookie: %v, want %v", ino, got, want)
	}
}

// merged sums a reading's retired and live counts by key: with a tracer
// read once, every key's drops since it was opened.
func merged(r drops.Reading) map[drops.Key]drops.Count {
	out := map[drops.Key]drops.Count{}
	for _, list := range [][]drops.Count{r.Retired, r.Counts} {
		for _, c := range list {
			m := out[c.Key]
			m.Key = c.Key
			m.Packets += c.Packets
			m.Bytes += c.Bytes
			out[c.Key] = m
		}
	}
	return out
}
