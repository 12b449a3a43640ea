package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skbtop/skbtop/drops"
)

// errSkip marks a configuration that cannot run here (a peer tool is
// missing, the TUI is not wired yet): the run is reported, not failed.
var errSkip = errors.New("skipped")

// observed is what a monitor reported about one load.
type observed struct {
	// Counted is the number of drops the monitor counted for the load;
	// -1 when it has no count to give (the TUI, the baseline).
	Counted int64
	// Lost and Suppressed are samples the monitor says it lost or chose not
	// to take; Overflow drops that found skbtop's map full; -1 when the
	// monitor does not say.
	Lost, Suppressed, Overflow int64
	// Keys is how many sites skbtop listed.
	Keys int
	// TermBps is the bytes per second the TUI wrote to its terminal at
	// steady state; -1 for other monitors.
	TermBps float64
	Note    string
}

// monitor is one running drop monitor.
type monitor interface {
	// PID is the process whose CPU and memory are measured.
	PID() int
	// Ready is the time from exec to the monitor's first snapshot (or, for
	// peers without snapshots, to the moment they say they are attached);
	// negative when it cannot be told.
	Ready() time.Duration
	// LoadStarted is called when the load starts.
	LoadStarted(t time.Time)
	// Settle waits until the monitor's counts cover a load that ended at
	// end.
	Settle(ctx context.Context, end time.Time) error
	// Stop ends the monitor and returns what it counted.
	Stop() (observed, error)
}

// config is one way of watching the load.
type config struct {
	Name string
	// Start starts the monitor for a load in the namespace at netnsPath
	// ("": every namespace) whose drops have the given reasons; nil for the
	// baseline.
	Start func(ctx context.Context, netnsPath string, reasons reasonSet) (monitor, error)
}

// reasonSet is the drop reasons of the load, by name and number.
type reasonSet map[string]bool

// --- skbtop headless ---

// headless runs `skbtop --json --netns PATH` and reads its NDJSON.
type headless struct {
	cmd   *exec.Cmd
	start time.Time
	ready time.Duration
	lines chan ndjsonLine
	done  chan error
	last  drops.Snapshot
	// lastSize is the length in bytes of the line last read, its newline
	// included.
	lastSize int
	note     string
}

// ndjsonLine is one line of skbtop's NDJSON: the snapshot and its length
// in bytes.
type ndjsonLine struct {
	snap drops.Snapshot
	size int
}

func startHeadless(bin string, extra ...string) func(ctx context.Context, netnsPath string, _ reasonSet) (monitor, error) {
	return func(ctx context.Context, netnsPath string, _ reasonSet) (monitor, error) {
		args := []string{"--json"}
		if netnsPath != "" {
			args = append(args, "--netns", netnsPath)
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		h := &headless{cmd: cmd, lines: make(chan ndjsonLine, 64), done: make(chan error, 1)}
		start := time.Now()
		h.start = start
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start skbtop: %w", err)
		}
		first := make(chan time.Time, 1)
		go func() {
			rd := bufio.NewReaderSize(out, 1<<20)
			var err error
			for n := 0; ; n++ {
				var line []byte
				line, err = rd.ReadBytes('\n')
				if len(line) == 0 && err != nil {
					break
				}
				if n == 0 {
					first <- time.Now()
				}
				var s drops.Snapshot
				if jerr := json.Unmarshal(line, &s); jerr != nil {
					err = fmt.Errorf("skbtop NDJSON line %d: %w", n+1, jerr)
					break
				}
				h.lines <- ndjsonLine{snap: s, size: len(line)}
			}
			close(h.lines)
			werr := cmd.Wait()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if werr != nil && !isSignalExit(werr) {
				err = errors.Join(err, fmt.Errorf("skbtop: %w: %s", werr, strings.TrimSpace(stderr.String())))
			}
			h.done <- err
		}()
		select {
		case t := <-first:
			h.ready = t.Sub(start)
		case err := <-h.done:
			return nil, fmt.Errorf("skbtop exited before its first snapshot: %v: %s", err, strings.TrimSpace(stderr.String()))
		case <-time.After(10 * time.Second):
			h.kill()
			return nil, errors.New("no first snapshot from skbtop within 10s")
		case <-ctx.Done():
			h.kill()
			return nil, ctx.Err()
		}
		return h, nil
	}
}

func (h *headless) PID() int                { return h.cmd.Process.Pid }
func (h *headless) Ready() time.Duration    { return h.ready }
func (h *headless) LoadStarted(_ time.Time) {}

