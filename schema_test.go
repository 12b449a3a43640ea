package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

var updateSchema = flag.Bool("update", false, "rewrite testdata/snapshot-schema.golden from this kernel's output")

const schemaGolden = "testdata/snapshot-schema.golden"

// schemaPaths adds every member of v to types as "path: type": objects'
// members by name (sites.count), array elements as [] (sites[].samples[]),
// types as JSON names them (object, array, string, number, bool, null).
func schemaPaths(types map[string]map[string]bool, path string, v any) {
	var typ string
	switch v := v.(type) {
	case map[string]any:
		typ = "object"
		for k, e := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			schemaPaths(types, p, e)
		}
	case []any:
		typ = "array"
		for _, e := range v {
			schemaPaths(types, path+"[]", e)
		}
	case string:
		typ = "string"
	case json.Number:
		typ = "number"
	case bool:
		typ = "bool"
	case nil:
		typ = "null"
	default:
		typ = "unknown"
	}
	if path == "" {
		return
	}
	if types[path] == nil {
		types[path] = map[string]bool{}
	}
	types[path][typ] = true
}

// schemaLines renders the paths sorted, one "path: type" a line; a member
// seen with more than one type lists them all (number|null).
func schemaLines(types map[string]map[string]bool) []string {
	var lines []string
	for _, p := range slices.Sorted(maps.Keys(types)) {
		lines = append(lines, p+": "+strings.Join(slices.Sorted(maps.Keys(types[p])), "|"))
	}
	return lines
}

