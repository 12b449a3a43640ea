package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
)

// reasonLabel is how the table and the live view show a reason of this
// name on this kernel: the name, or "unknown" where the kernel reports no
// reasons.
func reasonLabel(t testing.TB, name string) string {
	t.Helper()
	if !kerneltest.DropReasons(t) {
		return "unknown"
	}
	return name
}

// reasonOf returns a document site's reason, "" when it has none.
func reasonOf(s map[string]any) string {
	r, _ := s["reason"].(string)
	return r
}

// TestClosedPortEveryKernel is the kernel matrix's first check (matrix/run):
// 100 datagrams to a closed port of a test namespace are counted exactly
// 100, at __udp4_lib_rcv+0x…, on the receiver's interface and namespace,
// on whatever kernel runs it. Where the kernel reports drop reasons
// (kerneltest.DropReasons reads the tracepoint's format), the reason is
// NO_SOCKET; where it does not (before Linux 5.17), the document has no
// reason and says why in its capabilities, and the table shows the reason
// as unknown under a note.
func TestClosedPortEveryKernel(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	reasons := kerneltest.DropReasons(t)
	const n = 100

	// The document. skbtop watches every namespace, so that the site
	// carries the test namespace's name.
	base := readTruth(t, l)
	r := startOnce(t, "--once", "--json", "--duration", "10m", "--symbol", "udp4_lib_rcv")
	if err := l.SendUDP(9, n, 32); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": n}, r.done)
	doc := decodeDocument(t, r.stop())
	var ours []map[string]any
	for _, s := range getObjects(t, doc, "sites") {
		if getUint(t, s, "netns") == uint64(l.Receiver.Inode) {
			ours = append(ours, s)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("%d sites in the receiver's namespace, want 1:%s", len(ours), describeSites(t, doc))
	}
	s := ours[0]
	if fn, off := getString(t, s, "function"), getString(t, s, "offset"); fn != "__udp4_lib_rcv" || !strings.HasPrefix(off, "0x") {
		t.Errorf("site %s+%s, want __udp4_lib_rcv+0x…", fn, off)
	}
	if got := getUint(t, s, "count"); got != n {
		t.Errorf("count %d, want exactly %d", got, n)
	}
	if got := getString(t, s, "interface"); got != l.ReceiverIf {
		t.Errorf("interface %q, want %q", got, l.ReceiverIf)
	}
	if got := getUint(t, s, "ifindex"); got != uint64(l.ReceiverIndex) {
		t.Errorf("ifindex %d, want %d", got, l.ReceiverIndex)
	}
	if got := getString(t, s, "namespace"); got != l.Receiver.Name {
		t.Errorf("namespace %q, want %q", got, l.Receiver.Name)
	}
	if got := getString(t, s, "l3") + "/" + getString(t, s, "l4"); got != "IPv4/UDP" {
		t.Errorf("protocol %s, want IPv4/UDP", got)
	}
	caps, hasCaps := doc["capabilities"]
	if reasons {
		if got := getString(t, s, "reason"); got != "NO_SOCKET" {
			t.Errorf("reason %q, want NO_SOCKET", got)
		}
		if hasCaps {
			t.Errorf("capabilities %v on a kernel with drop reasons", caps)
		}
	} else {
		if v, ok := s["reason"]; ok {
			t.Errorf("reason %v on a kernel without drop reasons", v)
		}
		if v, ok := s["reason_code"]; ok {
			t.Errorf("reason_code %v on a kernel without drop reasons", v)
		}
		c := getObject(t, doc, "capabilities")
		if v, ok := c["drop_reasons"].(bool); !ok || v {
			t.Errorf("capabilities.drop_reasons = %v, want false", c["drop_reasons"])
		}
		if notes, _ := c["notes"].([]any); len(notes) != 1 || notes[0] != drops.NoReasonsNote {
			t.Errorf("capabilities.notes = %v, want [%q]", c["notes"], drops.NoReasonsNote)
		}
	}

	// The table.
	base = readTruth(t, l)
	r = startOnce(t, "--once", "--duration", "10m", "--netns", l.Receiver.Path)
	if err := l.SendUDP(9, n, 32); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": n}, r.done)
	table := string(r.stop())
	reason, note := "NO_SOCKET", "note: "+drops.NoReasonsNote
	if !reasons {
		reason = "unknown"
	}
	var row string
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, "__udp4_lib_rcv+0x") {
			row = line
		}
	}
	if f := strings.Fields(row); len(f) != 6 || f[1] != reason || f[2] != l.ReceiverIf || f[3] != "IPv4/UDP" || f[4] != "100" {
		t.Errorf("row %q, want __udp4_lib_rcv+0x… %s %s IPv4/UDP %d RATE; table:\n%s", row, reason, l.ReceiverIf, n, table)
	}
	if has := strings.Contains(table, note); has == reasons {
		t.Errorf("note %q shown: %v on a kernel with drop reasons: %v; table:\n%s", note, has, reasons, table)
	}
	t.Logf("drop reasons: %v; document: %v+%v, %v drops on %v in %v, reason %v, capabilities %v; table:\n%s",
		reasons, s["function"], s["offset"], s["count"], s["interface"], s["namespace"], s["reason"], doc["capabilities"], table)
}

// TestDebugSaysAttachment: --debug says which program was attached, the
// one without a reason exactly where the kernel's tracepoint has none.
func TestDebugSaysAttachment(t *testing.T) {
	kerneltest.NeedRoot(t)
	reasons := kerneltest.DropReasons(t)
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"--once", "--duration", "100ms", "--debug"}, io.Discard, &stderr); err != nil {
		t.Fatalf("skbtop --once --debug: %v", err)
	}
	first, _, _ := strings.Cut(stderr.String(), "\n")
	t.Log(first)
	if !strings.HasPrefix(first, "skbtop: attached tp_btf/kfree_skb") || strings.Contains(first, "without a reason") == reasons {
		t.Errorf("--debug said %q, want the tp_btf program %s a reason", first, map[bool]string{true: "with", false: "without"}[reasons])
	}
}
