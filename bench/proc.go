package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// parseHWM returns VmHWM, the peak resident set, from /proc/PID/status.
func parseHWM(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "VmHWM" {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmHWM %q, want \"N kB\"", strings.TrimSpace(val))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmHWM: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("status: no VmHWM line (a kernel thread, or the process is a zombie)")
}

// processCPU returns a live process's CPU time, user and system, of all its
// threads, exited ones included, to the nanosecond: the kernel's CPU-time
// clock of the process (clock_getcpuclockid(3)). /proc/PID/stat has the
// same time in 10 ms ticks, which over ten refreshes is up to 2 ms a
// refresh either way.
func processCPU(pid int) (time.Duration, error) {
	// The process CPU clock of pid: CPUCLOCK_SCHED (2) in the low bits,
	// not per thread, the pid inverted above them.
	clock := int32(^pid<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, fmt.Errorf("CPU clock of process %d: %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}

// peakRSS returns a live process's VmHWM in bytes.
func peakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseHWM(f)
}
