package main

// Helpers for the black-box tests (schema_test.go, behaviour_test.go): they
// run the real program through run() with real BPF, make drops in test
// namespaces, and read what skbtop printed as a user's script would, JSON
// into map[string]any and text as text, so that they keep pinning the
// behaviour while the internals are rewritten. The ground truth they compare
// with is read here too, from the kernel's own files, without skbtop's code.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// settleTimeout bounds every wait on the kernel's state: a counter reaching
// its value, skbtop finishing its report.
const settleTimeout = 30 * time.Second

// onceRun is skbtop --once running in the background.
type onceRun struct {
	t      *testing.T
	stdout bytes.Buffer
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// startOnce runs skbtop with args, which include --once, and returns when
// skbtop says it is tracing: drops made from then on are in its report.
// The run is stopped when the test ends, however it ends.
func startOnce(t *testing.T, args ...string) *onceRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &onceRun{t: t, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		r.err = run(ctx, args, &r.stdout, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	stderr := bufio.NewScanner(pr)
	if !stderr.Scan() || !strings.Contains(stderr.Text(), "tracing drops") {
		line := stderr.Text()
		<-r.done
		t.Fatalf("skbtop %s did not start tracing: stderr %q, error %v", strings.Join(args, " "), line, r.err)
	}
	go io.Copy(io.Discard, pr)
	return r
}

// wait waits for the report and returns it.
func (r *onceRun) wait() []byte {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(settleTimeout):
		r.t.Fatal("skbtop --once did not finish")
	}
	if r.err != nil {
		r.t.Fatalf("skbtop: %v", r.err)
	}
	return r.stdout.Bytes()
}

// stop interrupts the run, as Ctrl-C does, and returns the report of what
// it collected so far.
func (r *onceRun) stop() []byte {
	r.t.Helper()
	r.cancel()
	return r.wait()
}

// ndjsonRun is skbtop --json (NDJSON) running in the background.
type ndjsonRun struct {
	t     *testing.T
	lines chan string
	done  chan struct{}
	err   error
}

// startNDJSON runs skbtop with args, which include --json but not --once,
// and returns its first line, which skbtop prints once it is tracing.
func startNDJSON(t *testing.T, args ...string) (*ndjsonRun, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &ndjsonRun{t: t, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		// Keep the writer unblocked should the scanner give up.
		io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	select {
	case first, ok := <-r.lines:
		if !ok {
			<-r.done
			t.Fatalf("skbtop %s printed nothing: %v", strings.Join(args, " "), r.err)
		}
		return r, first
	case <-time.After(settleTimeout):
		t.Fatal("skbtop printed no first line")
	}
	return nil, ""
}

// rest waits for skbtop to end and returns the lines after the first.
func (r *ndjsonRun) rest() []string {
	r.t.Helper()
	var out []string
	timeout := time.After(settleTimeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				<-r.done
				if r.err != nil {
					r.t.Fatalf("skbtop: %v", r.err)
				}
				return out
			}
			out = append(out, line)
		case <-timeout:
			r.t.Fatal("skbtop --json did not finish")
		}
	}
}

// decodeDocument decodes one whole JSON document, numbers kept as
// json.Number so that counts compare exactly.
func decodeDocument(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, b)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("output holds more than one JSON document (next: %v)\n%s", err, b)
	}
	return doc
}

// member returns m[key], failing the test when it is missing.
func member(t *testing.T, m map[string]any, key string) any {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("no %q in %v", key, m)
	}
	return v
}

func getString(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	s, ok := member(t, m, key).(string)
	if !ok {
		t.Fatalf("%q is %T, want a string", key, m[key])
	}
	return s
}

// getUint returns an integer member; a fraction or a negative number fails.
func getUint(t *testing.T, m map[string]any, key string) uint64 {
	t.Helper()
	n, ok := member(t, m, key).(json.Number)
	if !ok {
		t.Fatalf("%q is %T, want a number", key, m[key])
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("%q = %s, want a count: %v", key, n, err)
	}
	return u
}

func getFloat(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	n, ok := member(t, m, key).(json.Number)
	if !ok {
		t.Fatalf("%q is %T, want a number", key, m[key])
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatalf("%q = %s: %v", key, n, err)
	}
	return f
}

func getObject(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := member(t, m, key).(map[string]any)
	if !ok {
		t.Fatalf("%q is %T, want an object", key, m[key])
	}
	return o
}

