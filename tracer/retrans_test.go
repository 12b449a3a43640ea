package tracer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
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
	p := kerneltest.NewPath(t)
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
	var retired, live, overflow, misses uint64
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
			if c.Retrans != c.Segs {
				t.Errorf("%+v: want one segment per retransmission", c)
			}
		}
		overflow = rr.Health.OverflowSegs
		misses = rr.Health.RecursionMisses
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
	t.Logf("TcpRetransSegs +%d: %d in retired keys, %d live, %d overflowed; %d peers; %d program runs the kernel skipped", want, retired, live, overflow, len(peers), misses)
	if !kerneltest.RetransSegsMatch(t, retired+live+overflow, want, conns) {
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

// TestRetransmitsUnsent: the router loses one in five segments, and the
// client's own firewall drops one in five of the segments it sends,
// retransmissions included. A retransmission it
// drops is one the kernel counted in TcpRetransSegs before the firewall
// refused it (tcp_transmit_skb then returns -EPERM, which the tracepoint
// passes on Linux 6.16+): skbtop counts it too, in unsent as well, so the
// segments still add up to exactly the TcpRetransSegs delta.
func TestRetransmitsUnsent(t *testing.T) {
	p := kerneltest.NewPath(t)
	const (
		port   = 6303
		writes = 150
		size   = 4
	)
	var got atomic.Int64
	ln, err := p.Serve(port, func(n int) { got.Add(int64(n)) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The router's losses make retransmissions; the client's firewall
	// refuses some of them. (A first transmission it refuses stays in
	// the write queue and goes again as a first transmission.)
	if err := p.LoseTCP(port, 5); err != nil {
		t.Fatal(err)
	}
	if err := p.LoseTCPOut(port, 5); err != nil {
		t.Fatal(err)
	}
	tr := openTracer(t, Config{Netns: p.Client.Inode})
	if tr.RetransErr() != nil {
		kerneltest.SkipOrFail(t, "retransmits not traced: %v", tr.RetransErr())
	}
	hasErr, err := tracepointHasErr(kernelSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if !hasErr {
		// Before Linux 6.16 there is no result to test: a kernel
		// difference, not a machine that cannot run the test.
		t.Skip("the kernel's tcp_retransmit_skb tracepoint does not pass its result (Linux 6.16+)")
	}
	base := retransSegs(t, p.Client)
	c, err := p.Dial(port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tick := time.NewTicker(time.Second / 50)
	msg := make([]byte, size)
	for range writes {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for got.Load() != writes*size || unacked(t, c) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d of %d bytes", got.Load(), writes*size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	var segs, unsent, count uint64
	for _, c := range append(r.Retransmits.Retired, r.Retransmits.Counts...) {
		segs += c.Segs
		unsent += c.Unsent
		count += c.Retrans
	}
	want := retransSegs(t, p.Client) - base
	dropped, err := p.LostTCPOut()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the client's firewall dropped %d segments; TcpRetransSegs +%d; traced %d retransmissions, %d segments, %d not sent", dropped, want, count, segs, unsent)
	if count != segs || !kerneltest.RetransSegsMatch(t, segs, want, 1) {
		t.Errorf("traced %d retransmissions of %d segments, TcpRetransSegs grew by %d", count, segs, want)
	}
	if unsent == 0 || unsent > dropped {
		t.Errorf("%d not sent: want some, at most the %d the firewall dropped", unsent, dropped)
	}
}

// kernelSpec is the running kernel's BTF.
func kernelSpec(t *testing.T) *btf.Spec {
	t.Helper()
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		kerneltest.SkipOrFail(t, "no kernel BTF: %v", err)
	}
	return spec
}

// TestRetransmitsSynAck: the client never sees the server's SYN-ACKs (its
// firewall drops them), so the server sends them again (tcp_rtx_synack, on
// its timer and for every SYN the client repeats), and the kernel adds 1
// to the server's TcpRetransSegs for each. Traced in the server's
// namespace, they are the peer (the client's address and port) in state
// NEW_SYN_RECV, and they add up to
// exactly the server's TcpRetransSegs delta. The server goes on sending
// SYN-ACKs after the client gives up, so the count is compared between two
// readings of the counter that agree.
func TestRetransmitsSynAck(t *testing.T) {
	p := kerneltest.NewPath(t)
	const port = 6304
	ln, err := p.Serve(port, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := p.RefuseTCPIn(port); err != nil {
		t.Fatal(err)
	}
	tr := openTracer(t, Config{Netns: p.Server.Inode})
	if tr.RetransErr() != nil {
		kerneltest.SkipOrFail(t, "retransmits not traced: %v", tr.RetransErr())
	}
	base := retransSegs(t, p.Server)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	err = p.Client.Do(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(p.ServerAddr, port).String())
		if err == nil {
			c.Close()
			return errors.New("connected, though the client drops the SYN-ACKs")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var retired uint64
	var peers map[drops.PeerKey]uint64
	deadline := time.Now().Add(time.Minute)
	for {
		before := retransSegs(t, p.Server)
		r, err := tr.Read()
		if err != nil {
			t.Fatal(err)
		}
		peers = map[drops.PeerKey]uint64{}
		var live uint64
		for _, c := range r.Retransmits.Retired {
			retired += c.Segs
			peers[c.PeerKey] += c.Segs
		}
		for _, c := range r.Retransmits.Counts {
			live += c.Segs
			peers[c.PeerKey] += c.Segs
			if c.State != 12 {
				t.Errorf("%+v: state %d, want NEW_SYN_RECV (12)", c, c.State)
			}
		}
		if after := retransSegs(t, p.Server); after == before && before > base {
			h := r.Retransmits.Health
			if got, want := retired+live+h.OverflowSegs, after-base; !kerneltest.RetransSegsMatch(t, got, want, 1) {
				t.Errorf("traced %d SYN-ACKs sent again (%d retired, %d live, %d overflowed; %d recursion misses), TcpRetransSegs grew by %d",
					got, retired, live, h.OverflowSegs, h.RecursionMisses, want)
			}
			t.Logf("TcpRetransSegs +%d, traced %d", after-base, retired+live)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server's TcpRetransSegs never held still between two reads")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k := range peers {
		// No interface: a request of an IPv4 listener bound to no
		// device does not keep the one its SYN came in on.
		if k.Remote != p.ClientAddr || k.LocalPort != port || k.Netns != p.Server.Inode || k.Ifindex != 0 {
			t.Errorf("peer %+v, want %s from port %d, netns %d, no interface", k, p.ClientAddr, port, p.Server.Inode)
		}
	}
}

// TestRetransmitsMappedPeer: an IPv6 socket talking to an IPv4 peer
// (::ffff:198.18.2.2) is AF_INET6 to the kernel, its peer in skc_v6_daddr:
// the program reads the IPv6 address, and the peer comes out as the IPv4
// address it maps, counted exactly as TcpRetransSegs counts it.
func TestRetransmitsMappedPeer(t *testing.T) {
	p := kerneltest.NewPath(t)
	const (
		port   = 6305
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
	tr := openTracer(t, Config{Netns: p.Client.Inode})
	if tr.RetransErr() != nil {
		kerneltest.SkipOrFail(t, "retransmits not traced: %v", tr.RetransErr())
	}
	base := retransSegs(t, p.Client)
	var c *net.TCPConn
	err = p.Client.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), "mapped")
		defer f.Close()
		to := &unix.SockaddrInet6{Port: port, Addr: netip.AddrFrom16(p.ServerAddr.As16()).As16()}
		if err := unix.Connect(fd, to); err != nil {
			return fmt.Errorf("connect to [%s]:%d: %w", netip.AddrFrom16(to.Addr), port, err)
		}
		fc, err := net.FileConn(f)
		if err != nil {
			return err
		}
		c = fc.(*net.TCPConn)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tick := time.NewTicker(time.Second / 50)
	msg := make([]byte, size)
	for range writes {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for got.Load() != writes*size || unacked(t, c) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d of %d bytes", got.Load(), writes*size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r, err := tr.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := retransSegs(t, p.Client) - base
	var segs, unsent, failed uint64
	for _, rc := range append(r.Retransmits.Retired, r.Retransmits.Counts...) {
		segs += rc.Segs
		unsent += rc.Unsent
		failed += rc.Failed
		if rc.Remote != p.ServerAddr || rc.RemotePort != port || rc.Ifindex == 0 {
			t.Errorf("peer %+v, want %s:%d on an interface", rc.PeerKey, p.ServerAddr, port)
		}
	}
	t.Logf("TcpRetransSegs +%d, traced %d (%d not sent, %d given up; %+v) from %s", want, segs, unsent, failed, r.Retransmits.Health, c.LocalAddr())
	if want == 0 || !kerneltest.RetransSegsMatch(t, segs, want, 1) {
		t.Errorf("traced %d segments, TcpRetransSegs grew by %d", segs, want)
	}
}