func (h *headless) Settle(ctx context.Context, end time.Time) error {
	// A snapshot read after the load ended holds all of it: the drops are
	// counted on the sender's CPU before its sendmmsg returns.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				return errors.New("skbtop stopped before its final snapshot")
			}
			h.last, h.lastSize = l.snap, l.size
			if l.snap.Time.After(end) {
				return nil
			}
		case <-timeout:
			return errors.New("no skbtop snapshot after the load within 10s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next waits for the next NDJSON line and returns it with the time it was
// read; h.lastSize is then its length.
func (h *headless) next(ctx context.Context, timeout time.Duration) (drops.Snapshot, time.Time, error) {
	select {
	case l, ok := <-h.lines:
		if !ok {
			return drops.Snapshot{}, time.Time{}, errors.New("skbtop stopped writing snapshots")
		}
		h.last, h.lastSize = l.snap, l.size
		return l.snap, time.Now(), nil
	case <-time.After(timeout):
		return drops.Snapshot{}, time.Time{}, fmt.Errorf("no skbtop snapshot within %s", timeout)
	case <-ctx.Done():
		return drops.Snapshot{}, time.Time{}, ctx.Err()
	}
}

func (h *headless) kill() {
	h.cmd.Process.Kill()
	<-h.done
}

func (h *headless) Stop() (observed, error) {
	h.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range h.lines {
		}
	}()
	err := <-h.done
	t := h.last.Totals
	return observed{
		Counted:    int64(t.Drops),
		Lost:       int64(t.SamplesLost),
		Suppressed: int64(t.SamplesSuppressed),
		Overflow:   int64(t.KeysOverflowed),
		Keys:       len(h.last.Sites),
		TermBps:    -1,
		Note:       h.note,
	}, err
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

// --- skbtop TUI in tmux ---

// tuiSeq numbers the tmux servers of the TUI runs.
var tuiSeq atomic.Uint32

// tui runs `skbtop --netns PATH` in a detached tmux pane of 120x40 under
// script(1), whose typescript holds every byte written to the terminal.
type tui struct {
	socket, session string
	typescript      string
	pid             int
	start           time.Time
	ready           time.Duration
	steadyFrom      time.Time
	steadySize      int64
	bps             float64
}

func startTUI(bin, dir string, extra ...string) func(ctx context.Context, netnsPath string, _ reasonSet) (monitor, error) {
	return func(ctx context.Context, netnsPath string, _ reasonSet) (monitor, error) {
		if _, err := exec.LookPath("tmux"); err != nil {
			return nil, fmt.Errorf("%w: tmux is not installed", errSkip)
		}
		if _, err := exec.LookPath("script"); err != nil {
			return nil, fmt.Errorf("%w: script(1) is not installed", errSkip)
		}
		u := &tui{
			// A server of its own each time: one just killed can still
			// hold its socket when the next run starts right after it.
			socket:     fmt.Sprintf("skbtop-bench-%d-%d", os.Getpid(), tuiSeq.Add(1)),
			session:    "tui",
			typescript: filepath.Join(dir, "tui.typescript"),
		}
		os.Remove(u.typescript)
		inner := "exec " + bin
		if netnsPath != "" {
			inner += " --netns " + netnsPath
		}
		if len(extra) > 0 {
			inner += " " + strings.Join(extra, " ")
		}
		start := time.Now()
		u.start = start
		out, err := exec.Command("tmux", "-L", u.socket, "new-session", "-d", "-x", "120", "-y", "40", "-s", u.session,
			"script", "-qfec", inner, u.typescript).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("tmux new-session: %w: %s", err, strings.TrimSpace(string(out)))
		}
		// The pane runs script, script runs skbtop.
		out, err = exec.Command("tmux", "-L", u.socket, "list-panes", "-t", u.session, "-F", "#{pane_pid}").Output()
		if err != nil {
			u.kill()
			return nil, fmt.Errorf("tmux list-panes: %w", err)
		}
		scriptPID, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		for time.Since(start) < 10*time.Second {
			if u.pid == 0 {
				u.pid = childOf(scriptPID)
			}
			if u.pid != 0 && !alive(u.pid) {
				b, _ := os.ReadFile(u.typescript)
				u.kill()
				return nil, fmt.Errorf("%w: the TUI exited at once (not wired into main yet?): %s", errSkip, lastLine(b))
			}
			pane, _ := exec.Command("tmux", "-L", u.socket, "capture-pane", "-p", "-t", u.session).Output()
			if u.pid != 0 && len(bytes.TrimSpace(pane)) > 0 {
				u.ready = time.Since(start)
				return u, nil
			}
			if u.pid == 0 && !alive(scriptPID) {
				b, _ := os.ReadFile(u.typescript)
				u.kill()
				return nil, fmt.Errorf("%w: the TUI exited at once (not wired into main yet?): %s", errSkip, lastLine(b))
			}
			time.Sleep(5 * time.Millisecond)
		}
		u.kill()
		return nil, errors.New("no TUI frame within 10s")
	}
}

