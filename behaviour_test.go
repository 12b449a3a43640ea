package main

// Behaviour-pinning tests: each runs the real program through run() with
// real BPF, makes a known number of drops in test namespaces, and checks the
// values skbtop prints against what the kernel itself says: its own
// counters, /proc/kallsyms, the sizes of the packets sent.

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/netns"
)

// Sizes of what the drops weigh at their sites, skb->len when kfree_skb
// sees them (checked on 6.18):
//   - UDP at __udp4_lib_rcv: ip_local_deliver_finish has already pulled the
//     IP header, so the UDP header and the payload, not the whole datagram;
//   - a frame at __netif_receive_skb_core: eth_type_trans has pulled the
//     14-byte Ethernet header of the 60-byte frame netlab sends.
//
// A sample's captured bytes start at the network header, so for UDP they
// do include the 20-byte IP header.
const (
	udpHeader, ipv4Header = 8, 20
	frameLen              = 60 - 14
)

// TestSiteOffsets checks every site's function and offset against
// /proc/kallsyms, parsed here: the function must be a name kallsyms gives
// the highest text symbol at or below the site's address, and the offset
// the distance from that symbol.
func TestSiteOffsets(t *testing.T) {
	kerneltest.NeedRoot(t)
	syms := readKallsymsText(t)
	l := kerneltest.NewLink(t)
	const udp, tcp, frames, icmp = 12, 7, 9, 5
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path)
	sendAll(t, l, 7301, udp, 16, 7302, tcp, frames)
	sendBroadcastEcho(t, l, icmp)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "TcpOutRsts": tcp, "IcmpInErrors": icmp, "rx_dropped": frames}, r.done)
	doc := decodeDocument(t, r.wait())
	sites := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp, tcpClosed: tcp, unhandled: frames, icmpBroadcast: icmp})
	if len(sites) != 4 {
		t.Fatalf("checked %d sites, want 4", len(sites))
	}
	for k, s := range sites {
		addr := parseHex(t, getString(t, s, "address"))
		off := parseHex(t, getString(t, s, "offset"))
		fn, module := getString(t, s, "function"), getString(t, s, "module")
		at := symbolsAt(syms, addr)
		if len(at) == 0 {
			t.Errorf("%s: address %#x is below every kernel symbol", k.name, addr)
			continue
		}
		i := slices.IndexFunc(at, func(e kallsymsEntry) bool { return e.name == fn })
		if i < 0 {
			var names []string
			for _, e := range at {
				names = append(names, e.name)
			}
			t.Errorf("%s: site %s+%#x, but kallsyms has %v at %#x, the last symbol at or below %#x", k.name, fn, off, names, at[0].addr, addr)
			continue
		}
		if want := addr - at[i].addr; off != want {
			t.Errorf("%s: %s offset %#x, want %#x (address %#x - symbol %#x)", k.name, fn, off, want, addr, at[i].addr)
		}
		if module != at[i].module {
			t.Errorf("%s: %s module %q, want %q", k.name, fn, module, at[i].module)
		}
	}
}

// TestSiteBytes checks that bytes are the sum of the dropped packets'
// lengths: count times the known size of each drop, at each site and in the
// totals, and that each sample reports that size too.
func TestSiteBytes(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	const udp, frames, payload = 45, 30, 100
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path)
	sendAll(t, l, 7401, udp, payload, 0, 0, frames)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "rx_dropped": frames}, r.done)
	doc := decodeDocument(t, r.wait())
	sites := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp, unhandled: frames})
	tests := []struct {
		kind          *siteKind
		len, captured uint64
	}{
		{udpClosed, udpHeader + payload, ipv4Header + udpHeader + payload},
		{unhandled, frameLen, frameLen},
	}
	var total uint64
	for _, tt := range tests {
		s := sites[tt.kind]
		if s == nil {
			continue // checkSites said so
		}
		count, bytes := getUint(t, s, "count"), getUint(t, s, "bytes")
		total += bytes
		if bytes != count*tt.len {
			t.Errorf("%s: %d bytes for %d drops, want %d (%d bytes each)", tt.kind.name, bytes, count, count*tt.len, tt.len)
		}
		for _, p := range getObjects(t, s, "samples") {
			if got := getUint(t, p, "len"); got != tt.len {
				t.Errorf("%s: sample len %d, want %d", tt.kind.name, got, tt.len)
			}
			if got := getUint(t, p, "captured"); got != tt.captured {
				t.Errorf("%s: sample captured %d bytes, want %d", tt.kind.name, got, tt.captured)
			}
		}
	}
	if got := getUint(t, getObject(t, doc, "totals"), "bytes"); got != total {
		t.Errorf("totals.bytes = %d, want the sites' %d", got, total)
	}
}

