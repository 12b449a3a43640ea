// Package tracer loads skbtop's kernel program, attaches it to the kfree_skb
// tracepoint, and reads back what it recorded: cumulative drop counts, the
// tracer's health figures, and sampled drops. It knows nothing about display.
package tracer

import (
	"cmp"
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

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// ErrNoBTF means the kernel exposes no BTF (/sys/kernel/btf/vmlinux), which
// the program needs for tp_btf and CO-RE.
var ErrNoBTF = errors.New("kernel has no BTF (/sys/kernel/btf/vmlinux); skbtop needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")

// ErrNoTracepoint means the kernel has no skb:kfree_skb tracepoint to attach
// to.
var ErrNoTracepoint = errors.New("kernel has no skb:kfree_skb tracepoint")

// ErrNoDropReason means the kernel's kfree_skb tracepoint predates drop
// reasons (Linux 5.17).
var ErrNoDropReason = errors.New("kernel's skb:kfree_skb tracepoint has no drop reason; skbtop needs Linux 5.17 or later")

// DefaultSampleLimit is how many drops each CPU samples per second unless
// configured otherwise.
const DefaultSampleLimit = 64

// DefaultMaxKeys is the size of the kernel's aggregate map unless configured
// otherwise.
const DefaultMaxKeys = 16384

// AttachMethod names how Open attaches the program: a BTF-enabled raw
// tracepoint, skb:kfree_skb.
const AttachMethod = "tp_btf"

// Config says what to trace.
type Config struct {
	// Netns, when not zero, is the inode of the only network namespace
	// whose drops are counted (see netns.Inode).
	Netns uint32
	// SampleLimit is how many drops each CPU samples per second; zero
	// turns sampling off.
	SampleLimit uint32
	// MaxKeys sizes the aggregate map; zero means DefaultMaxKeys.
	MaxKeys uint32
	// VerifierLog asks for the verifier's log in load errors.
	VerifierLog bool
}

// Tracer is the attached kernel program.
type Tracer struct {
	objs    bpf.DropObjects
	link    link.Link
	samples *sampleReader

	// readMu serializes Read: it guards batch, the buffers of batch
	// reads, noBatch, set when the kernel cannot do them, and named.
	readMu  sync.Mutex
	batch   *countBatch
	noBatch bool

	// named holds the devices whose names Read has reported, with the
	// name reported. Only Read uses it.
	named map[devKey]string
}

type devKey struct{ netns, ifindex uint32 }

// Open loads the program and attaches it to tp_btf/kfree_skb. Errors wrap
// os.ErrPermission when the process lacks CAP_BPF and CAP_PERFMON, ErrNoBTF
// or ErrNoTracepoint when the kernel cannot host the program.
func Open(cfg Config) (*Tracer, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, ErrNoBTF
	}
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	if err := checkTracepoint(kernel); err != nil {
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
	spec.Maps[bpf.DropMapCounts].MaxEntries = cmp.Or(cfg.MaxKeys, DefaultMaxKeys)

	t := &Tracer{named: map[devKey]string{}}
	opts := &ebpf.CollectionOptions{}
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
	t.link, err = link.AttachTracing(link.TracingOptions{Program: t.objs.OnKfreeSkb})
	if err != nil {
		t.objs.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("attach tp_btf/kfree_skb: %w", ErrNoTracepoint)
		}
		return nil, fmt.Errorf("attach tp_btf/kfree_skb: %w", err)
	}
	if limit > 0 {
		t.samples, err = newSampleReader(t.objs.Samples)
		if err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// checkTracepoint makes sure the kernel's kfree_skb tracepoint passes a drop
// reason, which the program reads as its third argument: the reason came in
// Linux 5.17. Without it the verifier would refuse the program with a
// message about context access that says nothing to a user.
func checkTracepoint(spec *btf.Spec) error {
	var tp *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &tp); err != nil {
		return ErrNoTracepoint
	}
	ptr, ok := tp.Type.(*btf.Pointer)
	if !ok {
		return nil // an unexpected shape: let loading decide
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	// The typedef's first parameter is the tracepoint's private data.
	if ok && len(proto.Params) < 4 {
		return ErrNoDropReason
	}
	return nil
}

// Close detaches the program and frees its maps. Reading samples stops.
func (t *Tracer) Close() error {
	var errs []error
	if t.samples != nil {
		errs = append(errs, t.samples.Close())
	}
	if t.link != nil {
		errs = append(errs, t.link.Close())
	}
	errs = append(errs, t.objs.Close())
	return errors.Join(errs...)
}

// Read returns the cumulative counts of every key and the tracer's health.
// It never deletes from the kernel's maps, so no increment is lost between
// reads; callers compute deltas.
func (t *Tracer) Read() (drops.Reading, error) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	r := drops.Reading{Time: time.Now()}
	if err := t.readCounts(&r); err != nil {
		return r, err
	}
	t.nameDevices(&r)
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
	return r, nil
}

// batchKeys is how many keys one BPF_MAP_LOOKUP_BATCH call returns: a full
// 16384-key map in 16 system calls, where iterating key by key takes two
// calls a key.
const batchKeys = 1024

// readCounts appends every key's count, summed over the CPUs, to r.Counts.
func (t *Tracer) readCounts(r *drops.Reading) error {
	if t.batch == nil && !t.noBatch {
		t.batch = &countBatch{keys: make([]bpf.DropKey, batchKeys)}
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			return fmt.Errorf("read drop counts: %w", err)
		}
		t.batch.ncpu = ncpu
		t.batch.vals = make([]bpf.DropValue, batchKeys*ncpu)
	}
	if !t.noBatch {
		err := t.readCountsBatch(r)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return err
		}
		// Batch lookups came in Linux 5.6; older kernels iterate.
		t.noBatch = true
		r.Counts = r.Counts[:0]
	}
	var (
		k    bpf.DropKey
		vals []bpf.DropValue
	)
	it := t.objs.Counts.Iterate()
	for it.Next(&k, &vals) {
		r.Counts = append(r.Counts, count(k, vals))
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read drop counts: %w", err)
	}
	return nil
}

