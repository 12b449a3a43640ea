package tracer

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// retransSegs reads the namespace's TcpRetransSegs from /proc/net/snmp.
func retransSegs(t testing.TB, ns *netlab.Namespace) uint64 {
	t.Helper()
	var v uint64
	err := ns.Do(func() error {
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var names []string
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != "Tcp:" {
				continue
			}
			if names == nil {
				names = fields
				continue
			}
			for i, n := range names {
				if n == "RetransSegs" {
					v, err = strconv.ParseUint(fields[i], 10, 64)
					return err
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatalf("read TcpRetransSegs of %s: %v", ns.Name, err)
	}
	return v
}

// TestRetransmitsExactWhenFull: with room for one peer per read interval,
// three connections that lose segments at the router retransmit into the
// map and its overflow, and the two together hold exactly what the client
// namespace's TcpRetransSegs counted, read after read, as keys are
// retired and come back. Every write is 4 bytes and each connection sends
// less than an MSS in all, so every retransmitted skb is one segment.
func TestRetransmitsExactWhenFull(t *testing.T) {
	kerneltest.NeedRoot(t)
	p, err := netlab.NewPath()
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("remove test namespaces: %v", err)
		}
	})
	const (
		port   = 6301
		conns  = 3
		writes = 150
		size   = 4
	)
	var got atomic.Int64
	ln, err := p.Serve(port, func(n int) { got.Add(int64(n)) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := p.LoseTCP(port, 5); err != nil {
		t.Fatal(err)
	}
	tr := openTracer(t, Config{Netns: p.Client.Inode, MaxPeers: 1})
	if tr.RetransErr() != nil {
		kerneltest.SkipOrFail(t, "retransmits not traced: %v", tr.RetransErr())
	}
	base := retransSegs(t, p.Client)

	// Final counts of retired keys, summed read after read; the live
	// counts of the last read; the cumulative overflow.
	var retired, live, overflow uint64
	peers := map[drops.PeerKey]bool{}
	read := func() {
		t.Helper()
		r, err := tr.Read()
		if err != nil || len(r.Errors) > 0 {
			t.Fatalf("read: %v %v", err, r.Errors)
		}
		rr := r.Retransmits
		live = 0
		for _, c := range rr.Retired {
			retired += c.Segs
			peers[c.PeerKey] = true
		}
		for _, c := range rr.Counts {
			live += c.Segs
			peers[c.PeerKey] = true
			if c.Retrans != c.Segs || c.Failed != 0 {
				t.Errorf("%+v: want one segment per retransmission and none failed", c)
			}
		}
		overflow = rr.Health.OverflowSegs
		if rr.Health.MaxKeys != 1 || rr.Health.Keys > 1 {
			t.Errorf("keys %d/%d, want at most 1/1", rr.Health.Keys, rr.Health.MaxKeys)
		}
	}

	var wg sync.WaitGroup
	var sent []*net.TCPConn
	for range conns {
		c, err := p.Dial(port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sent = append(sent, c)
		wg.Go(func() {
			tick := time.NewTicker(time.Second / 50)
			defer tick.Stop()
			msg := make([]byte, size)
			for range writes {
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
					return
				}
				<-tick.C
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Read every 100 ms, so that keys are retired and come back, until
	// every byte is at the server and acknowledged: nothing is left to
	// retransmit then.
	settled := func() bool {
		select {
		case <-done:
		default:
			return false
		}
		if got.Load() != conns*writes*size {
			return false
		}
		for _, c := range sent {
			if unacked(t, c) != 0 {
				return false
			}
		}
		return true
	}
	reads := time.NewTicker(100 * time.Millisecond)
	defer reads.Stop()
	deadline := time.Now().Add(time.Minute)
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d of %d bytes", got.Load(), conns*writes*size)
		}
		<-reads.C
		read()
	}
	read()
	want := retransSegs(t, p.Client) - base
	t.Logf("TcpRetransSegs +%d: %d in retired keys, %d live, %d overflowed; %d peers", want, retired, live, overflow, len(peers))
	if retired+live+overflow != want {
		t.Errorf("traced %d+%d+%d segments, TcpRetransSegs grew by %d", retired, live, overflow, want)
	}
	if overflow == 0 {
		t.Error("nothing overflowed: the test did not fill the map")
	}
	for k := range peers {
		if k.Remote != p.ServerAddr || k.RemotePort != port || k.Netns != p.Client.Inode || k.Ifindex == 0 {
			t.Errorf("peer %+v, want %s:%d in netns %d on an interface", k, p.ServerAddr, port, p.Client.Inode)
		}
	}
}

// unacked returns the connection's segments not yet acknowledged.
func unacked(t *testing.T, c *net.TCPConn) uint32 {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, ierr)
	}
	return info.Unacked
}