// childOf returns the first child of pid, 0 if none yet.
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// alive says whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (u *tui) PID() int             { return u.pid }
func (u *tui) Ready() time.Duration { return u.ready }

func (u *tui) LoadStarted(t time.Time) {
	// Steady state: from two refreshes after the load started.
	time.AfterFunc(2*time.Second, func() {
		if fi, err := os.Stat(u.typescript); err == nil {
			u.steadySize = fi.Size()
			u.steadyFrom = time.Now()
		}
	})
}

func (u *tui) Settle(_ context.Context, end time.Time) error {
	fi, err := os.Stat(u.typescript)
	if err != nil || u.steadyFrom.IsZero() {
		return nil
	}
	if dt := time.Since(u.steadyFrom).Seconds(); dt > 0 {
		u.bps = float64(fi.Size()-u.steadySize) / dt
	}
	return nil
}

// capture returns the pane's text, without colours.
func (u *tui) capture() (string, error) {
	out, err := exec.Command("tmux", "-L", u.socket, "capture-pane", "-p", "-t", u.session).Output()
	if err != nil {
		return "", fmt.Errorf("tmux capture-pane: %w", err)
	}
	return string(out), nil
}

// sendKeys types keys (tmux key names) into the pane.
func (u *tui) sendKeys(keys ...string) error {
	args := append([]string{"-L", u.socket, "send-keys", "-t", u.session}, keys...)
	if err := exec.Command("tmux", args...).Run(); err != nil {
		return fmt.Errorf("tmux send-keys: %w", err)
	}
	return nil
}

func (u *tui) kill() {
	exec.Command("tmux", "-L", u.socket, "kill-server").Run()
}

func (u *tui) Stop() (observed, error) {
	if u.pid != 0 {
		syscall.Kill(u.pid, syscall.SIGTERM)
		for i := 0; i < 200 && alive(u.pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	u.kill()
	o := observed{Counted: -1, Lost: -1, Suppressed: -1, Overflow: -1, TermBps: -1}
	if !u.steadyFrom.IsZero() {
		o.TermBps = u.bps
	}
	return o, nil
}

// --- bpftrace ---

// bpftraceProgram is the one-liner engineers reach for.
const bpftraceProgram = `tracepoint:skb:kfree_skb { @[args->location, args->reason] = count(); }`

type bpftrace struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	errOut *bytes.Buffer
	ready  time.Duration
	want   reasonSet
	done   chan error
}

func startBpftrace(ctx context.Context, _ string, reasons reasonSet) (monitor, error) {
	path, err := exec.LookPath("bpftrace")
	if err != nil {
		return nil, fmt.Errorf("%w: bpftrace is not installed", errSkip)
	}
	b := &bpftrace{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, want: reasons, done: make(chan error, 1)}
	b.cmd = exec.Command(path, "-e", bpftraceProgram)
	b.cmd.Stderr = b.errOut
	pipe, err := b.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bpftrace: %w", err)
	}
	attached := make(chan struct{})
	go func() {
		var once sync.Once
		rd := bufio.NewReader(pipe)
		for {
			line, err := rd.ReadString('\n')
			b.out.WriteString(line)
			if strings.HasPrefix(line, "Attaching") {
				once.Do(func() { close(attached) })
			}
			if err != nil {
				break
			}
		}
		b.done <- b.cmd.Wait()
	}()
	select {
	case <-attached:
		b.ready = time.Since(start)
	case err := <-b.done:
		return nil, fmt.Errorf("bpftrace exited: %v: %s", err, strings.TrimSpace(b.errOut.String()))
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
		return nil, errors.New("bpftrace did not attach within 30s")
	}
	// bpftrace prints "Attaching" before it attaches; give it time to
	// finish so the load is not started into a probe not yet there.
	time.Sleep(time.Second)
	return b, nil
}

