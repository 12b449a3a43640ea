package tracer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// drainInterval is how long the samples of a burst gather before they are
// read. The program wakes the reader only with the first sample into an
// empty ring (a wakeup per drop would cost more than the drop); the reader
// then waits this long, without being woken again, and takes everything.
const drainInterval = 100 * time.Millisecond

// idleWait is the longest the reader sleeps without a wakeup: how late a
// sample the program did not announce can be.
const idleWait = time.Second

type sampleReader struct {
	rd *ringbuf.Reader
}

func newSampleReader(m *ebpf.Map) (*sampleReader, error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open sample ring: %w", err)
	}
	return &sampleReader{rd: rd}, nil
}

func (s *sampleReader) Close() error { return s.rd.Close() }

// Samples calls fn for each sampled drop until ctx is done or the tracer is
// closed. It returns nil in both cases; fn runs on the caller's goroutine.
// Without sampling (Config.SampleLimit 0) it just waits for ctx.
func (t *Tracer) Samples(ctx context.Context, fn func(drops.Sample)) error {
	if t.samples == nil {
		<-ctx.Done()
		return nil
	}
	rd := t.samples.rd
	// Flush wakes a reader waiting for the first sample.
	stop := context.AfterFunc(ctx, func() { _ = rd.Flush() })
	defer stop()
	clock := newMonoClock()
	var rec ringbuf.Record
	// read takes one record; done says there was none to take (the wait
	// ended) and the caller should stop reading.
	read := func() (done bool, err error) {
		err = rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, ringbuf.ErrFlushed):
			return true, nil
		case errors.Is(err, ringbuf.ErrClosed):
			return true, err
		case err != nil:
			return true, fmt.Errorf("read samples: %w", err)
		}
		s, err := DecodeSample(rec.RawSample, clock)
		if err != nil {
			return true, err
		}
		fn(s)
		return false, nil
	}
	for ctx.Err() == nil {
		// Asleep in the kernel until a sample lands in an empty ring, or
		// idleWait at most: the program asks whether the ring is empty
		// before the reader has moved past its last record, so a sample
		// can land unannounced, and then every later one too.
		rd.SetDeadline(time.Now().Add(t.idleWait))
		for burst := false; ; burst = true {
			done, err := read()
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			if err != nil {
				return err
			}
			if done {
				break
			}
			if !burst {
				// The first sample of a burst: let the others gather,
				// then take them all without waiting for more.
				select {
				case <-time.After(drainInterval):
				case <-ctx.Done():
				}
				rd.SetDeadline(time.Now())
			}
		}
	}
	return nil
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
