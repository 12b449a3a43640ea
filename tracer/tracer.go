// Package tracer loads skbtop's kernel program, attaches it to the kfree_skb
// tracepoint, and reads back what it recorded: cumulative drop counts, the
// tracer's health figures, and sampled drops. It knows nothing about display.
package tracer

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// ErrNoBTF means the kernel exposes no BTF (/sys/kernel/btf/vmlinux), which
// the program needs for tp_btf and CO-RE.
var ErrNoBTF = errors.New("kernel has no BTF (/sys/kernel/btf/vmlinux missing): skbtop needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")

// errNoOwnBTF says why --btf does not help a kernel without BTF of its own.
var errNoOwnBTF = fmt.Errorf("%w; --btf gives skbtop the kernel's types, but the kernel attaches a tp_btf program by its own BTF", ErrNoBTF)

// ErrNoTracepoint means the kernel has no skb:kfree_skb tracepoint to attach
// to.
var ErrNoTracepoint = errors.New("kernel has no skb:kfree_skb tracepoint")

// DefaultSampleLimit is how many drops each CPU samples per second unless
// configured otherwise.
const DefaultSampleLimit = 64

// DefaultMaxKeys is the size of each of the kernel's two count maps unless
// configured otherwise.
const DefaultMaxKeys = 16384

// AttachMethod names how Open attaches the program: a BTF-enabled raw
// tracepoint, skb:kfree_skb. Which of the object's two programs it
// attaches, with or without the drop reason, Tracer.Reasons says.
const AttachMethod = "tp_btf"

// Config says what to trace.
type Config struct {
	// Netns, when not zero, is the inode of the only network namespace
	// whose drops are counted (see netns.Inode).
	Netns uint32
	// SampleLimit is how many drops each CPU samples per second; zero
	// turns sampling off.
	SampleLimit uint32
	// MaxKeys is how many keys the kernel program can count in between
	// two reads: the size of each of its two count maps. Zero means
	// DefaultMaxKeys.
	MaxKeys uint32
	// VerifierLog asks for the verifier's log in load errors.
	VerifierLog bool
	// MaxPeers is the size of each of the retransmit program's two count
	// maps; zero means DefaultMaxPeers.
	MaxPeers uint32
	// BTF, when not nil, is the kernel's BTF read from a file (--btf),
	// used instead of /sys/kernel/btf/vmlinux for probing the tracepoint
	// and relocating the program.
	BTF *btf.Spec
}

// objects are what Open loads: the maps, the variables and one of the
// object's two programs, under the name on_kfree_skb whichever it is (see
// Open).
type objects struct {
	bpf.DropMaps
	bpf.DropVariables
	OnKfreeSkb *ebpf.Program `ebpf:"on_kfree_skb"`
}

func (o *objects) Close() error {
	return errors.Join(o.OnKfreeSkb.Close(), o.DropMaps.Close())
}

// Tracer is the attached kernel program.
type Tracer struct {
	objs objects
	// reasons says that the kernel passes drop reasons; without, every
	// key's Reason is drops.NoReason.
	reasons bool
	link    link.Link
	samples *sampleReader
	// counts are the program's two count maps, counts0 and counts1.
	counts  [2]*ebpf.Map
	maxKeys uint32

	// readMu serializes Read and guards everything below.
	readMu sync.Mutex
	// active is the index of the count map the program counts in, the
	// value of its active_counts. draining is set from a flip until the
	// other map is drained and cleared: a Read that failed in between
	// leaves it to the next one, which does not flip again.
	active   uint32
	draining bool
	// noMembarrier is set when the kernel refused membarrier: Read then
	// waits flipWait instead of an RCU grace period.
	noMembarrier bool
	// batch holds the buffers of batch reads; noBatch is set when the
	// kernel cannot do them, noBatchDelete when it cannot delete in
	// batches. retiring holds the keys of the map being drained.
	batch         *countBatch
	noBatch       bool
	noBatchDelete bool
	retiring      []bpf.DropKey

	// named holds the devices whose names Read has reported, with the
	// name reported and the read that last saw the device; reads counts
	// the reads.
	named map[devKey]namedDev
	reads uint64
	// need is nameDevices' list of devices to look up, reused; above
	// dumpAbove of them it reads the whole map (dumpDevicesAbove; tests
	// lower it).
	need      []devKey
	dumpAbove int
	// written is the programs' names_written when the names were read
	// last; deviceReads counts the reads that looked names up.
	written     uint64
	deviceReads int
	// devKeys and devNames are dumpDevices' buffers.
	devKeys  []bpf.DropDevKey
	devNames []bpf.DropDevName
	// drain is the Samples loop's drain interval (drainFor).
	drain time.Duration

	// stackMu guards stacking, which says a stack collection runs
	// (StartStacks to StopStacks), and closed, set by Close: a
	// collection the live view started may end after the program is
	// gone.
	stackMu  sync.Mutex
	stacking bool
	closed   bool

	// rt is the retransmit program (retrans.go), nil when it could not
	// be loaded, which retransErr then says why.
	rt         *retransTracer
	retransErr error
}