// readCountsBatch reads the counts batchKeys at a time.
func (t *Tracer) readCountsBatch(r *drops.Reading) error {
	b := t.batch
	var cursor ebpf.MapBatchCursor
	for {
		n, err := t.objs.Counts.BatchLookup(&cursor, b.keys, b.vals, nil)
		for i := range n {
			r.Counts = append(r.Counts, count(b.keys[i], b.vals[i*b.ncpu:(i+1)*b.ncpu]))
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			// The end of the map, possibly after a last partial batch.
			return nil
		}
		if err != nil {
			return fmt.Errorf("read drop counts: %w", err)
		}
	}
}

// countBatch holds the buffers of batch reads, reused from read to read.
type countBatch struct {
	ncpu int
	keys []bpf.DropKey
	vals []bpf.DropValue
}

func count(k bpf.DropKey, vals []bpf.DropValue) drops.Count {
	c := drops.Count{Key: drops.Key{
		Location: k.Location,
		Reason:   k.Reason,
		Ifindex:  k.Ifindex,
		Netns:    k.Netns,
		L3:       k.L3,
		L4:       k.L4,
	}}
	for _, v := range vals {
		c.Packets += v.Packets
		c.Bytes += v.Bytes
	}
	return c
}

// nameDevices adds to r.Devices the names of the devices of r.Counts that
// earlier reads did not report: the kernel program stores a device's name
// when it first counts a drop there, so interfaces of namespaces skbtop
// cannot enter, or that are already gone, are named too.
func (t *Tracer) nameDevices(r *drops.Reading) {
	var dn bpf.DropDevName
	for _, c := range r.Counts {
		k := devKey{c.Netns, c.Ifindex}
		if c.Ifindex == 0 {
			continue
		}
		if _, ok := t.named[k]; ok {
			continue
		}
		if err := t.objs.Devices.Lookup(bpf.DropDevKey{Netns: k.netns, Ifindex: k.ifindex}, &dn); err != nil {
			continue
		}
		name := cString(dn.Name[:])
		t.named[k] = name
		r.Devices = append(r.Devices, drops.Device{Netns: k.netns, Ifindex: k.ifindex, Name: name})
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
