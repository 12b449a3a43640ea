package main

// Kernel tests of the "why" outputs: stacks on demand (--stacks) and the
// pcap-ng file of sampled packets (--pcap).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// TestOnceStacks sends 200 datagrams to a closed port and asks for the
// stacks of __udp4_lib_rcv: the site has stacks that pass through
// __udp4_lib_rcv and ip_local_deliver, and every drop of the site is either
// in a stack's count or counted as a drop whose stack was not counted
// (beyond the rate limit, collisions, full maps, failures: with 200 drops,
// fewer than one CPU records in a second, none should be over the limit). The collection starts before skbtop
// says it is tracing and stops before its last reading, so no drop can
// fall outside it: the stacks' counts add up to the site's count less
// those counted failures, exactly.
func TestOnceStacks(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	const udp, udpPort = 200, 7601
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path, "--stacks", "__udp4_lib_rcv")
	sendAll(t, l, udpPort, udp, 16, 0, 0, 0)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp}, r.done)
	doc := decodeDocument(t, r.wait())
	site := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp})[udpClosed]
	if site == nil {
		t.Fatal("no site of the datagrams")
	}
	trace := getObject(t, doc, "stack_trace")
	if got := getString(t, trace, "request"); got != "__udp4_lib_rcv" {
		t.Errorf("stack_trace.request = %q, want __udp4_lib_rcv", got)
	}
	failed := getUint(t, trace, "suppressed") + getUint(t, trace, "collisions") + getUint(t, trace, "stacks_full") +
		getUint(t, trace, "counts_full") + getUint(t, trace, "failed")
	stacks := getObjects(t, site, "stacks")
	if len(stacks) == 0 {
		t.Fatalf("the site has no stacks: %v", site)
	}
	var sum uint64
	for i, st := range stacks {
		n := getUint(t, st, "count")
		if i > 0 && n > getUint(t, stacks[i-1], "count") {
			t.Errorf("stack %d counts %d, more than the one before it: want the most frequent first", i, n)
		}
		sum += n
		frames, _ := st["frames"].([]any)
		var names []string
		for _, f := range frames {
			s, _ := f.(string)
			names = append(names, s)
		}
		if !hasFrame(names, "__udp4_lib_rcv+0x") || !hasFrame(names, "ip_local_deliver") {
			t.Errorf("stack %d does not pass through __udp4_lib_rcv and ip_local_deliver: %q", i, names)
		}
		// The stack starts where the skb was freed, not in the
		// tracing machinery that recorded it.
		if len(names) > 0 && (strings.HasPrefix(names[0], "bpf_") || strings.HasPrefix(names[0], "0x")) {
			t.Errorf("stack %d starts in the tracer: %q", i, names)
		}
	}
	if recorded := getUint(t, trace, "recorded"); recorded != sum {
		t.Errorf("stack_trace.recorded = %d, the stacks count %d", recorded, sum)
	}
	if sum+failed != udp {
		t.Errorf("stacks count %d drops and %d were not counted (%v), want the site's %d", sum, failed, trace, udp)
	}
}