type namedDev struct {
	name string
	seen uint64
}

// devKey identifies an interface: its namespace's cookie, and its inode for
// kernels without cookies, and its index there.
type devKey struct {
	cookie         uint64
	netns, ifindex uint32
}

// Open loads the program and attaches it to tp_btf/kfree_skb. Errors wrap
// os.ErrPermission when the process lacks CAP_BPF and CAP_PERFMON, ErrNoBTF
// or ErrNoTracepoint when the kernel cannot host the program.
func Open(cfg Config) (*Tracer, error) {
	kernel, err := kernelTypes(cfg.BTF)
	if err != nil {
		return nil, err
	}
	reasons, err := probeTracepoint(kernel)
	if err != nil {
		return nil, err
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones
	// to the memory cgroup, where this is a no-op.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise memlock limit: %w", err)
	}
	spec, err := bpf.LoadDrop()
	if err != nil {
		return nil, fmt.Errorf("load program spec: %w", err)
	}
	limit := cfg.SampleLimit
	if err := spec.Variables[bpf.DropVarFilterNetns].Set(cfg.Netns); err != nil {
		return nil, fmt.Errorf("set netns filter: %w", err)
	}
	if err := spec.Variables[bpf.DropVarSampleLimit].Set(limit); err != nil {
		return nil, fmt.Errorf("set sample limit: %w", err)
	}
	t := &Tracer{maxKeys: cmp.Or(cfg.MaxKeys, DefaultMaxKeys), reasons: reasons, named: map[devKey]namedDev{}, dumpAbove: dumpDevicesAbove}
	if ncpu, err := ebpf.PossibleCPU(); err == nil {
		// A record is the event behind the ring's 8-byte header, padded
		// to 8 bytes.
		record := (binary.Size(bpf.DropEvent{}) + 8 + 7) &^ 7
		t.drain = drainFor(spec.Maps[bpf.DropMapSamples].MaxEntries, limit, ncpu, record)
	} else {
		t.drain = minDrain
	}
	spec.Maps[bpf.DropMapCounts0].MaxEntries = t.maxKeys
	spec.Maps[bpf.DropMapCounts1].MaxEntries = t.maxKeys
	if !reasons {
		// The program for tracepoints without a reason, loaded under
		// the same name, so that the kernel's list of programs (and
		// whoever looks for skbtop's there) sees on_kfree_skb either
		// way. Only the program assigned is loaded: the other one would
		// fail the verifier here.
		prog := spec.Programs[bpf.DropProgOnKfreeSkbNoreason].Copy()
		prog.Name = bpf.DropProgOnKfreeSkb
		spec.Programs[bpf.DropProgOnKfreeSkb] = prog
	}
	opts := &ebpf.CollectionOptions{}
	if cfg.BTF != nil {
		opts.Programs.KernelTypes = kernel
	}
	if cfg.VerifierLog {
		opts.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	if err := spec.LoadAndAssign(&t.objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) && !cfg.VerifierLog {
			// Keep the message to one line; --debug shows the full log.
			return nil, fmt.Errorf("load BPF program: %s", firstLine(verr.Error()))
		}
		return nil, fmt.Errorf("load BPF program: %w", err)
	}
	// The program starts counting in counts0 (active_counts is in .bss).
	t.counts = [2]*ebpf.Map{t.objs.Counts0, t.objs.Counts1}
	t.link, err = link.AttachTracing(link.TracingOptions{Program: t.objs.OnKfreeSkb})
	if err != nil {
		t.objs.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("attach tp_btf/kfree_skb: %w", ErrNoTracepoint)
		}
		return nil, fmt.Errorf("attach tp_btf/kfree_skb: %w", err)
	}
	// Retransmits are a second program; a kernel that cannot run it
	// still gets drops.
	t.rt, t.retransErr = openRetrans(kernel, cfg, t.objs.Devices)
	if limit > 0 {
		t.samples, err = newSampleReader(t.objs.Samples)
		if err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// kernelTypes returns the kernel's BTF: spec when it is not nil (--btf),
// else the running kernel's own.
func kernelTypes(spec *btf.Spec) (*btf.Spec, error) {
	if spec != nil {
		// The tp_btf program's attach point is a type ID in the
		// kernel's own BTF, which cilium/ebpf reads from there.
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			return nil, errNoOwnBTF
		}
		return spec, nil
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, ErrNoBTF
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	return spec, nil
}

// probeTracepoint reads from the kernel's BTF whether its kfree_skb
// tracepoint passes a drop reason, which the program reads as its third
// argument: the reason came in Linux 5.17. The tracepoint's arguments are
// the parameters of the btf_trace_kfree_skb typedef, a pointer to the
// function a tp_btf program stands in for, whose first parameter is the
// tracepoint's private data: (data, skb, location) before 5.17, then
// (data, skb, location, reason), and (..., reason, rx_sk) since 6.10.
// Reading the arguments, not the kernel's version, also gets right the
// distribution kernels that backported reasons.
func probeTracepoint(spec *btf.Spec) (reasons bool, err error) {
	var tp *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &tp); err != nil {
		return false, ErrNoTracepoint
	}
	ptr, ok := tp.Type.(*btf.Pointer)
	if !ok {
		return true, nil // an unexpected shape: let loading decide
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	if ok && len(proto.Params) < 4 {
		return false, nil
	}
	return true, nil
}

// Reasons says whether the kernel reports drop reasons. Without them (Linux
// before 5.17) every count's Reason is drops.NoReason; everything else is
// counted the same.
func (t *Tracer) Reasons() bool { return t.reasons }

// Attachment describes for --debug how the program was attached and why.
func (t *Tracer) Attachment() string {
	if t.reasons {
		return AttachMethod + "/kfree_skb: the tracepoint passes a drop reason (btf_trace_kfree_skb has 4 or more parameters)"
	}
	return AttachMethod + "/kfree_skb without a reason: the tracepoint passes skb and location only (btf_trace_kfree_skb has 3 parameters); " + drops.NoReasonsNote
}

// Close detaches the program and frees its maps. Reading samples stops.
func (t *Tracer) Close() error {
	t.stackMu.Lock()
	defer t.stackMu.Unlock()
	t.closed = true
	var errs []error
	if t.samples != nil {
		errs = append(errs, t.samples.Close())
	}
	if t.link != nil {
		errs = append(errs, t.link.Close())
	}
	errs = append(errs, t.rt.close())
	errs = append(errs, t.objs.Close())
	return errors.Join(errs...)
}

// Read returns the counts of every key and the tracer's health, and frees
// the kernel's keys of the interval before, without losing a drop:
//
//  1. It flips the program to the other count map.
//  2. It waits until no program run can still be counting in the map it
//     flipped from (waitForRuns).
//  3. It reads that map's final counts into Retired,
//  4. the map the program now counts in into Counts,
//  5. and clears the map it flipped from.
//
// Every key the program counted since the previous Read is thus in Retired
// with its final count, and the map the next Read retires is the one whose
// keys are in Counts: a key's Counts value grows from one Read to the next
// until the Read that retires it, and a key in Retired that drops again
// comes back in Counts counting from zero, possibly in the same Reading.
// Counts are per-CPU values summed when read: cumulative since the key
// was added, never reset while it lives.
//
// Health.Keys is the larger of len(Retired) and len(Counts): keys are only
// added to a map while the program counts in it, so the retired map's
// count is the most keys a map held over the last interval, which is what
// says how close the program came to overflowing. Health.MaxKeys is the
// size of each map.
//
// Clearing comes last, so that an error before it leaves the retired map
// to the next Read, which reads it again before flipping again. Only a
// failure to clear it, which nothing but a kernel bug causes (the map has
// no other writer by then), loses counts.
func (t *Tracer) Read() (drops.Reading, error) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	// The retired counts end at the flip, the live ones a little later.
	r := drops.Reading{Time: time.Now()}
	if !t.draining {
		// The Variable writes the memory-mapped .bss (BPF_F_MMAPABLE,
		// Linux 5.5; the ring buffer needs 5.8 anyway).
		if err := t.objs.ActiveCounts.Set(t.active ^ 1); err != nil {
			return r, fmt.Errorf("flip count maps: %w", err)
		}
		t.active ^= 1
		t.draining = true
		// The retransmit maps flip too, and the one wait serves both.
		// A failure to flip them costs only retransmits, and must not
		// skip the wait the drop counts need.
		rtErr := t.rt.flip()
		t.waitForRuns()
		if rtErr != nil {
			r.Errors = append(r.Errors, rtErr.Error())
		}
	}
	old := t.counts[t.active^1]
	t.retiring = t.retiring[:0]
	var err error
	if r.Retired, err = t.readCounts(old, r.Retired, &t.retiring); err != nil {
		return r, fmt.Errorf("read retired drop counts: %w", err)
	}
	if r.Counts, err = t.readCounts(t.counts[t.active], r.Counts, nil); err != nil {
		return r, fmt.Errorf("read drop counts: %w", err)
	}
	r.Health.Keys = uint32(max(len(r.Retired), len(r.Counts)))
	r.Health.MaxKeys = t.maxKeys
	var states []bpf.DropCpuState
	if err := t.objs.State.Lookup(uint32(0), &states); err != nil {
		return r, fmt.Errorf("read tracer state: %w", err)
	}
	for _, s := range states {
		r.Health.Sampled += s.Sampled
		r.Health.Suppressed += s.Suppressed
		r.Health.Lost += s.Lost
		r.Health.OverflowPackets += s.OverflowPackets
		r.Health.OverflowBytes += s.OverflowBytes
	}
	if st, err := t.objs.OnKfreeSkb.Stats(); err == nil {
		r.Health.RecursionMisses = st.RecursionMisses
	}
	if err := t.readOverflowDevices(&r); err != nil {
		return r, err
	}
	if err := t.clear(old, t.retiring); err != nil {
		return r, fmt.Errorf("clear retired drop counts: %w", err)
	}
	t.draining = false
	if t.rt != nil {
		// Drops are read; a failure here only costs retransmits
		// this time, and the next Read drains what is left.
		var err error
		if r.Retransmits, err = t.rt.read(); err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	t.nameDevices(&r)
	return r, nil
}

// readOverflowDevices adds to r the cumulative drops of each interface that
// found the counts map full. The map is small and empty until a map fills,
// so it is simply iterated.
func (t *Tracer) readOverflowDevices(r *drops.Reading) error {
	var (
		k bpf.DropDevKey
		v bpf.DropValue
	)
	it := t.objs.OverflowDevices.Iterate()
	for it.Next(&k, &v) {
		r.OverflowDevices = append(r.OverflowDevices, drops.Count{
			Key:     drops.Key{Netns: k.Netns, NetnsCookie: k.NetnsCookie, Ifindex: k.Ifindex},
			Packets: v.Packets, Bytes: v.Bytes,
		})
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read drops per interface that found the map full: %w", err)
	}
	return nil
}

// membarrierCmdGlobal is MEMBARRIER_CMD_GLOBAL of linux/membarrier.h, which
// golang.org/x/sys/unix does not define.
const membarrierCmdGlobal = 1

// flipWait is how long Read waits after a flip where the kernel refuses
// membarrier. A program run is short (well under a microsecond) and cannot
// be preempted, so this is far longer than any run takes, interrupts
// included; but it is no guarantee, where a grace period is one.
const flipWait = 50 * time.Millisecond

// waitForRuns returns once every program run that may have read the old
// value of active_counts has ended. The kernel runs tp_btf programs inside
// rcu_read_lock (__bpf_trace_run), so an RCU grace period is enough: it
// ends only after every read-side section that began before it, and a run
// that begins after it began sees the flip (the update-side guarantee of
// RCU, with the flip stored before the grace period starts).
//
// User space gets a grace period from membarrier(MEMBARRIER_CMD_GLOBAL),
// which is synchronize_rcu() (synchronize_sched() before Linux 4.20, which
// waits for the non-preemptible runs just as well). With one CPU online it
// skips the wait, rightly: runs cannot be preempted (tracepoints call
// programs with preemption off), so none is in progress on the only CPU
// while this thread is in a system call. It fails with EINVAL on kernels
// booted with nohz_full (RCU does not see those CPUs' user-space time as
// a quiescent state to order against), with ENOSYS without
// CONFIG_MEMBARRIER, or with EPERM under a seccomp filter: then Read waits
// flipWait instead.
func (t *Tracer) waitForRuns() {
	if !t.noMembarrier {
		_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0)
		if errno == 0 {
			return
		}
		t.noMembarrier = true
	}
	time.Sleep(flipWait)
}

