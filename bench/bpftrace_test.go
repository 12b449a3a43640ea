package main

import (
	"strings"
	"testing"
)

func TestParseBpftraceMap(t *testing.T) {
	entries, err := parseBpftraceMap(open(t, "bpftrace_numeric.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("got %d entries, want 4: %+v", len(entries), entries)
	}
	if e := entries[1]; e.Location != 0xffffffff81f2a0d6 || e.Reason != "74" || e.Count != 6402115 {
		t.Errorf("entry 1 = %+v", e)
	}
	if got := countReasons(entries, map[string]bool{"74": true, "71": true}); got != 6402127 {
		t.Errorf("UNHANDLED_PROTO+CPU_BACKLOG = %d, want 6402127", got)
	}
}

func TestParseBpftraceMapNames(t *testing.T) {
	entries, err := parseBpftraceMap(open(t, "bpftrace_names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"UNHANDLED_PROTO": true, "74": true}
	if got := countReasons(entries, want); got != 1000 {
		t.Errorf("UNHANDLED_PROTO = %d, want 1000", got)
	}
}

func TestParseBpftraceMapBad(t *testing.T) {
	for _, in := range []string{
		"@[0xffffffff8204674c, 3] 5",
		"@[0xffffffff8204674c]: 5",
		"@[zz, 3]: 5",
		"@[0x10, 3]: many",
		"@[0x10, ]: 1",
	} {
		if _, err := parseBpftraceMap(strings.NewReader(in)); err == nil {
			t.Errorf("parseBpftraceMap(%q) succeeded", in)
		}
	}
}