// getObjects returns an array of objects; a missing member is an empty list
// (omitempty arrays).
func getObjects(t *testing.T, m map[string]any, key string) []map[string]any {
	t.Helper()
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%q is %T, want an array", key, v)
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		if out[i], ok = e.(map[string]any); !ok {
			t.Fatalf("%q[%d] is %T, want an object", key, i, e)
		}
	}
	return out
}

// baseName is a function name without the suffixes compilers give local
// copies (.constprop.0, .isra.0).
func baseName(fn string) string {
	name, _, _ := strings.Cut(fn, ".")
	return name
}

// describeSites lists a document's sites for failure messages.
func describeSites(t *testing.T, doc map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, s := range getObjects(t, doc, "sites") {
		fmt.Fprintf(&b, "\n  %v+%v %v %v %v/%v count=%v bytes=%v samples=%d", s["function"], s["offset"], s["reason"],
			s["interface"], s["l3"], s["l4"], s["count"], s["bytes"], len(getObjects(t, s, "samples")))
	}
	return b.String()
}

// siteKind says which drops a test made: a site is of the kind when its
// function (without compiler suffixes), reason and protocol are these.
type siteKind struct {
	name      string
	functions []string // where this kernel drops them; others for other kernels
	reason    string
	l3, l4    string
}

var (
	udpClosed = &siteKind{"udp to a closed port", []string{"__udp4_lib_rcv"}, "NO_SOCKET", "IPv4", "UDP"}
	tcpClosed = &siteKind{"tcp syn to a closed port", []string{"tcp_v4_rcv"}, "NO_SOCKET", "IPv4", "TCP"}
	// netlab sends frames of 0x88b5, IEEE 802 local experimental.
	unhandled = &siteKind{"frames of an unhandled ethertype", []string{"__netif_receive_skb_core"}, "UNHANDLED_PROTO", "0x88b5", ""}
	// icmp_rcv ignores echo requests to a broadcast address
	// (net.ipv4.icmp_echo_ignore_broadcasts) and frees them as a drop, with
	// a reason that depends on the kernel (INVALID_PROTO on 6.18), so any
	// reason will do.
	icmpBroadcast = &siteKind{"icmp echo to the broadcast address", []string{"icmp_rcv"}, "", "IPv4", "ICMP"}
)

// matches says whether site is a drop of this kind. On kernels without
// drop reasons (kerneltest.DropReasons) a site must have none.
func (k siteKind) matches(t *testing.T, site map[string]any) bool {
	t.Helper()
	if !kerneltest.DropReasons(t) {
		_, reason := site["reason"]
		_, code := site["reason_code"]
		if reason || code {
			t.Errorf("site %v+%v has a reason on a kernel without drop reasons", site["function"], site["offset"])
		}
	} else if k.reason != "" && getString(t, site, "reason") != k.reason {
		return false
	}
	return slices.Contains(k.functions, baseName(getString(t, site, "function"))) &&
		getString(t, site, "l3") == k.l3 && getString(t, site, "l4") == k.l4
}

// checkSites asserts that the document holds exactly one site of each kind
// in want, on the receiver's interface and namespace, with exactly the
// given count, that nothing else dropped there, and that the totals add
// up. It returns the sites by kind.
func checkSites(t *testing.T, doc map[string]any, l *netlab.Link, want map[*siteKind]uint64) map[*siteKind]map[string]any {
	t.Helper()
	found := map[*siteKind]map[string]any{}
	var total uint64
	for _, s := range getObjects(t, doc, "sites") {
		total += getUint(t, s, "count")
		var kind *siteKind
		for k := range want {
			if k.matches(t, s) {
				if kind != nil {
					t.Fatalf("site matches two kinds: %v", s)
				}
				kind = k
			}
		}
		if kind == nil {
			t.Errorf("unexpected drop site %v+%v %v %v/%v (%v drops); sites:%s", s["function"], s["offset"], s["reason"],
				s["l3"], s["l4"], s["count"], describeSites(t, doc))
			continue
		}
		if found[kind] != nil {
			t.Errorf("two sites for %s; sites:%s", kind.name, describeSites(t, doc))
		}
		found[kind] = s
		if got := getString(t, s, "interface"); got != l.ReceiverIf {
			t.Errorf("%s: interface %q, want %q", kind.name, got, l.ReceiverIf)
		}
		if got := getUint(t, s, "ifindex"); got != uint64(l.ReceiverIndex) {
			t.Errorf("%s: ifindex %d, want %d", kind.name, got, l.ReceiverIndex)
		}
		if got := getUint(t, s, "netns"); got != uint64(l.Receiver.Inode) {
			t.Errorf("%s: netns %d, want the receiver's %d", kind.name, got, l.Receiver.Inode)
		}
	}
	var sum uint64
	for k, n := range want {
		sum += n
		s := found[k]
		if s == nil {
			t.Errorf("no site for %s; sites:%s", k.name, describeSites(t, doc))
			continue
		}
		if got := getUint(t, s, "count"); got != n {
			t.Errorf("%s: count %d, want exactly %d", k.name, got, n)
		}
	}
	totals := getObject(t, doc, "totals")
	if got := getUint(t, totals, "drops"); got != sum || got != total {
		t.Errorf("totals.drops = %d, want %d drops made (sites add up to %d)", got, sum, total)
	}
	return found
}