// TestSamplesAtTheirSite makes drops at three sites at once and checks that
// every sample shown under a site is a packet of that site's traffic: the
// right protocol, addresses and destination port, the right length.
func TestSamplesAtTheirSite(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	// 42 drops: fewer than one CPU samples in a second, so none is
	// suppressed and every site has samples.
	const udp, tcp, frames, payload = 20, 10, 12, 24
	const udpPort, tcpPort = 7501, 7502
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path)
	sendAll(t, l, udpPort, udp, payload, tcpPort, tcp, frames)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "TcpOutRsts": tcp, "rx_dropped": frames}, r.done)
	doc := decodeDocument(t, r.wait())
	sites := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp, tcpClosed: tcp, unhandled: frames})
	totals := getObject(t, doc, "totals")
	if lost, suppressed := getUint(t, totals, "samples_lost"), getUint(t, totals, "samples_suppressed"); lost != 0 || suppressed != 0 {
		t.Fatalf("samples lost %d, suppressed %d: want every one of %d drops sampled", lost, suppressed, udp+tcp+frames)
	}
	docTime, err := time.Parse(time.RFC3339Nano, getString(t, doc, "time"))
	if err != nil {
		t.Fatal(err)
	}
	start := docTime.Add(-time.Duration(getFloat(t, doc, "window_s")*float64(time.Second)) - time.Second)

	sender, receiver := l.SenderAddr.String(), l.ReceiverAddr.String()
	for k, s := range sites {
		samples := getObjects(t, s, "samples")
		if n := getUint(t, s, "count"); len(samples) == 0 || uint64(len(samples)) > n {
			t.Errorf("%s: %d samples for %d drops, all of them sampled; want 1 to %d", k.name, len(samples), n, n)
		}
		for i, p := range samples {
			what := fmt.Sprintf("%s: sample %d %v", k.name, i, p)
			// Members a packet does not have are left out.
			str := func(key string) string { v, _ := p[key].(string); return v }
			port := func(key string) uint64 {
				if _, ok := p[key]; !ok {
					return 0
				}
				return getUint(t, p, key)
			}
			if str("interface") != l.ReceiverIf || str("l3") != k.l3 || str("l4") != k.l4 {
				t.Errorf("%s: want %s %s/%s", what, l.ReceiverIf, k.l3, k.l4)
			}
			ts, err := time.Parse(time.RFC3339Nano, str("time"))
			if err != nil || ts.Before(start) || ts.After(docTime) {
				t.Errorf("%s: time %q is not in the window (%s to %s)", what, str("time"), start, docTime)
			}
			switch k {
			case udpClosed:
				if str("src") != sender || str("dst") != receiver || port("dst_port") != udpPort || port("src_port") == 0 ||
					getUint(t, p, "len") != udpHeader+payload {
					t.Errorf("%s: want UDP %s -> %s:%d of %d bytes", what, sender, receiver, udpPort, udpHeader+payload)
				}
			case tcpClosed:
				if str("src") != sender || str("dst") != receiver || port("dst_port") != tcpPort || str("tcp_flags") != "S" {
					t.Errorf("%s: want a TCP SYN %s -> %s:%d", what, sender, receiver, tcpPort)
				}
			case unhandled:
				if str("src") != "" || str("dst") != "" || port("dst_port") != 0 || getUint(t, p, "len") != frameLen {
					t.Errorf("%s: want a %d-byte frame without addresses", what, frameLen)
				}
			}
		}
	}
}

