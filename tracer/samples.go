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

// The samples of a burst gather for a drain interval before they are read.
// The program wakes the reader only with the first sample into an empty
// ring (a wakeup per drop would cost more than the drop); the reader then
// waits the interval, without being woken again, and takes everything.
// The interval is as long as the ring allows, between minDrain and
// maxDrain: while drops go on, each interval is one wakeup of the reader
// (and of the Go runtime), and samples are shown once a refresh anyway.
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
				case <-time.After(t.drain):
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
