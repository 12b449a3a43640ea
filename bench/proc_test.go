package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// TestProcessCPU: the CPU clock of this process reads what getrusage says
// it has used, user and system, to within a millisecond, and a process
// that is gone has none.
func TestProcessCPU(t *testing.T) {
	used := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for start := used(); used()-start < 50*time.Millisecond; {
	}
	before := used()
	got, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after := used()
	if got < before-time.Millisecond || got > after+time.Millisecond {
		t.Errorf("processCPU = %v, want between %v and %v (getrusage)", got, before, after)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if cpu, err := processCPU(cmd.Process.Pid); err == nil {
		t.Errorf("processCPU of exited process %d = %v, want an error", cmd.Process.Pid, cpu)
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