// TestNetnsFilter makes drops in two namespaces during the window and
// reports on one of them: exactly its drops are counted, and nothing of the
// other shows up, neither as a site nor as an interface or counter.
func TestNetnsFilter(t *testing.T) {
	kerneltest.NeedRoot(t)
	a := kerneltest.NewLink(t)
	b := kerneltest.NewLink(t)
	const inA, inB, framesB = 25, 31, 9
	baseA, baseB := readTruth(t, a), readTruth(t, b)
	// By its `ip netns` name.
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", a.Receiver.Name)
	// B's drops before and after A's, the same kind to the same port.
	sendAll(t, b, 7601, inB, 32, 0, 0, framesB)
	sendAll(t, a, 7601, inA, 32, 0, 0, 0)
	sendAll(t, b, 7601, inB, 32, 0, 0, 0)
	waitTruth(t, a, baseA, groundTruth{"UdpNoPorts": inA}, r.done)
	// B's drops happened inside the window: the filter has something to
	// keep out.
	waitTruth(t, b, baseB, groundTruth{"UdpNoPorts": 2 * inB, "rx_dropped": framesB}, r.done)
	doc := decodeDocument(t, r.wait())
	checkSites(t, doc, a, map[*siteKind]uint64{udpClosed: inA})
	// The document names the namespace it watched.
	ns := getObject(t, doc, "namespace")
	if getString(t, ns, "name") != a.Receiver.Name || getString(t, ns, "path") != a.Receiver.Path || getUint(t, ns, "inode") != uint64(a.Receiver.Inode) {
		t.Errorf("namespace %v, want %s at %s, inode %d", ns, a.Receiver.Name, a.Receiver.Path, a.Receiver.Inode)
	}
	ifaces := getObjects(t, doc, "interfaces")
	if !slices.ContainsFunc(ifaces, func(i map[string]any) bool { return i["name"] == a.ReceiverIf }) {
		t.Errorf("no interface %s in %v", a.ReceiverIf, ifaces)
	}
	for _, ifc := range ifaces {
		if name := getString(t, ifc, "name"); name == b.ReceiverIf || getUint(t, ifc, "netns") != uint64(a.Receiver.Inode) {
			t.Errorf("interface %s of namespace %v reported; want only %s's (%d)", name, ifc["netns"], a.Receiver.Name, a.Receiver.Inode)
		}
	}
	var noPorts map[string]any
	for _, c := range getObjects(t, doc, "stack_counters") {
		if c["name"] == "UdpNoPorts" {
			noPorts = c
		}
	}
	if noPorts == nil || getUint(t, noPorts, "delta") != inA {
		t.Errorf("stack counter UdpNoPorts = %v, want a delta of %d, namespace A's", noPorts, inA)
	}
}

