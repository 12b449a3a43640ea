package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/ui"
)

// failingSource fails every read with err.
type failingSource struct{ err error }

func (f failingSource) Snapshot() (drops.Snapshot, error) { return drops.Snapshot{}, f.err }
func (failingSource) Reset()                              {}

// TestLiveSourceTracerErrorIsFatal checks that a failure to read the tracer
// ends the live view, and that any other error does not: the model's first
// refresh, driven through ui's exported API, quits only for the first.
func TestLiveSourceTracerErrorIsFatal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		quits bool
	}{
		{"tracer", errors.Join(errTracer, errors.New("lookup batch: bad file descriptor")), true},
		{"other", errors.New("interface counters: netlink: no buffer space"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := liveSource{failingSource{tc.err}}
			if _, err := src.Snapshot(); tc.quits && !errors.Is(err, errTracer) {
				t.Fatalf("Snapshot = %v, want errTracer still in the chain", err)
			}
			var m tea.Model = ui.New(src, ui.Options{Interval: time.Millisecond})
			quit := false
			// Init pulls the first snapshot; run its commands and feed
			// their messages back, one level deep.
			var msgs []tea.Msg
			switch msg := m.Init()().(type) {
			case tea.BatchMsg:
				for _, cmd := range msg {
					msgs = append(msgs, cmd())
				}
			default:
				msgs = append(msgs, msg)
			}
			for _, msg := range msgs {
				var cmd tea.Cmd
				m, cmd = m.Update(msg)
				if cmd == nil {
					continue
				}
				if _, ok := cmd().(tea.QuitMsg); ok {
					quit = true
				}
			}
			if quit != tc.quits {
				t.Errorf("error %q: the view quit = %v, want %v", tc.err, quit, tc.quits)
			}
		})
	}
}

// tmuxPane drives the real binary in a detached tmux session on a private
// server, reading the screen as a user would see it.
type tmuxPane struct {
	t       *testing.T
	socket  string
	session string
}

