package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
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
			if len(f) > 5 && strings.HasPrefix(f[0], "__udp4_lib_rcv+0x") && f[1] == reasonLabel(t, "NO_SOCKET") &&
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
		if s.Function == "__udp4_lib_rcv" && s.Reason == kerneltest.Reason(t, "NO_SOCKET") && s.Interface == l.ReceiverIf {
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

// startPane runs cmd in a detached tmux session of w x h cells on a private
// server, killed when the test ends, and waits for the live view.
func startPane(t *testing.T, name string, w, h int, cmd string) *tmuxPane {
	t.Helper()
	p := &tmuxPane{t: t, socket: fmt.Sprintf("skbtop-%s-%d", name, os.Getpid()), session: "skbtop"}
	if out, err := p.tmux("new-session", "-d", "-s", p.session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { p.tmux("kill-server") })
	p.waitFor("the live view", func(s string) bool { return strings.Contains(s, "samples lost") })
	return p
}

// typeText types text as it is, not as key names.
func (p *tmuxPane) typeText(text string) {
	p.t.Helper()
	if out, err := p.tmux("send-keys", "-t", p.session, "-l", text); err != nil {
		p.t.Fatalf("send-keys -l %q: %v: %s", text, err, out)
	}
}

// siteLines returns the rows of the drop-site table on the screen, each
// split into its cells.
func siteLines(screen string) [][]string {
	var rows [][]string
	in := false
	for line := range strings.Lines(screen) {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "DROP":
			in = true
		case in && len(f) < 4:
			return rows
		case in:
			rows = append(rows, f)
		}
	}
	return rows
}

// every runs send every interval until the test ends, in the background.
func every(t *testing.T, interval time.Duration, send func() error) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if err := send(); err != nil {
				t.Errorf("sending traffic: %v", err)
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// TestTUIBusiestOnTop is top's contract at 80x24 with real drops: thirty
// sites dropping about once a second fill the screen, one of them at first
// faster, so that it is the first row, where the cursor starts. Then that
// one stops and another site drops hundreds a second: without a key
// pressed, that site is the first row on every screen from then on, however
// the quiet rows re-sort (a cursor that followed its site would scroll the
// list down to where the stopped one sinks). The drop sites' names are whole:
// __udp4_lib_rcv+0x… and the multicast drop's ip_rcv_finish_core+0x… .
func TestTUIBusiestOnTop(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	bin := buildSkbtop(t)
	l := kerneltest.NewLink(t)

	// Thirty quiet rows: each ethertype nothing handles is a row of its
	// own at __netif_receive_skb_core. The last one drops ten times a
	// second until the flood starts, and then not at all: it goes from
	// the first row, where the cursor is, to the last.
	var flood atomic.Bool
	every(t, time.Second, func() error {
		for i := range 29 {
			if err := l.SendFrames(0x7000+uint16(i), 1); err != nil {
				return err
			}
		}
		return nil
	})
	every(t, 100*time.Millisecond, func() error {
		if flood.Load() {
			return nil
		}
		return l.SendFrames(0x7000+29, 1)
	})
	p := startPane(t, "top", 80, 24, fmt.Sprintf("env XDG_CONFIG_HOME=%s %s --netns %s --interval 500ms", t.TempDir(), bin, l.Receiver.Path))
	p.waitFor("thirty quiet rows, 0x701d first", func(s string) bool {
		rows := siteLines(s)
		return strings.Contains(s, "Drop sites 30 ") && len(rows) > 0 && slices.Contains(rows[0], "0x701d")
	})

	// Then the flood, and a multicast group nobody joined on the veth
	// (it is joined on lo): drops in input routing.
	group := netip.MustParseAddr("239.18.0.9")
	member, err := l.Receiver.JoinGroup(group, 5000, "lo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { member.Close() })
	flood.Store(true)
	every(t, 100*time.Millisecond, func() error {
		if err := l.SendUDP(9, 50, 16); err != nil {
			return err
		}
		return l.SendUDPTo(netip.AddrPortFrom(group, 5000), 5, 16)
	})
	onTop := func(s string) bool {
		rows := siteLines(s)
		return len(rows) > 2 && strings.HasPrefix(rows[0][0], "__udp4_lib_rcv+0x") && rows[0][1] == reasonLabel(t, "NO_SOCKET")
	}
	screen := p.waitFor("the flood on the first row, the multicast drop below it", func(s string) bool {
		rows := siteLines(s)
		return onTop(s) && strings.HasPrefix(rows[1][0], "ip_rcv_finish_core")
	})
	sym := regexp.MustCompile(`^(__udp4_lib_rcv|ip_rcv_finish_core)(\.[a-z0-9.]+)?\+0x[0-9a-f]+$`)
	rows := siteLines(screen)
	for _, r := range rows[:2] {
		if !sym.MatchString(r[0]) {
			t.Errorf("drop site %q is not whole:\n%s", r[0], screen)
		}
	}
	if len(rows) < 15 {
		t.Errorf("only %d rows on an 80x24 screen:\n%s", len(rows), screen)
	}
	// However the quiet rows re-sort, refresh after refresh.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if s := p.screen(); !onTop(s) {
			t.Fatalf("the flood is not the first row:\n%s", s)
		}
	}
}