// TestOnceGrouped groups the rows of one site that the kernel counts apart
// (two unhandled ethertypes, one reason) and of one reason over two sites:
// each grouped row's count is the exact sum, and the totals do not move.
func TestOnceGrouped(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	const udp, framesA, framesB = 13, 7, 5
	base := readTruth(t, l)
	var runs []*onceRun
	for _, g := range []string{"full", "site", "reason"} {
		// Stopped once the drops are in (a slow machine, such as a
		// kernel of the matrix under qemu, may take seconds to start
		// three runs).
		runs = append(runs, startOnce(t, "--once", "--json", "--duration", "10m", "--group", g, "--netns", l.Receiver.Path))
	}
	sendAll(t, l, 7801, udp, 32, 0, 0, 0)
	if err := l.SendFrames(0x88b5, framesA); err != nil {
		t.Fatal(err)
	}
	if err := l.SendFrames(0x88b6, framesB); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "rx_dropped": framesA + framesB}, runs[0].done)
	var docs []map[string]any
	for _, r := range runs {
		docs = append(docs, decodeDocument(t, r.stop()))
	}
	noSocket, unhandled := kerneltest.Reason(t, "NO_SOCKET"), kerneltest.Reason(t, "UNHANDLED_PROTO")
	rows := func(doc map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, s := range getObjects(t, doc, "sites") {
			out[baseName(getString(t, s, "function"))+" "+reasonOf(s)] = s
		}
		return out
	}
	for i, g := range []string{"full", "site", "reason"} {
		doc := docs[i]
		totals := getObject(t, doc, "totals")
		if n := getUint(t, totals, "drops"); n != udp+framesA+framesB {
			t.Errorf("--group %s: totals %d drops, want %d", g, n, udp+framesA+framesB)
		}
		if got, want := doc["group"], map[string]any{"full": nil, "site": "site", "reason": "reason"}[g]; got != want {
			t.Errorf("--group %s: document group %v, want %v", g, got, want)
		}
	}
	full, site := rows(docs[0]), rows(docs[1])
	if len(getObjects(t, docs[0], "sites")) != 3 {
		t.Errorf("--group full: %s; want a row for UDP and one per ethertype", describeSites(t, docs[0]))
	}
	frames := site["__netif_receive_skb_core "+unhandled]
	if frames == nil || getUint(t, frames, "count") != framesA+framesB || getUint(t, frames, "protos") != 2 || getString(t, frames, "l3") != "" {
		t.Errorf("--group site: the frames' row %v, want %d drops over 2 protocols; all: %s", frames, framesA+framesB, describeSites(t, docs[1]))
	}
	if u := site["__udp4_lib_rcv "+noSocket]; u == nil || getUint(t, u, "count") != udp || getString(t, u, "interface") != l.ReceiverIf {
		t.Errorf("--group site: the UDP row %v, want %d drops on %s, as in full (%v)", u, udp, l.ReceiverIf, full["__udp4_lib_rcv "+noSocket])
	}
	// Without drop reasons (before 5.17) every drop has the one reason
	// "unknown", and --group reason makes one row of them all.
	byReason := map[string]uint64{noSocket: udp, unhandled: framesA + framesB}
	if !kerneltest.DropReasons(t) {
		byReason = map[string]uint64{"": udp + framesA + framesB}
	}
	for _, s := range getObjects(t, docs[2], "sites") {
		want := byReason[reasonOf(s)]
		if getUint(t, s, "count") != want {
			t.Errorf("--group reason: %v, want %d drops", s, want)
		}
	}
}

// TestOnceHide hides a site headless: its row is gone from the table and
// the document, its drops are still in the totals, and both say what was
// hidden.
func TestOnceHide(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	const udp, frames = 9, 6
	base := readTruth(t, l)
	// A rule with the reason, where the kernel reports reasons.
	rule := "__netif_receive_skb_core"
	if kerneltest.DropReasons(t) {
		rule += ":UNHANDLED_PROTO"
	}
	// Stopped once the drops are in: see TestOnceGrouped.
	doc := startOnce(t, "--once", "--json", "--duration", "10m", "--hide", rule, "--netns", l.Receiver.Path)
	table := startOnce(t, "--once", "--duration", "10m", "--hide", "__netif_receive_skb_core", "--netns", l.Receiver.Path)
	sendAll(t, l, 7901, udp, 32, 0, 0, frames)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "rx_dropped": frames}, doc.done)
	d := decodeDocument(t, doc.stop())
	for _, s := range getObjects(t, d, "sites") {
		if baseName(getString(t, s, "function")) == "__netif_receive_skb_core" {
			t.Errorf("a hidden site is in the document: %v", s)
		}
	}
	if n := getUint(t, getObject(t, d, "totals"), "drops"); n != udp+frames {
		t.Errorf("totals %d drops, want %d: hidden drops still count", n, udp+frames)
	}
	h := getObject(t, d, "hidden")
	if getUint(t, h, "sites") != 1 || getUint(t, h, "drops") != frames || fmt.Sprint(h["rules"]) != "["+rule+"]" {
		t.Errorf("hidden %v, want 1 site, %d drops under the rule", h, frames)
	}
	out := string(table.stop())
	if strings.Contains(out, "__netif_receive_skb_core+") || !strings.Contains(out, fmt.Sprintf("total %d drops", udp+frames)) ||
		!strings.Contains(out, fmt.Sprintf("hidden 1 site(s), %d drops", frames)) {
		t.Errorf("the table should leave the site out, count it in the total and say so:\n%s", out)
	}
}

