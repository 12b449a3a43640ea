package tracer

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/skbtop/skbtop/bpf"
	"github.com/skbtop/skbtop/drops"
)

// DefaultMaxPeers is the size of each of the retransmit program's two count
// maps: connection peers that retransmit within one read interval.
const DefaultMaxPeers = 4096

// retransTracer is the retransmit program (bpf/retrans.c) and its read
// state: the same two-map flip as the drop counts (see Tracer.Read).
type retransTracer struct {
	objs bpf.RetransObjects
	// links are on_tcp_retransmit_skb's and on_tcp_retransmit_synack's.
	links  []link.Link
	counts [2]*ebpf.Map
	max    uint32
	// active and draining are as Tracer's, for active_retrans.
	active   uint32
	draining bool
	retiring []bpf.RetransKey
	ncpu     int
}

// tracepointHasErr reports whether the kernel's tcp_retransmit_skb
// tracepoint passes the retransmission's result as a third argument (Linux
// 6.16): then it fires for failed attempts too. Kernel differences are
// data read from BTF, as checkTracepoint's. The typedef's first parameter
// is the tracepoint's private data.
func tracepointHasErr(spec *btf.Spec) (bool, error) {
	var tp *btf.Typedef
	if err := spec.TypeByName("btf_trace_tcp_retransmit_skb", &tp); err != nil {
		return false, errors.New("kernel has no tcp:tcp_retransmit_skb tracepoint")
	}
	ptr, ok := tp.Type.(*btf.Pointer)
	if !ok {
		return false, nil
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	return ok && len(proto.Params) >= 4, nil
}

// openRetrans loads and attaches the retransmit program. It shares the drop
// program's devices map, so one map names the interfaces of both. An error
// leaves skbtop counting drops without retransmits.
func openRetrans(kernel *btf.Spec, cfg Config, devices *ebpf.Map) (*retransTracer, error) {
	hasErr, err := tracepointHasErr(kernel)
	if err != nil {
		return nil, err
	}
	spec, err := bpf.LoadRetrans()
	if err != nil {
		return nil, fmt.Errorf("load retransmit program spec: %w", err)
	}
	if err := spec.Variables[bpf.RetransVarFilterNetns].Set(cfg.Netns); err != nil {
		return nil, fmt.Errorf("set netns filter: %w", err)
	}
	if err := spec.Variables[bpf.RetransVarHasErr].Set(uint32(btoi(hasErr))); err != nil {
		return nil, fmt.Errorf("set has_err: %w", err)
	}
	rt := &retransTracer{max: DefaultMaxPeers}
	if cfg.MaxPeers != 0 {
		rt.max = cfg.MaxPeers
	}
	spec.Maps[bpf.RetransMapRetrans0].MaxEntries = rt.max
	spec.Maps[bpf.RetransMapRetrans1].MaxEntries = rt.max
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{bpf.RetransMapDevices: devices}}
	if cfg.VerifierLog {
		opts.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	if err := spec.LoadAndAssign(&rt.objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) && !cfg.VerifierLog {
			return nil, fmt.Errorf("load retransmit program: %s", firstLine(verr.Error()))
		}
		return nil, fmt.Errorf("load retransmit program: %w", err)
	}
	rt.counts = [2]*ebpf.Map{rt.objs.Retrans0, rt.objs.Retrans1}
	if rt.ncpu, err = ebpf.PossibleCPU(); err != nil {
		rt.objs.Close()
		return nil, err
	}
	for _, p := range []struct {
		prog *ebpf.Program
		name string
	}{{rt.objs.OnTcpRetransmitSkb, "tcp_retransmit_skb"}, {rt.objs.OnTcpRetransmitSynack, "tcp_retransmit_synack"}} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog})
		if err != nil {
			rt.close()
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("attach tp_btf/%s: kernel has no tcp:%s tracepoint", p.name, p.name)
			}
			return nil, fmt.Errorf("attach tp_btf/%s: %w", p.name, err)
		}
		rt.links = append(rt.links, l)
	}
	return rt, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RetransErr says why retransmits are not traced; nil when they are.
func (t *Tracer) RetransErr() error { return t.retransErr }