// TestSnapshotSchema pins the snapshot document's members and their types:
// every key of `--once --json`, with every optional part present, flattened
// into "path: type" lines and compared with testdata/snapshot-schema.golden.
// Renaming, removing, adding or retyping a member fails it; a deliberate
// change of the document is made by regenerating the file (as root):
//
//	go test -run TestSnapshotSchema -update .
//
// Two runs make every optional member appear. The first reports on the
// receiver namespace (--netns), so interfaces carry counters, deltas, rates
// and the reconciliation and stack_counters lists what changed; drops at
// four sites give samples of every shape (UDP and TCP ports, TCP flags, an
// ICMP info, a frame with no IP at all). The second reports on the host's
// namespace with both filters set: the drops are then in another namespace,
// whose name sites and interfaces carry, and the filter is in the document.
// A third groups by reason, for the members of grouped rows.
// Only warnings, which need something to fail, never appear.
func TestSnapshotSchema(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)

	// Fewer drops than one CPU may sample in a second, so every site has
	// samples.
	const udp, tcp, frames, icmp = 10, 5, 6, 4
	base := readTruth(t, l)
	// With the stacks of one site's function, so that the document has
	// stacks and stack_trace.
	r := startOnce(t, "--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path, "--stacks", "__udp4_lib_rcv")
	sendAll(t, l, 7001, udp, 32, 7002, tcp, frames)
	sendBroadcastEcho(t, l, icmp)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp, "TcpOutRsts": tcp, "IcmpInErrors": icmp, "rx_dropped": frames}, r.done)
	doc := decodeDocument(t, r.wait())

	base = readTruth(t, l)
	r = startOnce(t, "--once", "--json", "--duration", "1s", "--iface", l.ReceiverIf, "--symbol", "udp4")
	sendAll(t, l, 7001, udp, 32, 0, 0, 0)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": udp}, r.done)
	filtered := decodeDocument(t, r.wait())

	// A third, grouped by reason, has rows over several sites,
	// interfaces and protocols: NO_SOCKET at __udp4_lib_rcv (on the
	// veth and on lo) and at tcp_v4_rcv; a hide rule is in force.
	base = readTruth(t, l)
	r = startOnce(t, "--once", "--json", "--duration", "1s", "--group", "reason", "--hide", "no_such_function", "--netns", l.Receiver.Path)
	sendAll(t, l, 7001, udp, 32, 7002, tcp, 0)
	sendLoopbackUDP(t, l.Receiver, 7003, udp)
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": 2 * udp, "TcpOutRsts": tcp}, r.done)
	grouped := decodeDocument(t, r.wait())

	// A fourth, host-wide on the receiver's interface, has retransmits:
	// the receiver's SYNs to 198.18.0.3, whose neighbour entry names a MAC
	// nobody has, go unanswered (the sender drops them as for another
	// host, in its own namespace), so the receiver retransmits the SYN
	// after a second with no drop of its own: the loss is outside.
	retrans := retransmitSYN(t, l, func() *onceRun {
		return startOnce(t, "--once", "--json", "--duration", "3s", "--iface", l.ReceiverIf)
	})

	// The documents' members first: a renamed one fails here, before the
	// checks below trip over its absence.
	types := map[string]map[string]bool{}
	schemaPaths(types, "", doc)
	schemaPaths(types, "", filtered)
	schemaPaths(types, "", grouped)
	schemaPaths(types, "", retrans)
	compareSchema(t, schemaLines(types))

	// Then that the documents are what the runs were for: every kind of
	// drop counted exactly, every site with samples, the filtered run's
	// site in another namespace.
	if got := getString(t, doc, "schema"); got != "skbtop.snapshot/v1" {
		t.Errorf("schema = %q, want skbtop.snapshot/v1", got)
	}
	sites := checkSites(t, doc, l, map[*siteKind]uint64{udpClosed: udp, tcpClosed: tcp, unhandled: frames, icmpBroadcast: icmp})
	for k, s := range sites {
		if len(getObjects(t, s, "samples")) == 0 {
			t.Errorf("%s: no samples", k.name)
		}
	}
	if got := getString(t, filtered, "schema"); got != "skbtop.snapshot/v1" {
		t.Errorf("schema = %q, want skbtop.snapshot/v1", got)
	}
	sites = checkSites(t, filtered, l, map[*siteKind]uint64{udpClosed: udp})
	if s := sites[udpClosed]; s != nil && getString(t, s, "namespace") != l.Receiver.Name {
		t.Errorf("site namespace %q, want %q", s["namespace"], l.Receiver.Name)
	}
	rt := getObject(t, retrans, "retransmits")
	if peers := getObjects(t, rt, "peers"); len(peers) != 1 || getString(t, peers[0], "remote") != "198.18.0.3" ||
		getUint(t, peers[0], "remote_port") != 7004 || getString(t, peers[0], "state") != "SYN_SENT" ||
		getString(t, peers[0], "interface") != l.ReceiverIf || getString(t, peers[0], "namespace") != l.Receiver.Name ||
		getUint(t, peers[0], "count") == 0 || peers[0]["outside"] != true {
		t.Errorf("retransmits: %v; want one peer, 198.18.0.3:7004 in SYN_SENT on %s@%s, outside", rt, l.ReceiverIf, l.Receiver.Name)
	}
	if notes, _ := rt["notes"].([]any); len(notes) != 1 || notes[0] != "retransmits to 198.18.0.3:7004 with no local drops: the loss is outside this host" {
		t.Errorf("retransmits notes %v", rt["notes"])
	}
	rows := getObjects(t, grouped, "sites")
	if len(rows) != 1 || getUint(t, rows[0], "count") != 2*udp+tcp || getUint(t, rows[0], "sites") != 2 || getUint(t, rows[0], "ifaces") != 2 {
		t.Errorf("grouped by reason: %s; want one NO_SOCKET row of %d drops over 2 sites and 2 interfaces", describeSites(t, grouped), 2*udp+tcp)
	}
}

