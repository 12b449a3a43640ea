package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// ErrStacksBusy means a stack collection is already running: the program
// records the stacks of one request at a time.
var ErrStacksBusy = errors.New("a stack collection is already running")

// ErrClosed means the tracer was closed.
var ErrClosed = errors.New("the tracer is closed")

// stackDepth is STACK_DEPTH of drop.c: the frames kept of each stack.
const stackDepth = 64

// StartStacks makes the program record the kernel stack of every drop that
// matches req, until StopStacks. Drops that do not match pay one compare
// (see stack_hi in drop.c). The stack maps are empty when it starts:
// StopStacks clears them.
func (t *Tracer) StartStacks(req drops.StackRequest) error {
	t.stackMu.Lock()
	defer t.stackMu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.stacking {
		return ErrStacksBusy
	}
	if req.Hi <= req.Lo {
		return fmt.Errorf("start stacks: empty location range %#x-%#x", req.Lo, req.Hi)
	}
	var match uint32
	if req.MatchReason {
		match |= 1 // STACK_MATCH_REASON
	}
	if req.MatchIface {
		match |= 2 // STACK_MATCH_IFACE
	}
	v := &t.objs.DropVariables
	// stack_hi last: until it is set the program records nothing, so it
	// never sees half a request (see drop.c).
	for _, set := range []struct {
		v   *ebpf.Variable
		val any
	}{
		{v.StackHi, uint64(0)},
		{v.StackLo, req.Lo},
		{v.StackMatch, match},
		{v.StackReason, req.Reason},
		{v.StackIfindex, req.Ifindex},
		{v.StackNetns, req.Netns},
		{v.StackNetnsCookie, req.NetnsCookie},
		{v.StackHi, req.Hi},
	} {
		if err := set.v.Set(set.val); err != nil {
			v.StackHi.Set(uint64(0))
			return fmt.Errorf("start stacks: %w", err)
		}
	}
	t.stacking = true
	return nil
}

// StopStacks stops recording stacks and returns what was recorded since
// StartStacks: the count of each (key, stack) pair, and the drops whose
// stack could not be counted. It waits until no program run can still be
// recording (an RCU grace period, as Read does), so that every stack it
// returns belongs to a drop that happened before it returned and that a
// Read after it counts. It then empties the maps for the next collection.
func (t *Tracer) StopStacks() ([]drops.RawStack, drops.StackFailures, error) {
	t.stackMu.Lock()
	defer t.stackMu.Unlock()
	var fails drops.StackFailures
	if t.closed {
		return nil, fails, ErrClosed
	}
	if !t.stacking {
		return nil, fails, nil
	}
	if err := t.objs.StackHi.Set(uint64(0)); err != nil {
		return nil, fails, fmt.Errorf("stop stacks: %w", err)
	}
	t.stacking = false
	// Under readMu: waitForRuns remembers a refused membarrier for Read.
	t.readMu.Lock()
	t.waitForRuns()
	t.readMu.Unlock()

	var out []drops.RawStack
	var (
		k      bpf.DropStackKey
		counts []uint64
		ids    = map[int32][]uint64{}
		keys   []bpf.DropStackKey
	)
	it := t.objs.StackCounts.Iterate()
	for it.Next(&k, &counts) {
		keys = append(keys, k)
		frames, ok := ids[k.Stackid]
		if !ok {
			var raw [stackDepth]uint64
			if err := t.objs.Stacks.Lookup(uint32(k.Stackid), &raw); err != nil {
				return nil, fails, fmt.Errorf("read stack %d: %w", k.Stackid, err)
			}
			for _, a := range raw {
				if a == 0 {
					break
				}
				frames = append(frames, a)
			}
			ids[k.Stackid] = frames
		}
		var n uint64
		for _, c := range counts {
			n += c
		}
		out = append(out, drops.RawStack{Key: keyOf(k.K), Frames: frames, Count: n})
	}
	if err := it.Err(); err != nil {
		return nil, fails, fmt.Errorf("read stack counts: %w", err)
	}
	var per []bpf.DropStackFail
	if err := t.objs.StackHealth.Lookup(uint32(0), &per); err != nil {
		return nil, fails, fmt.Errorf("read stack failures: %w", err)
	}
	for _, f := range per {
		fails.Collisions += f.Collisions
		fails.StacksFull += f.StacksFull
		fails.CountsFull += f.CountsFull
		fails.Failed += f.Failed
		fails.Suppressed += f.Suppressed
	}

	// Empty everything for the next collection: no run writes now.
	for _, k := range keys {
		if err := t.objs.StackCounts.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, fails, fmt.Errorf("clear stack counts: %w", err)
		}
	}
	for id := range ids {
		if err := t.objs.Stacks.Delete(uint32(id)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, fails, fmt.Errorf("clear stacks: %w", err)
		}
	}
	zero := make([]bpf.DropStackFail, len(per))
	if err := t.objs.StackHealth.Put(uint32(0), zero); err != nil {
		return out, fails, fmt.Errorf("clear stack failures: %w", err)
	}
	return out, fails, nil
}

// keyOf converts the program's key.
func keyOf(k bpf.DropKey) drops.Key {
	return drops.Key{
		Location:    k.Location,
		Reason:      k.Reason,
		Ifindex:     k.Ifindex,
		Netns:       k.Netns,
		NetnsCookie: k.NetnsCookie,
		L3:          k.L3,
		L4:          k.L4,
	}
}