// close detaches the program and frees its maps (not the shared devices
// map, which the drop program owns).
func (rt *retransTracer) close() error {
	if rt == nil {
		return nil
	}
	var errs []error
	for _, l := range rt.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, rt.objs.Close())
	return errors.Join(errs...)
}

// flip points the program at the other count map unless the last flip's
// map is still to be drained; Tracer.Read then waits for one grace period
// for both programs.
func (rt *retransTracer) flip() error {
	if rt == nil || rt.draining {
		return nil
	}
	if err := rt.objs.ActiveRetrans.Set(rt.active ^ 1); err != nil {
		return fmt.Errorf("flip retransmit maps: %w", err)
	}
	rt.active ^= 1
	rt.draining = true
	return nil
}

// read returns the retired map's final counts and the live map's counts,
// then clears the retired map: Tracer.Read's steps 3 to 5 for retransmits.
func (rt *retransTracer) read() (*drops.RetransReading, error) {
	out := &drops.RetransReading{}
	old := rt.counts[rt.active^1]
	rt.retiring = rt.retiring[:0]
	var err error
	if out.Retired, err = rt.readMap(old, out.Retired, &rt.retiring); err != nil {
		return nil, fmt.Errorf("read retired retransmit counts: %w", err)
	}
	if out.Counts, err = rt.readMap(rt.counts[rt.active], out.Counts, nil); err != nil {
		return nil, fmt.Errorf("read retransmit counts: %w", err)
	}
	out.Health.Keys = uint32(max(len(out.Retired), len(out.Counts)))
	out.Health.MaxKeys = rt.max
	var states []bpf.RetransCpuState
	if err := rt.objs.State.Lookup(uint32(0), &states); err != nil {
		return nil, fmt.Errorf("read retransmit state: %w", err)
	}
	for _, s := range states {
		out.Health.OverflowRetrans += s.OverflowRetrans
		out.Health.OverflowSegs += s.OverflowSegs
		out.Health.OverflowUnsent += s.OverflowUnsent
		out.Health.OverflowFailed += s.OverflowFailed
	}
	for _, p := range []*ebpf.Program{rt.objs.OnTcpRetransmitSkb, rt.objs.OnTcpRetransmitSynack} {
		if st, err := p.Stats(); err == nil {
			out.Health.RecursionMisses += st.RecursionMisses
		}
	}
	// The map is small and the program rarely runs: key by key.
	for _, k := range rt.retiring {
		if err := old.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("clear retired retransmit counts: %w", err)
		}
	}
	rt.draining = false
	return out, nil
}

// readMap appends every key's count in m, summed over the CPUs, to out,
// and the keys to *keys unless keys is nil.
func (rt *retransTracer) readMap(m *ebpf.Map, out []drops.RetransCount, keys *[]bpf.RetransKey) ([]drops.RetransCount, error) {
	var (
		k    bpf.RetransKey
		vals []bpf.RetransValue
	)
	it := m.Iterate()
	for it.Next(&k, &vals) {
		out = append(out, retransCount(k, vals))
		if keys != nil {
			*keys = append(*keys, k)
		}
	}
	return out, it.Err()
}

// afInet6 is AF_INET6; any other family the program saw is AF_INET.
const afInet6 = 10

// retransCount decodes one key and its per-CPU values: counts summed, the
// state of the CPU that counted last.
func retransCount(k bpf.RetransKey, vals []bpf.RetransValue) drops.RetransCount {
	c := drops.RetransCount{PeerKey: drops.PeerKey{
		Netns: k.Netns, NetnsCookie: k.NetnsCookie, Ifindex: k.Ifindex,
		RemotePort: k.Rport, LocalPort: k.Lport,
	}}
	if k.Family == afInet6 {
		// An IPv6 socket talking to an IPv4 peer has it v4-mapped.
		c.Remote = netip.AddrFrom16(k.Raddr).Unmap()
	} else {
		c.Remote = netip.AddrFrom4([4]byte(k.Raddr[:4]))
	}
	for _, v := range vals {
		c.Retrans += v.Retrans
		c.Segs += v.Segs
		c.Unsent += v.Unsent
		c.Failed += v.Failed
		if v.LastNs > c.LastNs {
			c.LastNs, c.State = v.LastNs, uint8(v.State)
		}
	}
	return c
}