func hasFrame(frames []string, prefix string) bool {
	for _, f := range frames {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// TestStacksBadSymbol asks for the stacks of a function the kernel does not
// have: one line says so, before any tracing.
func TestStacksBadSymbol(t *testing.T) {
	kerneltest.NeedRoot(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--once", "--duration", "1s", "--stacks", "no_such_function_skbtop"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("skbtop ran with --stacks of a function that does not exist")
	}
	var msg bytes.Buffer
	code := report(err, &msg)
	want := "skbtop: --stacks: no kernel function is named \"no_such_function_skbtop\" (see /proc/kallsyms)\n"
	if code != 2 || msg.String() != want {
		t.Errorf("exit %d, %q; want 2, %q", code, msg.String(), want)
	}
	if stdout.Len() > 0 || strings.Contains(stderr.String(), "tracing") {
		t.Errorf("skbtop traced anyway: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestOncePcap sends datagrams and TCP connection attempts to closed ports
// with --symbol udp4 and --pcap: tcpdump reads the file and lists exactly
// the datagrams (every one was sampled: fewer than a CPU samples in a
// second), with their addresses and ports, and nothing of the TCP drops
// the filter leaves out; each packet's comment names its site, reason and
// namespace, its interface block the receiver's interface, and the
// section comment how many drops there were and how many were sampled.
func TestOncePcap(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tcpdump")
	l := kerneltest.NewLink(t)
	const udp, tcp, payload, udpPort, tcpPort = 20, 5, 16, 7602, 7603
	path := filepath.Join(t.TempDir(), "drops.pcapng")
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path, "--symbol", "udp4", "--pcap", path)
	sendAll(t, l, udpPort, udp, payload, tcpPort, tcp, 0)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "TcpOutRsts": tcp}, r.done)
	doc := decodeDocument(t, r.wait())
	site := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp})[udpClosed]
	if site == nil {
		t.Fatal("no site of the datagrams")
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	out, err := exec.Command("tcpdump", "-n", "-r", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	want := regexp.MustCompile(fmt.Sprintf(`^\d\d:\d\d:\d\d\.\d{6} IP %s\.\d+ > %s\.%d: UDP, length %d$`,
		regexp.QuoteMeta(l.SenderAddr.String()), regexp.QuoteMeta(l.ReceiverAddr.String()), udpPort, payload))
	var listed int
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "reading from file"):
			if !strings.Contains(line, "link-type IPV4 (Raw IPv4)") {
				t.Errorf("tcpdump: %q, want link-type IPV4", line)
			}
		case want.MatchString(line):
			listed++
		default:
			t.Errorf("tcpdump lists %q, want only UDP %s -> %s:%d of %d bytes", line, l.SenderAddr, l.ReceiverAddr, udpPort, payload)
		}
	}
	if listed != udp {
		t.Errorf("tcpdump lists %d datagrams, want %d:\n%s", listed, udp, out)
	}
	checkPcapComments(t, path, l, udp, fmt.Sprintf("dropped at %s+%s, reason %s, netns %d (%s)",
		getString(t, site, "function"), getString(t, site, "offset"), reasonLabel(t, "NO_SOCKET"), l.Receiver.Inode, l.Receiver.Name))
}

// checkPcapComments reads the file with pcapgo: n packets, each commented
// with comment on the receiver's interface, and a section comment saying
// that the site had n drops, n sampled, n in the file.
func checkPcapComments(t *testing.T, path string, l *netlab.Link, n int, comment string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var got int
	for {
		_, ci, opts, err := rd.ReadPacketDataWithOptions()
		if err != nil {
			break
		}
		got++
		if len(opts.Comments) != 1 || opts.Comments[0] != comment {
			t.Errorf("packet %d: comments %q, want %q", got, opts.Comments, comment)
		}
		ifc, err := rd.Interface(ci.InterfaceIndex)
		if err != nil || ifc.Name != l.ReceiverIf || ifc.LinkType != layers.LinkTypeIPv4 {
			t.Errorf("packet %d: interface %+v (%v), want %s of link type IPV4", got, ifc, err, l.ReceiverIf)
		}
	}
	if got != n {
		t.Errorf("pcapgo reads %d packets, want %d", got, n)
	}
	sec := rd.SectionInfo().Comment
	if want := fmt.Sprintf("\n%d drops at 1 sites, %d sampled, %d in this file\n", n, n, n); !strings.Contains(sec, want) {
		t.Errorf("section comment %q does not say %q", sec, want)
	}
}

// TestPcapUnwritable asks for a pcap file where none can be made: one line
// says so, before any tracing.
func TestPcapUnwritable(t *testing.T) {
	kerneltest.NeedRoot(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--once", "--duration", "1s", "--pcap", "/nonexistent-skbtop/x.pcapng"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("skbtop ran with a --pcap file that cannot be made")
	}
	var msg bytes.Buffer
	report(err, &msg)
	if got := msg.String(); !strings.HasPrefix(got, "skbtop: --pcap: ") || !strings.Contains(got, "/nonexistent-skbtop") ||
		!strings.Contains(got, "no such file or directory") || strings.Count(got, "\n") != 1 {
		t.Errorf("message %q, want one line naming the file and why", got)
	}
	if strings.Contains(stderr.String(), "tracing") {
		t.Errorf("skbtop traced anyway: %q", stderr.String())
	}
}

