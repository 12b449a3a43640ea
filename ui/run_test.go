package ui

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/skbtop/skbtop/drops"
)

// countingWriter counts the bytes the renderer writes to the terminal.
type countingWriter struct {
	mu sync.Mutex
	n  int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(p)
	return len(p), nil
}

func (w *countingWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// liveSource plays a busy box: every refresh moves every rate, count and
// sparkline, the header totals and the window, as the real tracer does.
type liveSource struct {
	mu     sync.Mutex
	n      int
	out    *countingWriter
	marks  []int // bytes written so far, at each Snapshot call
	enough chan struct{}
	// want is how many refreshes to measure after the first frame.
	want int
}

func (s *liveSource) Snapshot() (drops.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.marks = append(s.marks, s.out.count())
	if first := slices.IndexFunc(s.marks, func(n int) bool { return n > 0 }); first >= 0 && len(s.marks)-1-first == s.want {
		close(s.enough)
	}
	snap := fixtureSnapshot()
	snap.Time = snap.Time.Add(time.Duration(s.n) * time.Second)
	snap.WindowS += float64(s.n)
	for i := range snap.Sites {
		site := &snap.Sites[i]
		site.Rate = math.Round(site.Rate * (1 + 0.3*math.Sin(float64(s.n+i))))
		site.Count += uint64(s.n) * uint64(site.Rate)
		site.History = append(site.History[min(s.n, len(site.History)):], history(site.Rate+1, s.n)[:min(s.n, len(site.History))]...)
	}
	snap.Recount()
	return snap, nil
}

func (s *liveSource) Reset() {}

// TestSteadyStateBytes measures what the TUI writes to the terminal per
// refresh at 120x40 with truecolour: the budget is 5 KB per second at one
// refresh per second.
func TestSteadyStateBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real program for a fraction of a second")
	}
	out := &countingWriter{}
	const refreshes = 12
	src := &liveSource{out: out, enough: make(chan struct{}), want: refreshes}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-src.enough:
		case <-time.After(20 * time.Second):
		}
		cancel()
	}()
	err := run(ctx, New(src, Options{Interval: 40 * time.Millisecond, SnapshotDir: t.TempDir()}),
		tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(120, 40),
		tea.WithColorProfile(colorprofile.TrueColor))
	if err != nil {
		t.Fatalf("run = %v, want nil when ctx is cancelled", err)
	}
	src.mu.Lock()
	marks := src.marks
	src.mu.Unlock()
	// The first full frame is drawn after the first snapshot, but on a
	// loaded machine the second can be pulled before it is written: count
	// from the first refresh that found a frame on the terminal. From
	// there on, each refresh redraws only what changed.
	first := slices.IndexFunc(marks, func(n int) bool { return n > 0 })
	if first < 0 {
		t.Fatal("nothing was drawn")
	}
	if n := len(marks) - 1 - first; n < refreshes {
		t.Fatalf("only %d refreshes happened after the first frame", n)
	}
	steady := marks[len(marks)-1] - marks[first]
	per := steady / (len(marks) - 1 - first)
	t.Logf("first frame %d bytes; steady state %d bytes per refresh over %d refreshes", marks[first], per, len(marks)-1-first)
	if per > 5000 {
		t.Errorf("steady state writes %d bytes per refresh, budget 5000", per)
	}
}

func TestRunReturns(t *testing.T) {
	opts := []tea.ProgramOption{tea.WithOutput(&bytes.Buffer{}), tea.WithWindowSize(80, 24)}

	// q quits cleanly.
	err := run(context.Background(), New(fixtureSource(), Options{Interval: time.Hour}),
		append(opts, tea.WithInput(strings.NewReader("q")))...)
	if err != nil {
		t.Errorf("quitting with q: run = %v, want nil", err)
	}

	// A fatal Source error comes back (TestSourceFatalError), and so does
	// a panic in the Source, with its message and its stack: the model's
	// one recover turns it into the fatal error.
	err = run(context.Background(), New(&fakeSource{panics: true}, Options{Interval: time.Hour}), append(opts, tea.WithInput(nil))...)
	if err == nil || !strings.Contains(err.Error(), "source exploded") || !strings.Contains(err.Error(), "(*fakeSource).Snapshot") {
		t.Errorf("panicking source: run = %v, want the panic and its stack", err)
	}

	// A cancelled context ends the program without an error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, New(fixtureSource(), Options{Interval: time.Hour}), append(opts, tea.WithInput(nil))...); err != nil {
		t.Errorf("cancelled context: run = %v, want nil", err)
	}
}

// resetPanics panics in Reset, which the model calls inside Update.
type resetPanics struct{ fakeSource }

func (r *resetPanics) Reset() { panic("reset exploded") }

// TestRunModelPanics checks the net bubbletea keeps under Update and View,
// which the model leaves to it: the program ends, Run returns an error
// wrapping tea.ErrProgramPanic, and the panic is printed to stderr once the
// terminal is restored.
func TestRunModelPanics(t *testing.T) {
	broken := New(fixtureSource(), Options{Interval: time.Hour})
	broken.st = nil // every view function dereferences the styles
	for _, tc := range []struct {
		name  string
		m     Model
		input string
		want  string
	}{
		{"update", New(&resetPanics{fakeSource{snap: fixtureSnapshot()}}, Options{Interval: time.Hour}), "c", "reset exploded"},
		{"view", broken, "", "nil pointer dereference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			stderr := captureStderr(t, func() {
				err = run(context.Background(), tc.m, tea.WithOutput(&bytes.Buffer{}), tea.WithWindowSize(80, 24),
					tea.WithInput(strings.NewReader(tc.input)))
			})
			if !errors.Is(err, tea.ErrProgramPanic) {
				t.Errorf("run = %v, want an error wrapping tea.ErrProgramPanic", err)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks the panic %q:\n%s", tc.want, stderr)
			}
		})
	}
}

// captureStderr runs f with os.Stderr, where bubbletea prints a panic it
// caught, going to a file, and returns what was written there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = saved }()
	f()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
