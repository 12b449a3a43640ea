package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

// buildSkbtop builds the binary once per test run, or returns the one
// SKBTOP_TEST_BINARY names: the kernel matrix (matrix/run) builds it on the
// host, as a guest has no Go toolchain cache to write to.
func buildSkbtop(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SKBTOP_TEST_BINARY"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "skbtop")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// progIDs returns the IDs of the BPF programs a process holds open, read
// from its file descriptors' fdinfo.
func progIDs(t *testing.T, pid int) []ebpf.ProgramID {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fdinfo"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ebpf.ProgramID
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
				if err == nil {
					ids = append(ids, ebpf.ProgramID(id))
				}
			}
		}
	}
	return ids
}

// waitUnloaded waits for the kernel to free the programs after what ended
// them: it frees a program after an RCU grace period, so one may linger a
// moment after its last reference is gone.
func waitUnloaded(t *testing.T, ids []ebpf.ProgramID, after string) {
	t.Helper()
	for _, id := range ids {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			p, err := ebpf.NewProgramFromID(id)
			if err != nil {
				break
			}
			p.Close()
			if time.Now().After(deadline) {
				t.Fatalf("program %d still loaded after %s", id, after)
			}
		}
	}
}

// TestSignalsDetach starts skbtop, stops it with each signal a user or a
// dropped ssh session sends, and checks that its BPF program is gone.
func TestSignalsDetach(t *testing.T) {
	kerneltest.NeedRoot(t)
	bin := buildSkbtop(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "--json", "--interval", "100ms")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			// The first NDJSON line means the program is attached. A line
			// lists every interface of the host's namespace and, later, every
			// site: on a busy host it outgrows bufio's default 64 KiB, and a
			// scanner that gives up would leave skbtop blocked on a full pipe.
			lines := bufio.NewScanner(stdout)
			lines.Buffer(nil, 64<<20)
			if !lines.Scan() {
				cmd.Process.Kill()
				t.Fatalf("no snapshot from skbtop: %v, %v", lines.Err(), cmd.Wait())
			}
			ids := progIDs(t, cmd.Process.Pid)
			if len(ids) == 0 {
				t.Fatal("skbtop holds no BPF program")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			go func() {
				for lines.Scan() {
				}
				io.Copy(io.Discard, stdout)
			}()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("skbtop exited with %v after %s, want status 0", err, sig)
			}
			waitUnloaded(t, ids, "skbtop exited on "+sig.String())
		})
	}
}