// batchKeys is how many keys one BPF_MAP_LOOKUP_BATCH call returns: a full
// 16384-key map in 16 system calls, where iterating key by key takes two
// calls a key.
const batchKeys = 1024

// readCounts appends every key's count in m, summed over the CPUs, to out,
// and the keys to *keys unless keys is nil.
func (t *Tracer) readCounts(m *ebpf.Map, out []drops.Count, keys *[]bpf.DropKey) ([]drops.Count, error) {
	if t.batch == nil && !t.noBatch {
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			return out, err
		}
		t.batch = &countBatch{ncpu: ncpu, keys: make([]bpf.DropKey, batchKeys), vals: make([]bpf.DropValue, batchKeys*ncpu)}
	}
	if !t.noBatch {
		n, nkeys := len(out), 0
		if keys != nil {
			nkeys = len(*keys)
		}
		var err error
		out, err = t.readCountsBatch(m, out, keys)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return out, err
		}
		// Batch lookups came in Linux 5.6; older kernels iterate.
		t.noBatch = true
		out = out[:n]
		if keys != nil {
			*keys = (*keys)[:nkeys]
		}
	}
	var (
		k    bpf.DropKey
		vals []bpf.DropValue
	)
	it := m.Iterate()
	for it.Next(&k, &vals) {
		out = append(out, count(k, vals))
		if keys != nil {
			*keys = append(*keys, k)
		}
	}
	return out, it.Err()
}

