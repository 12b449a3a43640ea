package tracer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// Samples are read on a timer and by each refresh, never on a wakeup from
// the kernel (the program writes them with BPF_RB_NO_WAKEUP). A reader
// asleep in the ring's epoll holds the Go runtime's one processor in a
// system call; the runtime takes it back, then sets its monitor thread
// polling fast when the call returns, and on a node full of containers
// that cost more than the reading: 2-4 ms of CPU a second in the scale
// scenario (BENCHMARKS.md). So the reader never waits in the kernel. A
// refresh reads the ring first (DrainSamples), in the wake-up it has
// anyway, so that its snapshot holds the samples of the drops it counts;
// the loop in Samples reads it when no refresh has for a drain interval,
// the time in which the ring fills to a quarter at most.
const (
	minDrain = 100 * time.Millisecond
	maxDrain = time.Second
)

// drainFor returns the drain interval for a ring of ringBytes that each of
// ncpu CPUs fills with up to limit records of recordBytes a second: the
// longest in which the ring fills to a quarter at most.
func drainFor(ringBytes uint32, limit uint32, ncpu int, recordBytes int) time.Duration {
	perSecond := float64(limit) * float64(ncpu) * float64(recordBytes)
	if perSecond <= 0 {
		return maxDrain
	}
	d := time.Duration(float64(ringBytes) / 4 / perSecond * float64(time.Second))
	return min(max(d, minDrain), maxDrain)
}

// sampleReader reads the ring for the Samples loop and for DrainSamples.
type sampleReader struct {
	rd *ringbuf.Reader
	// failed is closed when a read fails; err says why.
	failed chan struct{}

	// mu serialises the reads and guards the fields below.
	mu    sync.Mutex
	rec   ringbuf.Record
	clock MonoClock
	// fn takes the samples while Samples runs, nil otherwise.
	fn func(drops.Sample)
	// last is when the ring was last read, byRefresh whether by
	// DrainSamples; reads counts the loop's own reads (for tests).
	last      time.Time
	byRefresh bool
	reads     int
	err       error
	closed    bool
}

func newSampleReader(m *ebpf.Map) (*sampleReader, error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open sample ring: %w", err)
	}
	// A deadline in the past: a read takes what is in the ring and never
	// waits for more.
	rd.SetDeadline(time.Unix(0, 1))
	return &sampleReader{rd: rd, failed: make(chan struct{})}, nil
}

func (s *sampleReader) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.rd.Close()
}

// start hands the samples to fn from now on; stop ends it.
func (s *sampleReader) start(fn func(drops.Sample)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn, s.clock, s.last = fn, newMonoClock(), time.Now()
}

func (s *sampleReader) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = nil
}

// drainLocked hands every sample in the ring to fn. A failed read stops
// the reading for good and ends the Samples loop.
func (s *sampleReader) drainLocked(byRefresh bool) {
	s.last, s.byRefresh = time.Now(), byRefresh
	if s.fn == nil || s.closed {
		return
	}
	// Most reads find the ring empty: no system call then.
	if s.rd.AvailableBytes() == 0 {
		return
	}
	for {
		err := s.rd.ReadInto(&s.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		var smp drops.Sample
		if err == nil {
			smp, err = DecodeSample(s.rec.RawSample, s.clock)
		}
		if err != nil {
			s.fn, s.err = nil, fmt.Errorf("read samples: %w", err)
			close(s.failed)
			return
		}
		s.fn(smp)
	}
}

// due reads the ring if no one has for period (period and a half after a
// refresh's read: refreshes read at a steady interval, and the loop would
// otherwise wake just before each when theirs is the drain interval). It
// returns how long until the next read is due.
func (s *sampleReader) due(period time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := period
	if s.byRefresh {
		wait += period / 2
	}
	if since := time.Since(s.last); since < wait {
		return wait - since
	}
	s.reads++
	s.drainLocked(false)
	return period
}

// Samples calls fn for each sampled drop until ctx is done or the tracer is
// closed, and returns nil then, or the error that stopped the reading. fn
// runs on the goroutine of Samples or of DrainSamples, never on both at
// once. Without sampling (Config.SampleLimit 0) Samples just waits for ctx.
func (t *Tracer) Samples(ctx context.Context, fn func(drops.Sample)) error {
	s := t.samples
	if s == nil {
		<-ctx.Done()
		return nil
	}
	s.start(fn)
	defer s.stop()
	timer := time.NewTimer(t.drain)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.failed:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.err
		case <-timer.C:
			timer.Reset(s.due(t.drain))
		}
	}
}

// DrainSamples hands every sample waiting in the ring to the callback of
// Samples, on the caller's goroutine, before it returns; it does nothing
// while Samples is not running. A refresh calls it before reading the
// counts, so that every sample it shows is of a drop it counts, and the
// samples of the drops it counts are there.
func (t *Tracer) DrainSamples() {
	if s := t.samples; s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.drainLocked(true)
	}
}

// DecodeSample decodes one ring buffer record written by the kernel program.
// It is the only code that knows the event's layout: the bpf2go-generated
// DropEvent mirrors the C struct.
func DecodeSample(raw []byte, clock MonoClock) (drops.Sample, error) {
	var e bpf.DropEvent
	if _, err := binary.Decode(raw, binary.NativeEndian, &e); err != nil {
		return drops.Sample{}, fmt.Errorf("decode sample of %d bytes: %w", len(raw), err)
	}
	captured := min(int(e.Captured), len(e.Data))
	return drops.Sample{
		Key: drops.Key{
			Location:    e.Location,
			Reason:      e.Reason,
			Ifindex:     e.Ifindex,
			Netns:       e.Netns,
			NetnsCookie: e.NetnsCookie,
			L3:          e.L3,
			L4:          e.L4,
		},
		Time:   clock.Wall(e.TimeNs),
		CPU:    e.Cpu,
		Ifname: cString(e.Ifname[:]),
		Len:    e.Len,
		Data:   bytes.Clone(e.Data[:captured]),
	}, nil
}

// MonoClock converts CLOCK_MONOTONIC nanoseconds, the kernel program's
// bpf_ktime_get_ns, to wall-clock time.
type MonoClock struct {
	wall time.Time
	mono int64
}

func newMonoClock() MonoClock {
	var ts unix.Timespec
	// CLOCK_MONOTONIC cannot fail on Linux; on error the zero offset only
	// makes sample times wrong, never the counts.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return MonoClock{wall: time.Now(), mono: ts.Nano()}
}

// Wall returns the wall-clock time of a monotonic timestamp.
func (c MonoClock) Wall(ns uint64) time.Time {
	return c.wall.Add(time.Duration(int64(ns) - c.mono))
}
