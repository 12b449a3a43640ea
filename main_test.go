package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
)

func TestBadCommandLines(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--interval", "0s"}, "-interval must be between 100ms and 1h0m0s, got 0s"},
		{[]string{"--interval", "1ns"}, "-interval must be between 100ms and 1h0m0s, got 1ns"},
		{[]string{"--interval", "2h"}, "-interval must be between 100ms and 1h0m0s, got 2h0m0s"},
		{[]string{"--interval", "soon"}, "invalid value"},
		{[]string{"--samples", "-3"}, "-samples must be between 0 and 10000, got -3"},
		{[]string{"--samples", "4294967296"}, "-samples must be between 0 and 10000, got 4294967296"},
		{[]string{"--netns", "/proc/self/ns/mnt"}, "a namespace of another type"},
		{[]string{"--max-keys", "0"}, "-max-keys must be between 64 and 1048576, got 0"},
		{[]string{"--max-keys", "16777216"}, "-max-keys must be between 64 and 1048576, got 16777216"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--group", "iface"}, `grouping "iface": want full, site or reason`},
		{[]string{"--hide", "+0x15e"}, `hide "+0x15e"`},
		{[]string{"--metrics-max-series", "0"}, "-metrics-max-series must be between 1 and 1048576, got 0"},
		{[]string{"--metrics-max-series", "2000000"}, "-metrics-max-series must be between 1 and 1048576, got 2000000"},
		{[]string{"--listen", "localhost"}, `-listen "localhost": want a port (9979, binding 127.0.0.1) or host:port`},
		{[]string{"--listen", "0.0.0.0:http"}, `port "http" is not a number`},
		{[]string{"--listen", "9979", "--once"}, "-listen serves metrics while skbtop runs: use it without --once"},
		{[]string{"--netns", "/nonexistent/ns"}, "network namespace /nonexistent/ns"},
		{[]string{"--netns", "skbtop-no-such-ns"}, "network namespace /run/netns/skbtop-no-such-ns"},
		{[]string{"--netns", "999999999"}, "network namespace /proc/999999999/ns/net"},
		{[]string{"--netns", os.TempDir()}, "not a namespace file"},
		{[]string{"--snapshot-dir", "/nonexistent/dir"}, "-snapshot-dir: stat /nonexistent/dir: no such file or directory"},
		{[]string{"--snapshot-dir", "/proc/self/status"}, "is not a directory"},
		{[]string{"--btf", "/nonexistent/vmlinux"}, "read BTF from /nonexistent/vmlinux: open /nonexistent/vmlinux: no such file or directory"},
		{[]string{"--btf", "/proc/self/status"}, "read BTF from /proc/self/status: "},
		{[]string{"--stacks", "__udp4_lib_rcv"}, "-stacks collects for the window of one report: use it with --once"},
		{[]string{"--stacks", "__udp4_lib_rcv", "--once", "--group", "site"}, "-stacks lists stacks under each site: use it without --group"},
		{[]string{"--pcap", "x.pcapng", "--json"}, "-pcap writes the packets sampled in the window of one report: use it with --once"},
		{[]string{"--pcap", "x.pcapng", "--once", "--samples", "0"}, "-pcap writes sampled packets: it needs --samples above 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded")
			}
			var line bytes.Buffer
			if code := report(err, &line); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			msg := line.String()
			if !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "skbtop: ") {
				t.Errorf("message %q: want one line containing %q", msg, tt.want)
			}
			if stdout.Len() != 0 || stderr.Len() != 0 {
				t.Errorf("run wrote output itself: stdout %q stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}

func TestNetnsPath(t *testing.T) {
	for arg, want := range map[string]string{
		"":                 "",
		"web":              "/run/netns/web",
		"812":              "/proc/812/ns/net",
		"/run/netns/web":   "/run/netns/web",
		"/proc/1/ns/net":   "/proc/1/ns/net",
		"./web":            "./web",
		"web-2":            "/run/netns/web-2",
		"1a":               "/run/netns/1a",
		"docker/0123abcd9": "docker/0123abcd9",
	} {
		if got := netnsPath(arg); got != want {
			t.Errorf("netnsPath(%q) = %q, want %q", arg, got, want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); err != nil {
		t.Fatalf("run -h: %v", err)
	}
	if !strings.Contains(stderr.String(), "-netns") {
		t.Errorf("usage does not list -netns:\n%s", stderr.String())
	}
}

// TestOnceJSON runs skbtop as a user would, --once --json --netns on a test
// namespace, and checks that the report holds exactly the drops made there.
func TestOnceJSON(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)

	const udp, frames = 123, 45
	pr, pw := io.Pipe()
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--once", "--json", "--duration", "2s", "--netns", l.Receiver.Path}, &stdout, pw)
		pw.Close()
	}()
	// skbtop says when it is tracing; drops made before that would not
	// count.
	stderr := bufio.NewScanner(pr)
	if !stderr.Scan() || !strings.Contains(stderr.Text(), "tracing drops") {
		err := <-done
		t.Fatalf("skbtop did not start tracing: %q, %v", stderr.Text(), err)
	}
	go io.Copy(io.Discard, pr)
	if err := l.SendUDP(9, udp, 64); err != nil {
		t.Fatal(err)
	}
	if err := l.SendFrames(0x88b5, frames); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("skbtop --once did not finish")
	}

	var snap drops.Snapshot
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil {
		t.Fatalf("output is not a snapshot: %v\n%s", err, stdout.String())
	}
	if snap.Schema != drops.SchemaV1 {
		t.Errorf("schema %q", snap.Schema)
	}
	// Sites have no reason on kernels without drop reasons.
	noSocket, unhandled := "NO_SOCKET", "UNHANDLED_PROTO"
	if !kerneltest.DropReasons(t) {
		noSocket, unhandled = "", ""
	}
	want := map[string]uint64{
		"__udp4_lib_rcv " + noSocket + " IPv4/UDP":           udp,
		"__netif_receive_skb_core " + unhandled + " 0x88b5/": frames,
	}
	got := map[string]uint64{}
	for _, s := range snap.Sites {
		fn, _, _ := strings.Cut(s.Function, ".")
		if s.Interface != l.ReceiverIf {
			t.Errorf("site %s on interface %q, want %q", s.Symbol(), s.Interface, l.ReceiverIf)
		}
		got[fn+" "+s.Reason+" "+s.L3+"/"+s.L4] += s.Count
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d drops, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if snap.Totals.Drops != udp+frames {
		t.Errorf("total %d drops, want %d", snap.Totals.Drops, udp+frames)
	}
}

// TestLiveViewNeedsTerminal runs skbtop's default mode with the test's
// stdin and stdout, which are no terminal: it must say so, not fail inside
// the UI or leave anything loaded.
func TestLiveViewNeedsTerminal(t *testing.T) {
	if _, err := unix.IoctlGetTermios(int(os.Stdout.Fd()), unix.TCGETS); err == nil {
		t.Skip("stdout is a terminal here")
	}
	err := run(context.Background(), nil, io.Discard, io.Discard)
	if !errors.Is(err, errNoTerminal) {
		t.Fatalf("run = %v, want %v", err, errNoTerminal)
	}
}

func TestReportPermission(t *testing.T) {
	var b bytes.Buffer
	code := report(errors.Join(errors.New("load BPF program"), os.ErrPermission), &b)
	if code != 1 || !strings.Contains(b.String(), "run as root or grant CAP_BPF,CAP_PERFMON") {
		t.Errorf("exit %d, message %q", code, b.String())
	}
}

func TestMaxKeysWarning(t *testing.T) {
	const gib = 1 << 30
	// 16384 keys on 2 CPUs: 2 x 16384 x (64+32) bytes = 3 MiB.
	if w := maxKeysWarning(16384, 2, 8*gib); w != "" {
		t.Errorf("the default size warns: %s", w)
	}
	// A million keys on 256 CPUs: 2 x 2^20 x (64+4096) bytes = 8320 MiB.
	w := maxKeysWarning(1<<20, 256, 16*gib)
	if want := "--max-keys 1048576 asks the kernel for about 8320 MiB (256 CPUs), more than a quarter of the 16384 MiB available"; w != want {
		t.Errorf("warning %q, want %q", w, want)
	}
	if w := maxKeysWarning(1<<20, 256, 0); w != "" {
		t.Errorf("warns without knowing the memory available: %s", w)
	}
}

// TestOneProc: skbtop runs goroutines on one processor unless GOMAXPROCS
// asks for another number.
func TestOneProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	oneProc()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS unset: %d processors, want 1", got)
	}
	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	oneProc()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS=2: %d processors, want 2", got)
	}
}
