package main

import (
	"bytes"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

// TestRetransmitsLossOutside is issue 13's acceptance test for
// retransmits: a client, a router and a server namespace; the router drops
// one in five TCP segments to the server's port at random (nftables
// numgen); the client writes 4 bytes 50 times a second for 5 s. skbtop
// --netns client must count retransmits to the server's address and port,
// exactly as many as the client namespace's TcpRetransSegs grew by, see no
// drop in the client's namespace, and say that the loss is outside the
// host.
//
// The relation between the two counts is the kernel's: __tcp_retransmit_skb
// adds tcp_skb_pcount(skb), the segments the skb stands for, to
// TcpRetransSegs once it has decided to retransmit, just before it
// transmits, and the tracepoint fires once per skb: on Linux 6.16 and
// later at the function's end for every attempt, with its result, which
// says whether it got as far as counting (bpf/retrans.c's counted: early
// exits return -EBUSY, -EAGAIN, -ENOMEM, -EINVAL or -EHOSTUNREACH; a
// transmission that then fails, as when a busy host's backlog is full,
// returns something else and is counted, in unsent too). So TcpRetransSegs
// grows by the sum of the counted skbs' segment counts, skbtop's segs; and
// an skb is one segment when it is no longer than the MSS: here all the
// data together (1000 bytes) is less than one MSS, so the retransmissions
// (count), their segments (segs) and the TcpRetransSegs delta are one and
// the same number.
func TestRetransmitsLossOutside(t *testing.T) {
	p := kerneltest.NewPath(t)
	const (
		port   = 6300
		writes = 250 // 50 a second for 5 s
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

	base := readSNMP(t, p.Client)
	r := startOnce(t, "--once", "--json", "--duration", "2m", "--netns", p.Client.Path)
	conn, err := p.Dial(port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	tcpInfo := func() *unix.TCPInfo {
		t.Helper()
		var info *unix.TCPInfo
		var ierr error
		if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
			t.Fatalf("TCP_INFO: %v %v", err, ierr)
		}
		return info
	}
	if mss := tcpInfo().Snd_mss; mss <= writes*size {
		t.Fatalf("MSS %d: the data (%d bytes) would not fit one segment", mss, writes*size)
	}
	tick := time.NewTicker(time.Second / 50)
	msg := make([]byte, size)
	for range writes {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	tick.Stop()

	// Wait on the state: every byte at the server and acknowledged to
	// the client; nothing is left to retransmit then.
	deadline := time.Now().Add(settleTimeout)
	for got.Load() != writes*size || tcpInfo().Unacked != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d of %d bytes, %d segments unacknowledged", got.Load(), writes*size, tcpInfo().Unacked)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := r.stop()
	doc := decodeDocument(t, out)
	// The member as skbtop wrote it, for the README's example.
	var members map[string]json.RawMessage
	var compact bytes.Buffer
	if json.Unmarshal(out, &members) == nil && json.Compact(&compact, members["retransmits"]) == nil {
		t.Logf("retransmits: %s", compact.Bytes())
	}
	after := readSNMP(t, p.Client)
	segs := after["TcpRetransSegs"] - base["TcpRetransSegs"]
	lost, err := p.LostTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("router dropped %d segments; client TcpRetransSegs +%d", lost, segs)
	if lost == 0 || segs == 0 {
		t.Fatalf("the router dropped %d segments and the client retransmitted %d: no loss to see", lost, segs)
	}

	// No drop in the client's namespace: the loss is the router's.
	if sites := getObjects(t, doc, "sites"); len(sites) != 0 {
		t.Errorf("drops in the client's namespace:%s", describeSites(t, doc))
	}
	rt := getObject(t, doc, "retransmits")
	peers := getObjects(t, rt, "peers")
	if len(peers) != 1 {
		t.Fatalf("%d peers, want the one connection: %v", len(peers), peers)
	}
	peer := peers[0]
	for key, want := range map[string]string{"remote": p.ServerAddr.String(), "interface": p.ClientIf, "state": "ESTABLISHED"} {
		if got := getString(t, peer, key); got != want {
			t.Errorf("peer %s = %q, want %q", key, got, want)
		}
	}
	for key, want := range map[string]uint64{
		"remote_port": port, "local_port": uint64(conn.LocalAddr().(*net.TCPAddr).Port),
		"netns": uint64(p.Client.Inode),
	} {
		if got := getUint(t, peer, key); got != want {
			t.Errorf("peer %s = %d, want %d", key, got, want)
		}
	}
	traced := getUint(t, peer, "segs")
	if !kerneltest.RetransSegsMatch(t, traced, segs, 1) || getUint(t, peer, "count") != traced {
		t.Errorf("peer count %v, segs %d; want TcpRetransSegs' %d", peer["count"], traced, segs)
	}
	if getUint(t, rt, "count") != traced || getUint(t, rt, "home_segs") != traced || getUint(t, rt, "keys_overflowed") != 0 {
		t.Errorf("retransmits count %v, home_segs %v, keys_overflowed %v; want %d, %d, 0", rt["count"], rt["home_segs"], rt["keys_overflowed"], traced, traced)
	}
	if c := getObject(t, rt, "counter"); getString(t, c, "name") != "TcpRetransSegs" || getUint(t, c, "delta") != segs {
		t.Errorf("counter %v, want TcpRetransSegs with delta %d", c, segs)
	}
	want := "retransmits to 198.18.2.2:6300 with no local drops: the loss is outside this host"
	if notes := member(t, rt, "notes").([]any); len(notes) != 1 || notes[0] != want {
		t.Errorf("notes %v, want [%q]", notes, want)
	}
	if peer["outside"] != true {
		t.Errorf("peer outside = %v, want true", peer["outside"])
	}
}