// TestTUIPickerNamespaces picks one namespace's interface where another
// namespace has one of the same name: only the picked one's rows remain,
// on the screen and in the snapshot saved from it.
func TestTUIPickerNamespaces(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	bin := buildSkbtop(t)
	sender := newNamespace(t, "pkS")
	var links []*netlab.Link
	var names []string
	for i, prefix := range []string{"pkA", "pkB"} {
		ns := newNamespace(t, prefix)
		out := fmt.Sprintf("out%d", i)
		for _, args := range [][]string{
			{"link", "add", out, "netns", sender.Name, "type", "veth", "peer", "name", "pk0", "netns", ns.Name},
			{"-n", sender.Name, "link", "set", out, "up"},
			{"-n", ns.Name, "link", "set", "pk0", "up"},
		} {
			if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, b)
			}
		}
		links = append(links, &netlab.Link{Sender: sender, SenderIf: out, SenderMAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}})
		names = append(names, "pk0@"+ns.Name)
	}
	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	every(t, 250*time.Millisecond, func() error {
		for _, l := range links {
			if err := l.SendRaw(broadcast, 0x88b5, nil, 5); err != nil {
				return err
			}
		}
		return nil
	})
	dir := t.TempDir()
	p := startPane(t, "picker", 80, 24, fmt.Sprintf("env XDG_CONFIG_HOME=%s %s --snapshot-dir %s --interval 500ms", t.TempDir(), bin, dir))
	// The host may have more interfaces than the screen has rows: narrow
	// to the test's first, then to the one picked.
	p.keys("i")
	p.typeText("pk0@pk")
	p.waitFor("both namespaces' pk0 in the picker", func(s string) bool {
		return strings.Contains(s, names[0]) && strings.Contains(s, names[1])
	})
	p.typeText(strings.TrimPrefix(names[1], "pk0@pk"))
	p.waitFor("the picker narrowed to "+names[1], func(s string) bool {
		return strings.Contains(s, "narrow: "+names[1]) && !strings.Contains(s, names[0])
	})
	p.keys("Enter")
	screen := p.waitFor("the filter on "+names[1], func(s string) bool {
		rows := siteLines(s)
		return strings.Contains(s, "filter: iface="+names[1]) && len(rows) > 0
	})
	if strings.Contains(screen, "@pkA") {
		t.Errorf("rows of %s remain:\n%s", names[0], screen)
	}
	p.keys("s")
	p.waitFor("the saved path", func(s string) bool { return strings.Contains(s, dir) })
	matches, _ := filepath.Glob(filepath.Join(dir, "skbtop-*.json"))
	if len(matches) != 1 {
		t.Fatalf("want one snapshot in %s, found %v", dir, matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var snap drops.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Filter.Interface != names[1] || len(snap.Sites) == 0 {
		t.Fatalf("snapshot filter %+v with %d sites, want %s's rows", snap.Filter, len(snap.Sites), names[1])
	}
	for _, s := range snap.Sites {
		if s.InterfaceLabel() != names[1] {
			t.Errorf("a row of %s in the view filtered on %s: %s %s", s.InterfaceLabel(), names[1], s.Symbol(), s.Reason)
		}
	}
}

// newNamespace makes a namespace for the test, removed when it ends.
func newNamespace(t *testing.T, prefix string) *netlab.Namespace {
	t.Helper()
	ns, err := netlab.NewNamespace(prefix)
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}