// TestNetnsByPID watches the namespace a process lives in, given by its
// PID: the document names it by the path it was opened by and its `ip
// netns` name.
func TestNetnsByPID(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	cmd := exec.Command("ip", "netns", "exec", l.Receiver.Name, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// ip netns exec becomes sleep once it is in the namespace.
	pid := strconv.Itoa(cmd.Process.Pid)
	for deadline := time.Now().Add(settleTimeout); ; time.Sleep(10 * time.Millisecond) {
		if ino, err := netns.Inode("/proc/" + pid + "/ns/net"); err == nil && ino == l.Receiver.Inode {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s never entered %s", pid, l.Receiver.Name)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--once", "--json", "--duration", "100ms", "--netns", pid}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v; stderr %s", err, stderr.String())
	}
	ns := getObject(t, decodeDocument(t, stdout.Bytes()), "namespace")
	if getString(t, ns, "path") != "/proc/"+pid+"/ns/net" || getUint(t, ns, "inode") != uint64(l.Receiver.Inode) || getString(t, ns, "name") != l.Receiver.Name {
		t.Errorf("namespace %v, want /proc/%s/ns/net, inode %d, named %s", ns, pid, l.Receiver.Inode, l.Receiver.Name)
	}
}

// TestUnmatchedFilterWarns gives filters that match nothing: skbtop says so
// on stderr, naming what there is, and still reports.
func TestUnmatchedFilterWarns(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "nosuch0"}, "skbtop: warning: iface=nosuch0 matches no interface seen so far (interfaces: lo, " + l.ReceiverIf + "); counting on in case it appears"},
		{[]string{"--symbol", "no_such_kernel_function"}, "skbtop: warning: symbol~no_such_kernel_function is in no kernel function's name (drop sites: none yet)"},
	} {
		for _, mode := range [][]string{{"--once", "--duration", "100ms"}, {"--json", "--duration", "300ms"}} {
			args := append(append(slices.Clone(mode), tc.args...), "--netns", l.Receiver.Path)
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			if strings.Count(stderr.String(), tc.want) != 1 {
				t.Errorf("%v: stderr lacks, once, %q:\n%s", args, tc.want, stderr.String())
			}
			if stdout.Len() == 0 {
				t.Errorf("%v: no report", args)
			}
		}
	}
	// A filter that matches prints no warning.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--once", "--duration", "100ms", "--iface", l.ReceiverIf, "--symbol", "udp", "--netns", l.Receiver.Path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Errorf("a matching filter warned:\n%s", stderr.String())
	}
}

// cells splits a table line into its columns: tabwriter puts at least two
// spaces between them, and cells hold at most single spaces ("12 (100%)").
func cells(line string) []string {
	return regexp.MustCompile(` {2,}`).Split(strings.TrimRight(line, " "), -1)
}