// groundTruth is a namespace's own count of what the tests make: its SNMP
// counters (UdpNoPorts, TcpOutRsts, IcmpInErrors, ...) and, under "rx_",
// the receiver veth's link counters as iproute2 reports them.
type groundTruth map[string]uint64

// readTruth reads the ground truth of the link's receiver without skbtop's
// code: /proc/net/snmp from a thread inside the namespace, and the veth's
// counters through `ip -s -j link`.
func readTruth(t *testing.T, l *netlab.Link) groundTruth {
	t.Helper()
	g := readSNMP(t, l.Receiver)
	out, err := exec.Command("ip", "-n", l.Receiver.Name, "-s", "-j", "link", "show", "dev", l.ReceiverIf).Output()
	if err != nil {
		t.Fatalf("ip link show %s: %v", l.ReceiverIf, err)
	}
	var links []struct {
		Stats64 struct {
			RX map[string]uint64 `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show: %v: %s", err, out)
	}
	for name, v := range links[0].Stats64.RX {
		g["rx_"+name] = v
	}
	return g
}

// readSNMP reads a namespace's /proc/net/snmp counters without skbtop's
// code, from a thread inside the namespace.
func readSNMP(t *testing.T, ns *netlab.Namespace) groundTruth {
	t.Helper()
	g := groundTruth{}
	var snmp []byte
	err := ns.Do(func() error {
		var err error
		// thread-self: /proc/self/net follows the main thread's namespace.
		snmp, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		t.Fatalf("read the snmp counters of %s: %v", ns.Name, err)
	}
	// Pairs of lines: "Udp: InDatagrams NoPorts ..." then "Udp: 12 3 ...".
	lines := strings.Split(strings.TrimSpace(string(snmp)), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) != len(values) || names[0] != values[0] {
			t.Fatalf("snmp lines do not pair up: %q, %q", lines[i], lines[i+1])
		}
		prefix := strings.TrimSuffix(names[0], ":")
		for j := 1; j < len(names); j++ {
			// Some are signed (Tcp MaxConn is -1); none the tests read.
			if v, err := strconv.ParseUint(values[j], 10, 64); err == nil {
				g[prefix+names[j]] = v
			}
		}
	}
	return g
}

// waitTruth polls the receiver's ground truth until every counter in want
// has grown by exactly its value since base, and fails if one overshoots or
// the deadline passes. Sending returns before the receiver has processed
// everything (a veth hands packets to a backlog), so counters are waited on.
// skbtop, whose run ends when tracing closes, must still be tracing then:
// drops processed after its window closed are not in its report, and
// counts that differ for that reason would be a busy machine, not a bug.
func waitTruth(t *testing.T, l *netlab.Link, base, want groundTruth, tracing <-chan struct{}) groundTruth {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		now := readTruth(t, l)
		settled := true
		for name, n := range want {
			if _, ok := now[name]; !ok {
				t.Fatalf("the kernel has no counter %s", name)
			}
			d := now[name] - base[name]
			if d > n {
				t.Fatalf("%s grew by %d, more than the %d drops made", name, d, n)
			}
			settled = settled && d == n
		}
		if settled {
			select {
			case <-tracing:
				t.Fatal("skbtop's window closed before the receiver had processed every drop: the machine is too busy for it")
			default:
			}
			return now
		}
		if time.Now().After(deadline) {
			for name, n := range want {
				t.Errorf("%s grew by %d, want %d", name, now[name]-base[name], n)
			}
			t.FailNow()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sendAll makes the drops of a test from the link's sender: udp datagrams
// of payload bytes to udpPort, tcp connection attempts to tcpPort, and
// frames of an unhandled ethertype; a count of 0 sends none of that kind.
func sendAll(t *testing.T, l *netlab.Link, udpPort uint16, udp, payload int, tcpPort uint16, tcp, frames int) {
	t.Helper()
	if udp > 0 {
		if err := l.SendUDP(udpPort, udp, payload); err != nil {
			t.Fatal(err)
		}
	}
	if tcp > 0 {
		if err := l.ConnectTCP(tcpPort, tcp); err != nil {
			t.Fatal(err)
		}
	}
	if frames > 0 {
		if err := l.SendFrames(0x88b5, frames); err != nil {
			t.Fatal(err)
		}
	}
}

// sendLoopbackUDP sends n datagrams inside the namespace to a closed port
// on 127.0.0.1: drops at __udp4_lib_rcv on lo.
func sendLoopbackUDP(t *testing.T, ns *netlab.Namespace, port uint16, n int) {
	t.Helper()
	err := ns.Do(func() error {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer conn.Close()
		for range n {
			if _, err := conn.WriteToUDP([]byte("skbtop"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("loopback udp: %v", err)
	}
}

// sendBroadcastEcho sends n ICMP echo requests from the sender to the
// link's broadcast address. The receiver ignores echoes to a broadcast
// address (net.ipv4.icmp_echo_ignore_broadcasts, on by default), counting
// each in IcmpInErrors and freeing it as a drop.
func sendBroadcastEcho(t *testing.T, l *netlab.Link, n int) {
	t.Helper()
	// netlab puts the link in a /29.
	bcast := netip.PrefixFrom(l.ReceiverAddr, 29).Masked().Addr().As4()
	bcast[3] |= 7
	fd := -1
	err := l.Sender.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	})
	if fd >= 0 {
		defer unix.Close(fd)
	}
	if err != nil {
		t.Fatalf("icmp socket: %v", err)
	}
	// Type 8 (echo request), code 0, checksum, identifier, sequence, and
	// eight bytes of data.
	msg := make([]byte, 16)
	msg[0] = 8
	binary.BigEndian.PutUint16(msg[4:], 0x5b70)
	for i := range n {
		binary.BigEndian.PutUint16(msg[6:], uint16(i))
		binary.BigEndian.PutUint16(msg[2:], 0)
		binary.BigEndian.PutUint16(msg[2:], inetChecksum(msg))
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: bcast}); err != nil {
			t.Fatalf("send echo %d of %d: %v", i+1, n, err)
		}
	}
}

// inetChecksum is the Internet checksum (RFC 1071).
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// kallsymsEntry is one text symbol of /proc/kallsyms.
type kallsymsEntry struct {
	addr   uint64
	name   string
	module string
}

// readKallsymsText parses /proc/kallsyms itself, independently of the
// symbols package: text symbols only (types t, T, w, W; drop sites are
// code), sorted by address.
func readKallsymsText(t *testing.T) []kallsymsEntry {
	t.Helper()
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot read /proc/kallsyms: %v", err)
	}
	defer f.Close()
	var syms []kallsymsEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ffffffff81000000 T _stext" or "... t nft_foo\t[nf_tables]"
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || len(fields[1]) != 1 || !strings.Contains("tTwW", fields[1]) {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			t.Fatalf("kallsyms line %q: %v", sc.Text(), err)
		}
		e := kallsymsEntry{addr: addr, name: fields[2]}
		if len(fields) > 3 {
			e.module = strings.Trim(fields[3], "[]")
		}
		syms = append(syms, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	if len(syms) == 0 || syms[len(syms)-1].addr == 0 {
		kerneltest.SkipOrFail(t, "the kernel hides symbol addresses (kernel.kptr_restrict)")
	}
	return syms
}

// symbolsAt returns the text symbols at the highest address at or below
// addr: kallsyms often lists several names at one address (aliases).
func symbolsAt(syms []kallsymsEntry, addr uint64) []kallsymsEntry {
	i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > addr }) - 1
	if i < 0 {
		return nil
	}
	j := i
	for j > 0 && syms[j-1].addr == syms[i].addr {
		j--
	}
	return syms[j : i+1]
}

// parseHex parses "0x..." as skbtop prints addresses and offsets.
func parseHex(t *testing.T, s string) uint64 {
	t.Helper()
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		t.Fatalf("%q is not 0x-prefixed hex", s)
	}
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}