// readCountsBatch reads the counts batchKeys at a time.
func (t *Tracer) readCountsBatch(m *ebpf.Map, out []drops.Count, keys *[]bpf.DropKey) ([]drops.Count, error) {
	b := t.batch
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, b.keys, b.vals, nil)
		for i := range n {
			out = append(out, count(b.keys[i], b.vals[i*b.ncpu:(i+1)*b.ncpu]))
		}
		if keys != nil {
			*keys = append(*keys, b.keys[:n]...)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			// The end of the map, possibly after a last partial batch.
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// clear deletes keys, every key of m, from m, batchKeys at a time where the
// kernel can (BPF_MAP_DELETE_BATCH, Linux 5.6), else one by one.
func (t *Tracer) clear(m *ebpf.Map, keys []bpf.DropKey) error {
	for len(keys) > 0 && !t.noBatchDelete {
		chunk := keys[:min(len(keys), batchKeys)]
		n, err := m.BatchDelete(chunk, nil)
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.noBatchDelete = true
			break
		}
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	for _, k := range keys {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

// countBatch holds the buffers of batch reads, reused from read to read.
type countBatch struct {
	ncpu int
	keys []bpf.DropKey
	vals []bpf.DropValue
}

func count(k bpf.DropKey, vals []bpf.DropValue) drops.Count {
	c := drops.Count{Key: keyOf(k)}
	for _, v := range vals {
		c.Packets += v.Packets
		c.Bytes += v.Bytes
	}
	return c
}

// forgetAfter is how many reads Read remembers the name it reported for a
// device that no key has: enough that a device dropping now and then is
// not named again each time, few enough that namespaces coming and going
// do not grow the memory for good. A device seen again after that is
// named again.
const forgetAfter = 64

// nameDevices adds to r.Devices the devices of r's keys (retired or live)
// whose name differs from the one reported last, or that earlier reads did
// not report: the kernel program stores a device's name whenever it adds a
// key there, so a renamed or re-created interface is named again, and
// interfaces of namespaces skbtop cannot enter, or that are already gone,
// are named too.
func (t *Tracer) nameDevices(r *drops.Reading) {
	t.reads++
	// Read before the names: a name written after the map is read moves
	// it again, for the next read.
	written, counted := t.namesWritten()
	need, unknown := t.need[:0], false
	want := func(k devKey) {
		if k.ifindex == 0 {
			return
		}
		n, ok := t.named[k]
		if ok && n.seen == t.reads {
			return // looked up in this read already
		}
		if !ok {
			n.name = unnamed
		}
		unknown = unknown || n.name == unnamed
		n.seen = t.reads
		t.named[k] = n
		need = append(need, k)
	}
	for _, list := range [][]drops.Count{r.Retired, r.Counts} {
		for _, c := range list {
			want(devKey{c.NetnsCookie, c.Netns, c.Ifindex})
		}
	}
	if rr := r.Retransmits; rr != nil {
		for _, list := range [][]drops.RetransCount{rr.Retired, rr.Counts} {
			for _, c := range list {
				want(devKey{c.NetnsCookie, c.Netns, c.Ifindex})
			}
		}
	}
	t.need = need
	if counted && written == t.written && !unknown {
		// The programs wrote no name since the names read last, and
		// every device wanted has one: they are all as reported.
		need = nil
	}
	if counted {
		t.written = written
	}
	if len(need) > 0 {
		t.deviceReads++
	}
	if len(need) > t.dumpAbove {
		// A fleet's interfaces all dropping: a few batch reads of the
		// whole map rather than a lookup each.
		if err := t.dumpDevices(func(k devKey, name []int8) { t.rename(r, k, name) }); err == nil {
			need = nil
		}
	}
	for _, k := range need {
		var dn bpf.DropDevName
		if err := t.objs.Devices.Lookup(bpf.DropDevKey{NetnsCookie: k.cookie, Netns: k.netns, Ifindex: k.ifindex}, &dn); err == nil {
			t.rename(r, k, dn.Name[:])
		}
	}
	if t.reads%forgetAfter == 0 {
		for k, n := range t.named {
			if t.reads-n.seen >= forgetAfter {
				delete(t.named, k)
			}
		}
	}
}

// unnamed stands for the name of a device never reported: no interface
// name has a NUL in it.
const unnamed = "\x00"

// dumpDevicesAbove is how many devices one read may look up one by one;
// above it nameDevices reads the whole devices map in batches (at most
// its 4096 entries, a few system calls) instead: 2000 lookups were a tenth
// of a refresh's CPU with 2000 interfaces dropping.
const dumpDevicesAbove = 64

// namesWritten returns how many names the programs have written to the
// devices map; false when it cannot be read.
func (t *Tracer) namesWritten() (uint64, bool) {
	var n, rt uint64
	if t.objs.NamesWritten == nil || t.objs.NamesWritten.Get(&n) != nil {
		return 0, false
	}
	if t.rt != nil && (t.rt.objs.NamesWritten == nil || t.rt.objs.NamesWritten.Get(&rt) != nil) {
		return 0, false
	}
	return n + rt, true
}

// rename reports device k's name, as the program stored it, in r.Devices
// if this read wants it (nameDevices) and it differs from the name
// reported last. The name becomes a string only then: a fleet's thousands
// of names are compared every read.
func (t *Tracer) rename(r *drops.Reading, k devKey, stored []int8) {
	n, ok := t.named[k]
	if !ok || n.seen != t.reads || sameName(n.name, stored) {
		return
	}
	n.name = cString(stored)
	t.named[k] = n
	r.Devices = append(r.Devices, drops.Device{Netns: k.netns, NetnsCookie: k.cookie, Ifindex: k.ifindex, Name: n.name})
}

// sameName reports whether the NUL-terminated stored is name.
func sameName(name string, stored []int8) bool {
	for i := range len(name) {
		if i >= len(stored) || byte(stored[i]) != name[i] || stored[i] == 0 {
			return false
		}
	}
	return len(name) == len(stored) || stored[len(name)] == 0
}

// dumpDevices passes every name the program stored to fn, reading them
// batchKeys at a time (BPF_MAP_LOOKUP_BATCH, Linux 5.6;
// ebpf.ErrNotSupported before).
func (t *Tracer) dumpDevices(fn func(k devKey, name []int8)) error {
	if t.noBatch {
		return ebpf.ErrNotSupported
	}
	if t.devKeys == nil {
		t.devKeys = make([]bpf.DropDevKey, batchKeys)
		t.devNames = make([]bpf.DropDevName, batchKeys)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := t.objs.Devices.BatchLookup(&cursor, t.devKeys, t.devNames, nil)
		for i := range n {
			k := t.devKeys[i]
			fn(devKey{k.NetnsCookie, k.Netns, k.Ifindex}, t.devNames[i].Name[:])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func cString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