// TestOnceTable reads the --once report as a person would: the header, one
// row per site with its function+offset, reason, interface, protocol and
// exact count, the totals, the interface's traced drops beside its
// rx_dropped, and the protocol counter of the drops.
func TestOnceTable(t *testing.T) {
	kerneltest.NeedRoot(t)
	syms := readKallsymsText(t)
	l := kerneltest.NewLink(t)
	const udp, frames = 30, 12
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--duration", "2s", "--netns", l.Receiver.Path)
	sendAll(t, l, 7701, udp, 40, 0, 0, frames)
	truth := waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "rx_dropped": frames}, r.done)
	out := string(r.wait())
	lines := strings.Split(out, "\n")
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nreport:\n%s", append(args, out)...)
	}
	next := func() string {
		t.Helper()
		if len(lines) == 0 {
			fail("report ends early")
		}
		line := lines[0]
		lines = lines[1:]
		return line
	}

	host, _ := os.Hostname()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^skbtop on (.+) \(kernel (.+)\), (\d+\.\d)s window, netns (.+)$`).FindStringSubmatch(next())
	if m == nil {
		fail("no header line")
	}
	window, _ := strconv.ParseFloat(m[3], 64)
	if m[4] != l.Receiver.Name {
		t.Errorf("header: netns %q, want the namespace watched, %s", m[4], l.Receiver.Name)
	}
	if m[1] != host || m[2] != unix.ByteSliceToString(u.Release[:]) || window < 2 || window > 3 {
		t.Errorf("header: host %q kernel %q window %ss; want %q, %q, the 2s asked for", m[1], m[2], m[3], host, unix.ByteSliceToString(u.Release[:]))
	}
	if !kerneltest.DropReasons(t) {
		if line, want := next(), "note: "+drops.NoReasonsNote; line != want {
			fail("want the note %q after the header, got %q", want, line)
		}
	}
	if line := next(); line != "" {
		fail("want an empty line after the header (no warnings), got %q", line)
	}
	if h := cells(next()); !slices.Equal(h, []string{"SITE", "REASON", "INTERFACE", "PROTO", "COUNT", "RATE/s"}) {
		fail("site table header %q", h)
	}
	type row struct {
		symbol, reason, iface, proto string
		count                        uint64
		rate                         float64
	}
	var rows []row
	for line := next(); line != ""; line = next() {
		c := cells(line)
		if len(c) != 6 {
			fail("site row %q has %d columns, want 6", line, len(c))
		}
		count, err1 := strconv.ParseUint(c[4], 10, 64)
		rate, err2 := strconv.ParseFloat(c[5], 64)
		if err1 != nil || err2 != nil {
			fail("site row %q: count or rate is no number", line)
		}
		rows = append(rows, row{c[0], c[1], c[2], c[3], count, rate})
	}
	want := []struct {
		function, reason, proto string
		count                   uint64
	}{
		// By rate, highest first.
		{"__udp4_lib_rcv", reasonLabel(t, "NO_SOCKET"), "IPv4/UDP", udp},
		{"__netif_receive_skb_core", reasonLabel(t, "UNHANDLED_PROTO"), "0x88b5", frames},
	}
	if len(rows) != len(want) {
		fail("%d site rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		got := rows[i]
		fn, off, ok := strings.Cut(got.symbol, "+0x")
		if !ok || baseName(fn) != w.function || got.reason != w.reason || got.iface != l.ReceiverIf || got.proto != w.proto || got.count != w.count {
			t.Errorf("site row %d = %+v, want %s+0x... %s %s %s %d", i, got, w.function, w.reason, l.ReceiverIf, w.proto, w.count)
			continue
		}
		// The site lies inside the function it is named after.
		offset, err := strconv.ParseUint(off, 16, 64)
		if err != nil {
			t.Errorf("site %s: offset is not hex", got.symbol)
		}
		inside := false
		for _, s := range syms {
			if s.name == fn && slices.ContainsFunc(symbolsAt(syms, s.addr+offset), func(e kallsymsEntry) bool { return e.name == fn }) {
				inside = true
			}
		}
		if !inside {
			t.Errorf("site %s: %s+%#x is not inside %s by /proc/kallsyms", got.symbol, fn, offset, fn)
		}
		// --once has one interval, the whole window.
		if math.Abs(got.rate*window-float64(got.count)) > 0.05*float64(got.count) {
			t.Errorf("site %s: rate %.1f/s over a %.1fs window for %d drops", got.symbol, got.rate, window, got.count)
		}
	}

	m = regexp.MustCompile(`^total (\d+) drops, (\d+\.\d)/s; samples lost (\d+), suppressed (\d+); map overflow (\d+); recursion misses (\d+); keys (\d+)/(\d+)$`).FindStringSubmatch(next())
	if m == nil {
		fail("no totals line")
	}
	// The keys of the last interval, out of the default map size.
	if m[8] != "16384" {
		t.Errorf("totals: keys %s/%s, want a map of 16384", m[7], m[8])
	}
	if m[1] != strconv.Itoa(udp+frames) || m[3] != "0" || m[5] != "0" {
		t.Errorf("totals: %d drops, %s samples lost, %s overflowed; want %d, 0, 0", udp+frames, m[3], m[5], udp+frames)
	}
	if line := next(); line != "" {
		fail("want an empty line after the totals, got %q", line)
	}

	if h := cells(next()); !slices.Equal(h, []string{"INTERFACE", "TRACED", "RX_DROPPED", "TX_DROPPED", "RX_MISSED", "RX_FIFO", "RX_NOHANDLER", "RX_OTHERHOST_DROPPED", "RX_ERRORS", "TX_ERRORS", "EXPLAINED"}) {
		fail("interface table header %q", h)
	}
	// The frames are in rx_dropped, and the traced UNHANDLED_PROTO drops
	// explain all of it; the UDP drops are traced on the interface but
	// counted elsewhere (UdpNoPorts).
	// rx_otherhost_dropped is "-" where the kernel has no such counter
	// (before 6.0).
	otherhost := "-"
	if kerneltest.StructHasMember(t, "rtnl_link_stats64", "rx_otherhost_dropped") {
		otherhost = "0"
	}
	wantRow := []string{l.ReceiverIf, strconv.Itoa(udp + frames), strconv.Itoa(frames), "0", "0", "0", "0", otherhost, "0", "0", fmt.Sprintf("%d (100%%)", frames)}
	if got := cells(next()); !slices.Equal(got, wantRow) {
		t.Errorf("interface row %q, want %q", got, wantRow)
	}
	for line := next(); !strings.HasPrefix(line, "1 interface(s) without drops not shown"); line = next() {
		// The notes under the table: lines of prose, no columns.
		if line == "" || len(cells(line)) > 1 {
			fail("want the interface table's notes, then the note that lo is not shown; got %q", line)
		}
	}
	if line := next(); line != "" {
		fail("want an empty line after the interfaces, got %q", line)
	}

	if h := cells(next()); !slices.Equal(h, []string{"COUNTER", "CHANGE", "RATE/s", "VALUE"}) {
		fail("counter table header %q", h)
	}
	found := false
	for line := next(); line != ""; line = next() {
		c := cells(line)
		if len(c) != 4 {
			fail("counter row %q has %d columns, want 4", line, len(c))
		}
		if c[0] == "UdpNoPorts" {
			found = true
			if c[1] != strconv.Itoa(udp) || c[3] != strconv.FormatUint(truth["UdpNoPorts"], 10) {
				t.Errorf("UdpNoPorts row %q: want a change of %d and the namespace's value %d", c, udp, truth["UdpNoPorts"])
			}
		}
	}
	if !found {
		fail("no UdpNoPorts row")
	}
	if len(lines) != 0 {
		fail("more after the counters: %q", lines)
	}
}

// TestNDJSON reads --json's stream: every line is a whole snapshot
// document, counts never go down, each line's counts grow by its rates
// times its interval, windows add up, and the last line counts every drop.
func TestNDJSON(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	const udp = 40
	base := readTruth(t, l)
	r, first := startNDJSON(t, "--json", "--interval", "200ms", "--duration", "2s", "--netns", l.Receiver.Path)
	sendAll(t, l, 7801, udp, 16, 0, 0, 0)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp}, r.done)
	lines := append([]string{first}, r.rest()...)
	// A line at once, then one per interval until the duration ends.
	if len(lines) < 3 || len(lines) > 1+10 {
		t.Fatalf("%d lines in 2s at 200ms intervals, want 3 to 11:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	// grewByRate reports whether a count's change is its rate times the
	// interval.
	grewByRate := func(delta uint64, rate, interval float64) bool {
		return math.Abs(rate*interval-float64(delta)) <= 1e-6*math.Max(1, float64(delta))
	}
	siteID := func(s map[string]any) string {
		return fmt.Sprint(s["address"], s["reason"], s["ifindex"], s["netns"], s["l3"], s["l4"])
	}
	var (
		prevWindow float64
		prevDrops  uint64
		prevTime   time.Time
		prevSites  = map[string]uint64{}
		// merged holds each site as it last appeared: lines after the
		// first list only the sites that dropped in their interval.
		merged = map[string]map[string]any{}
	)
	for i, line := range lines {
		doc := decodeDocument(t, []byte(line))
		if got := getString(t, doc, "schema"); got != "skbtop.snapshot/v1" {
			t.Errorf("line %d: schema %q", i+1, got)
		}
		ts, err := time.Parse(time.RFC3339Nano, getString(t, doc, "time"))
		if err != nil || ts.Before(prevTime) {
			t.Errorf("line %d: time %v goes back from %s", i+1, doc["time"], prevTime)
		}
		prevTime = ts
		window, interval := getFloat(t, doc, "window_s"), getFloat(t, doc, "interval_s")
		totals := getObject(t, doc, "totals")
		drops := getUint(t, totals, "drops")
		partial := doc["partial"] == true
		if partial == (i == 0) {
			t.Errorf("line %d: partial is %v", i+1, doc["partial"])
		}
		sites := maps.Clone(prevSites)
		for _, s := range getObjects(t, doc, "sites") {
			if _, ok := s["samples"]; ok {
				t.Errorf("line %d: NDJSON lines carry no samples, got %v", i+1, s["samples"])
			}
			id, count := siteID(s), getUint(t, s, "count")
			sites[id] = count
			merged[id] = s
			if partial && getFloat(t, s, "rate") == 0 {
				t.Errorf("line %d: site %v+%v did not drop in the interval, but is listed", i+1, s["function"], s["offset"])
			}
			if count < prevSites[id] {
				t.Errorf("line %d: site %v+%v went down from %d to %d", i+1, s["function"], s["offset"], prevSites[id], count)
			} else if !grewByRate(count-prevSites[id], getFloat(t, s, "rate"), interval) {
				t.Errorf("line %d: site %v+%v grew by %d in %gs at a rate of %v/s", i+1, s["function"], s["offset"], count-prevSites[id], interval, s["rate"])
			}
		}
		var sum uint64
		for _, n := range sites {
			sum += n
		}
		if sum != drops {
			t.Errorf("line %d: totals.drops %d, the sites add up to %d", i+1, drops, sum)
		}
		if i == 0 {
			if window != 0 || drops != 0 {
				t.Errorf("first line: window %gs with %d drops, want the empty window tracing starts with", window, drops)
			}
		} else {
			if drops < prevDrops || !grewByRate(drops-prevDrops, getFloat(t, totals, "rate"), interval) {
				t.Errorf("line %d: %d drops after %d, at %v/s over %gs", i+1, drops, prevDrops, totals["rate"], interval)
			}
			if interval <= 0 || math.Abs(window-prevWindow-interval) > 1e-6 {
				t.Errorf("line %d: window %gs after %gs, but an interval of %gs", i+1, window, prevWindow, interval)
			}
		}
		prevWindow, prevDrops, prevSites = window, drops, sites
		if i == len(lines)-1 {
			var all []any
			for _, s := range merged {
				all = append(all, s)
			}
			doc["sites"] = all
			checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp})
		}
	}
}