func (p *tmuxPane) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (p *tmuxPane) screen() string {
	p.t.Helper()
	out, err := p.tmux("capture-pane", "-p", "-t", p.session)
	if err != nil {
		p.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

func (p *tmuxPane) keys(keys ...string) {
	p.t.Helper()
	if out, err := p.tmux(append([]string{"send-keys", "-t", p.session}, keys...)...); err != nil {
		p.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// waitFor polls the screen until cond holds, failing with the last screen
// after a generous deadline. Polling, not timing: the test never asserts how
// long anything took.
func (p *tmuxPane) waitFor(what string, cond func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := p.screen()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTUI runs skbtop's live view in tmux with real BPF: drops made in a
// test namespace appear with their site, the symbol filter hides them, a
// snapshot holds their exact count, and q exits leaving no program loaded.
func TestTUI(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	bin := buildSkbtop(t)
	l := kerneltest.NewLink(t)
	dir := t.TempDir()

	p := &tmuxPane{t: t, socket: fmt.Sprintf("skbtop-test-%d", os.Getpid()), session: "skbtop"}
	// A configuration of its own: hides saved on this machine must not
	// hide what the test looks for.
	cmd := fmt.Sprintf("env XDG_CONFIG_HOME=%s %s --netns %s --snapshot-dir %s --interval 250ms", t.TempDir(), bin, l.Receiver.Path, dir)
	if out, err := p.tmux("new-session", "-d", "-s", p.session, "-x", "120", "-y", "40", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { p.tmux("kill-server") })
	p.waitFor("the live view", func(s string) bool { return strings.Contains(s, "samples lost") })
	pidOut, err := p.tmux("display-message", "-p", "-t", p.session, "#{pane_pid}")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(pidOut))
	if err != nil {
		t.Fatalf("pane pid %q: %v", pidOut, err)
	}
	ids := progIDs(t, pid)
	if len(ids) == 0 {
		t.Fatal("skbtop holds no BPF program")
	}

	const n = 37
	if err := l.SendUDP(9, n, 64); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the UDP drop site with its count", func(s string) bool {
		for line := range strings.Lines(s) {
			f := strings.Fields(line)
			if len(f) > 5 && strings.HasPrefix(f[0], "__udp4_lib_rcv+0x") && f[1] == "NO_SOCKET" &&
				f[2] == l.ReceiverIf && f[3] == "IPv4/UDP" && f[5] == strconv.Itoa(n) {
				return true
			}
		}
		return false
	})

	// A symbol filter that matches nothing hides the site.
	p.keys("/")
	p.waitFor("the symbol prompt", func(s string) bool { return strings.Contains(s, "/ symbol:") })
	p.keys("tcp_v4", "Enter")
	p.waitFor("the filter to hide the site", func(s string) bool {
		return strings.Contains(s, "symbol~tcp_v4") && !strings.Contains(s, "__udp4_lib_rcv")
	})
	// And clearing it brings the site back.
	p.keys("/")
	time.Sleep(100 * time.Millisecond) // let Escape stand alone, not start an Alt- sequence
	p.keys("Escape")
	p.waitFor("the filter to clear", func(s string) bool {
		return !strings.Contains(s, "symbol~") && strings.Contains(s, "__udp4_lib_rcv")
	})

	p.keys("s")
	screen := p.waitFor("the saved path", func(s string) bool { return strings.Contains(s, dir) })
	matches, _ := filepath.Glob(filepath.Join(dir, "skbtop-*.json"))
	if len(matches) != 1 {
		t.Fatalf("want one snapshot in %s, found %v; screen:\n%s", dir, matches, screen)
	}
	// Samples hold addresses and ports: the file is its owner's alone.
	if fi, err := os.Stat(matches[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot %s: mode %v, %v; want 0600", matches[0], fi.Mode(), err)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var snap drops.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatalf("snapshot is not JSON: %v", err)
	}
	var got uint64
	for _, s := range snap.Sites {
		if s.Function == "__udp4_lib_rcv" && s.Reason == "NO_SOCKET" && s.Interface == l.ReceiverIf {
			got += s.Count
		}
	}
	if got != n || snap.Schema != drops.SchemaV1 {
		t.Errorf("snapshot %s: schema %q, %d UDP drops, want %d", matches[0], snap.Schema, got, n)
	}

	p.keys("q")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := p.tmux("has-session", "-t", p.session); err != nil {
			break // the pane's command exited and took the session with it
		}
		if time.Now().After(deadline) {
			t.Fatalf("skbtop still running after q; screen:\n%s", p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitUnloaded(t, ids, "q")
}

// TestTUISignalsRestoreTerminal kills the live view the ways a session ends
// (SIGTERM, and SIGHUP when ssh drops) and checks that the terminal is back
// in its normal mode and the program is gone.
func TestTUISignalsRestoreTerminal(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	bin := buildSkbtop(t)
	for _, sig := range []string{"TERM", "HUP"} {
		t.Run(sig, func(t *testing.T) {
			dir := t.TempDir()
			modes := filepath.Join(dir, "stty")
			p := &tmuxPane{t: t, socket: fmt.Sprintf("skbtop-sig-%d-%s", os.Getpid(), sig), session: "skbtop"}
			// The shell outlives skbtop and records the terminal's modes.
			script := fmt.Sprintf("%s; stty -a > %s; sleep 60", bin, modes)
			if out, err := p.tmux("new-session", "-d", "-s", p.session, "-x", "80", "-y", "24", "sh", "-c", script); err != nil {
				t.Fatalf("tmux new-session: %v: %s", err, out)
			}
			t.Cleanup(func() { p.tmux("kill-server") })
			p.waitFor("the live view", func(s string) bool { return strings.Contains(s, "samples lost") })
			out, err := exec.Command("pgrep", "-x", "-f", bin).Output()
			if err != nil {
				t.Fatalf("find skbtop: %v", err)
			}
			pid, err := strconv.Atoi(strings.Fields(string(out))[0])
			if err != nil {
				t.Fatal(err)
			}
			ids := progIDs(t, pid)
			if out, err := exec.Command("kill", "-"+sig, strconv.Itoa(pid)).CombinedOutput(); err != nil {
				t.Fatalf("kill: %v: %s", err, out)
			}
			var got string
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if b, err := os.ReadFile(modes); err == nil && len(b) > 0 {
					got = string(b)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("skbtop did not exit on SIG%s; screen:\n%s", sig, p.screen())
				}
			}
			flags := strings.Fields(got)
			for _, mode := range []string{"icanon", "echo", "isig"} {
				if !slices.Contains(flags, mode) {
					t.Errorf("terminal left without %s after SIG%s:\n%s", mode, sig, got)
				}
			}
			if s := p.screen(); strings.Contains(s, "samples lost") {
				t.Errorf("the live view is still on screen after SIG%s:\n%s", sig, s)
			}
			waitUnloaded(t, ids, "SIG"+sig)
		})
	}
}