// TestTUIStacksAndPcap drives the live view in tmux with real drops: 'w'
// on the UDP site writes a pcap-ng file beside the snapshots that tcpdump
// reads as the datagrams; in the site's detail 't' collects its kernel
// stacks while datagrams keep coming, and the detail lists at least one,
// through __udp4_lib_rcv.
func TestTUIStacksAndPcap(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	kerneltest.NeedTool(t, "tcpdump")
	bin := buildSkbtop(t)
	l := kerneltest.NewLink(t)
	dir := t.TempDir()
	const udpPort = 7604
	// Wide enough for the status line to hold the file's whole path.
	p := startPane(t, "why", 220, 40, fmt.Sprintf("env XDG_CONFIG_HOME=%s %s --netns %s --snapshot-dir %s --interval 250ms",
		t.TempDir(), bin, l.Receiver.Path, dir))
	if err := l.SendUDP(udpPort, 10, 16); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the UDP site", func(s string) bool {
		rows := siteLines(s)
		return len(rows) > 0 && strings.HasPrefix(rows[0][0], "__udp4_lib_rcv+0x")
	})
	// The row has its 8 samples once the reader has taken the burst
	// (a drain interval after the first wakes it; slower under qemu):
	// w again until a file holds all of them. Each w writes a new file,
	// named in the status line; the test follows that name. A w before
	// the first sample says there is nothing to write (the 6.12 guest
	// once showed the row that early): w again once that message has
	// gone, since the next one reads the same.
	wrote := regexp.MustCompile(`wrote (\d+) sampled packets of __udp4_lib_rcv\+0x[0-9a-f]+ to (\S+\.pcapng)`)
	const nothing = "no sampled packets in this row yet"
	var screen, file, last string
	for deadline := time.Now().Add(settleTimeout); ; {
		p.keys("w")
		screen = p.waitFor("a new pcap file written, or nothing to write", func(s string) bool {
			m := wrote.FindStringSubmatch(s)
			return m != nil && m[2] != last || strings.Contains(s, nothing)
		})
		got := "no"
		if m := wrote.FindStringSubmatch(screen); m != nil && m[2] != last {
			last, got = m[2], m[1]
			if got == "8" {
				file = last
				break
			}
		} else {
			p.waitFor("the nothing-to-write message to go", func(s string) bool { return !strings.Contains(s, nothing) })
		}
		if time.Now().After(deadline) {
			// A row keeps its last 8 samples.
			t.Fatalf("the last w wrote %s packets, want 8; screen:\n%s", got, screen)
		}
	}
	if filepath.Dir(file) != dir {
		t.Errorf("wrote %s, want it in the snapshot directory %s", file, dir)
	}
	files := []string{file}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, %v; want 0600", files[0], fi.Mode(), err)
	}
	out, err := exec.Command("tcpdump", "-n", "-r", files[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), fmt.Sprintf(" IP %s.", l.SenderAddr)); n != 8 ||
		strings.Count(string(out), fmt.Sprintf(" > %s.%d: UDP, length 16", l.ReceiverAddr, udpPort)) != 8 {
		t.Errorf("tcpdump lists, want 8 datagrams to %s:%d:\n%s", l.ReceiverAddr, udpPort, out)
	}

	p.keys("Enter")
	p.waitFor("the detail", func(s string) bool { return strings.Contains(s, "Drop site") })
	every(t, 20*time.Millisecond, func() error { return l.SendUDP(udpPort, 1, 16) })
	p.keys("t")
	p.waitFor("stacks being collected", func(s string) bool { return strings.Contains(s, "collecting for 3s") })
	screen = p.waitFor("the stacks", func(s string) bool { return strings.Contains(s, "distinct") })
	var frames int
	for line := range strings.Lines(screen) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[len(f)-1], "__udp4_lib_rcv+0x") {
			frames++
		}
	}
	if frames == 0 || strings.Contains(screen, "No drop at this site") {
		t.Errorf("the detail lists no stack through __udp4_lib_rcv:\n%s", screen)
	}
}
