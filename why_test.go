package main

// Kernel tests of the "why" outputs: stacks on demand (--stacks) and the
// pcap-ng file of sampled packets (--pcap).

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

// TestOnceStacks sends 200 datagrams to a closed port and asks for the
// stacks of __udp4_lib_rcv: the site has stacks that pass through
// __udp4_lib_rcv and ip_local_deliver, and every drop of the site is either
// in a stack's count or counted as a drop whose stack was not counted
// (collisions, full maps, failures). The collection starts before skbtop
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
	failed := getUint(t, trace, "collisions") + getUint(t, trace, "stacks_full") + getUint(t, trace, "counts_full") + getUint(t, trace, "failed")
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
