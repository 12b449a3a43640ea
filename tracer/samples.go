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

// drainInterval is how often samples are read. The program submits with
// BPF_RB_NO_WAKEUP, so the kernel never wakes the reader per sample (a wakeup
// per drop would cost more than the drop); the reader wakes on this timer
// and takes whatever has accumulated.
const drainInterval = 100 * time.Millisecond

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
	stop := context.AfterFunc(ctx, func() { t.samples.rd.SetDeadline(time.Now()) })
	defer stop()
	clock := newMonoClock()
	var rec ringbuf.Record
	for ctx.Err() == nil {
		t.samples.rd.SetDeadline(time.Now().Add(drainInterval))
		for {
			err := t.samples.rd.ReadInto(&rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read samples: %w", err)
			}
			s, err := DecodeSample(rec.RawSample, clock)
			if err != nil {
				return err
			}
			fn(s)
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