func (b *bpftrace) PID() int                                { return b.cmd.Process.Pid }
func (b *bpftrace) Ready() time.Duration                    { return b.ready }
func (b *bpftrace) LoadStarted(time.Time)                   {}
func (b *bpftrace) Settle(context.Context, time.Time) error { return nil }
func (b *bpftrace) Stop() (observed, error) {
	b.cmd.Process.Signal(syscall.SIGINT)
	err := <-b.done
	if err != nil && !isSignalExit(err) {
		return observed{}, fmt.Errorf("bpftrace: %w: %s", err, strings.TrimSpace(b.errOut.String()))
	}
	entries, err := parseBpftraceMap(bytes.NewReader(b.out.Bytes()))
	if err != nil {
		return observed{}, err
	}
	return observed{Counted: int64(countReasons(entries, b.want)), Lost: -1, Suppressed: -1, Overflow: -1, TermBps: -1,
		Note: "counts every namespace: only the load's reasons are added up"}, nil
}

// --- perf record ---

type perfRecord struct {
	cmd    *exec.Cmd
	file   string
	errOut *bytes.Buffer
	want   reasonSet
	done   chan error
}

func startPerf(dir string) func(ctx context.Context, _ string, reasons reasonSet) (monitor, error) {
	return func(ctx context.Context, _ string, reasons reasonSet) (monitor, error) {
		path, err := exec.LookPath("perf")
		if err != nil {
			return nil, fmt.Errorf("%w: perf is not installed", errSkip)
		}
		p := &perfRecord{file: filepath.Join(dir, "perf.data"), errOut: &bytes.Buffer{}, want: reasons, done: make(chan error, 1)}
		os.Remove(p.file)
		p.cmd = exec.Command(path, "record", "-e", "skb:kfree_skb", "-a", "-o", p.file)
		p.cmd.Stderr = p.errOut
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start perf: %w", err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		// perf says nothing when it is ready: wait a fixed time.
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("perf record exited: %v: %s", err, strings.TrimSpace(p.errOut.String()))
		case <-time.After(1500 * time.Millisecond):
		}
		return p, nil
	}
}

func (p *perfRecord) PID() int                                { return p.cmd.Process.Pid }
func (p *perfRecord) Ready() time.Duration                    { return -1 }
func (p *perfRecord) LoadStarted(time.Time)                   {}
func (p *perfRecord) Settle(context.Context, time.Time) error { return nil }

func (p *perfRecord) Stop() (observed, error) {
	p.cmd.Process.Signal(syscall.SIGINT)
	if err := <-p.done; err != nil && !isSignalExit(err) {
		return observed{}, fmt.Errorf("perf record: %w: %s", err, strings.TrimSpace(p.errOut.String()))
	}
	defer os.Remove(p.file)
	o := observed{Lost: -1, Suppressed: -1, Overflow: -1, TermBps: -1}
	// perf script prints each event's format line, "... reason: NAME".
	cmd := exec.Command("perf", "script", "-i", p.file, "-F", "trace")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return o, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return o, fmt.Errorf("perf script: %w", err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndex(line, "reason: "); i >= 0 && p.want[strings.TrimSpace(line[i+8:])] {
			o.Counted++
		}
	}
	if err := cmd.Wait(); err != nil {
		return o, fmt.Errorf("perf script: %w", err)
	}
	o.Lost = perfLost(p.errOut.String())
	o.Note = "counts every namespace: only the load's reasons are added up"
	return o, nil
}

// perfLost finds the number of lost events in perf record's messages, 0 when
// it reports none.
func perfLost(msg string) int64 {
	var n int64
	for _, line := range strings.Split(msg, "\n") {
		// "Processed N events and lost M chunks!"
		if i := strings.Index(line, "and lost "); i >= 0 {
			f := strings.Fields(line[i+len("and lost "):])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				n += v
			}
		}
	}
	return n
}

// waitListed polls the live view's pane until its title lists at least
// want sites, and returns how many it lists then. It fails when the view
// exits, when deadline passes, or when ctx is done.
func (u *tui) waitListed(ctx context.Context, want int, deadline time.Time) (int, error) {
	for {
		pane, err := u.capture()
		if err != nil {
			return 0, err
		}
		if n, _, ok := paneSites(pane); ok && n >= want {
			return n, nil
		}
		if !alive(u.pid) {
			return 0, fmt.Errorf("the live view exited: %s", lastLine([]byte(pane)))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the live view did not list %d sites within %s: %s", want, time.Since(u.start).Round(time.Second), firstLine(pane))
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
}