// retransmitSYN starts skbtop with start, then connects from the link's
// receiver to 198.18.0.3 through a neighbour entry nobody answers for, and
// returns skbtop's report once the receiver's TcpRetransSegs says the SYN
// was retransmitted.
func retransmitSYN(t *testing.T, l *netlab.Link, start func() *onceRun) map[string]any {
	t.Helper()
	if out, err := exec.Command("ip", "-n", l.Receiver.Name, "neigh", "replace", "198.18.0.3", "lladdr", "02:00:c6:12:00:99",
		"dev", l.ReceiverIf, "nud", "permanent").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v: %s", err, out)
	}
	base := readSNMP(t, l.Receiver)
	r := start()
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		dialed <- l.Receiver.Do(func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp4", "198.18.0.3:7004")
			if err == nil {
				c.Close()
				return errors.New("198.18.0.3 answered")
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-dialed; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(settleTimeout)
	for readSNMP(t, l.Receiver)["TcpRetransSegs"] == base["TcpRetransSegs"] {
		if time.Now().After(deadline) {
			t.Fatal("the receiver did not retransmit its SYN")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-r.done:
		t.Fatal("skbtop's window closed before the SYN was retransmitted: the machine is too busy for it")
	default:
	}
	return decodeDocument(t, r.wait())
}

// kernelMembers are the members only some kernels' documents have, with
// what decides it: drop reasons (Linux 5.17), their absence, namespace
// cookies (5.14) and rx_otherhost_dropped (6.0). The golden file holds the
// members of every kernel; those whose kernel feature this one lacks must
// be absent, the others present.
var kernelMembers = map[string]string{
	"sites[].reason: string":                             "reasons",
	"sites[].reason_code: number":                        "reasons",
	"capabilities: object":                               "no reasons",
	"capabilities.drop_reasons: bool":                    "no reasons",
	"capabilities.notes: array":                          "no reasons",
	"capabilities.notes[]: string":                       "no reasons",
	"sites[].netns_cookie: number":                       "cookies",
	"interfaces[].netns_cookie: number":                  "cookies",
	"retransmits.peers[].netns_cookie: number":           "cookies",
	"interfaces[].counters.rx_otherhost_dropped: number": "otherhost",
	"interfaces[].delta.rx_otherhost_dropped: number":    "otherhost",
	"interfaces[].rates.rx_otherhost_dropped: number":    "otherhost",
}

// kernelHas says whether the running kernel has a feature of
// kernelMembers, each read from another source than skbtop's own: the
// tracepoint's format, a socket's SO_NETNS_COOKIE, struct
// rtnl_link_stats64 in the kernel's BTF.
func kernelHas(t *testing.T, feature string) bool {
	t.Helper()
	switch feature {
	case "reasons":
		return kerneltest.DropReasons(t)
	case "no reasons":
		return !kerneltest.DropReasons(t)
	case "cookies":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		_, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		return err == nil
	case "otherhost":
		return kerneltest.StructHasMember(t, "rtnl_link_stats64", "rx_otherhost_dropped")
	}
	t.Fatalf("unknown kernel feature %q", feature)
	return false
}

// compareSchema compares the document's "path: type" lines with the golden
// file, or rewrites the file with -update (keeping the members of other
// kernels, see kernelMembers).
func compareSchema(t *testing.T, got []string) {
	t.Helper()
	b, err := os.ReadFile(schemaGolden)
	if err != nil && !*updateSchema {
		t.Fatalf("%v (create it with -update)", err)
	}
	var want []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	expected := func(line string) bool {
		feature, ok := kernelMembers[line]
		return !ok || kernelHas(t, feature)
	}
	if *updateSchema {
		lines := slices.Clone(got)
		for _, line := range want {
			if !expected(line) && !slices.Contains(lines, line) {
				lines = append(lines, line)
			}
		}
		slices.Sort(lines)
		text := "# The snapshot document's members (skbtop.snapshot/v1): see TestSnapshotSchema.\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(schemaGolden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, line := range want {
		if has := slices.Contains(got, line); has != expected(line) {
			if has {
				t.Errorf("in the document, though this kernel lacks %s: %s", kernelMembers[line], line)
			} else {
				t.Errorf("missing from the document: %s", line)
			}
		}
	}
	for _, line := range got {
		if !slices.Contains(want, line) {
			t.Errorf("not in %s: %s", schemaGolden, line)
		}
	}
	if t.Failed() {
		t.Logf("if the document changed on purpose, regenerate with: go test -run TestSnapshotSchema -update .")
	}
}
