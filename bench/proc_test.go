package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseStatCPU(t *testing.T) {
	// The command name holds a space and a ')': fields count from the last.
	got, err := parseStatCPU(open(t, "stat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 8600 * time.Millisecond; got != want {
		t.Errorf("cpu = %v, want %v (731+129 ticks)", got, want)
	}
}

func TestParseStatCPUBad(t *testing.T) {
	for _, in := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 ten 12"} {
		if _, err := parseStatCPU(strings.NewReader(in)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", in)
		}
	}
}

func TestParseHWM(t *testing.T) {
	got, err := parseHWM(open(t, "status.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(41236 * 1024); got != want {
		t.Errorf("VmHWM = %d, want %d", got, want)
	}
	if _, err := parseHWM(open(t, "status_kthread.txt")); err == nil {
		t.Error("parseHWM found a VmHWM in a kernel thread's status")
	}
	if _, err := parseHWM(strings.NewReader("VmHWM:\t12 MB\n")); err == nil {
		t.Error("parseHWM accepted a unit other than kB")
	}
}
