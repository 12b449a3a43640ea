package symbols

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Drop reason numbers differ between kernels (values are inserted in the
// middle of enum skb_drop_reason between releases), so names are always
// read from the running kernel, never from a table compiled into skbtop.

const (
	reasonPrefix = "SKB_DROP_REASON_"
	// SKB_NOT_DROPPED_YET and SKB_CONSUMED lack the longer prefix; the
	// tracepoint prints them as NOT_DROPPED_YET and CONSUMED.
	shortReasonPrefix = "SKB_"
	subsysPrefix      = "SKB_DROP_REASON_SUBSYS_"
	// subsysMaskName is the enum skb_drop_reason member (since Linux 6.4)
	// that selects the subsystem bits of an extended drop reason.
	subsysMaskName = "SKB_DROP_REASON_SUBSYS_MASK"
)

// subsysEnums lists the enums that name extended drop reasons, with the
// module whose BTF holds them when the subsystem is not built in. Only
// names are listed: their values (subsystem << SKB_DROP_REASON_SUBSYS_SHIFT
// | n) come from BTF. The enum names are kernel identifiers and stable
// since their introduction (mac80211 in 6.5, openvswitch in 6.8).
var subsysEnums = []struct{ enum, module string }{
	{"mac80211_drop_reason", "mac80211"},
	{"ovs_drop_reason", "openvswitch"},
}

// Reasons names the values of the kernel's enum skb_drop_reason, the reason
// argument of the kfree_skb tracepoint. A nil *Reasons is valid and names
// every code with the fallback, so callers can carry on without names.
type Reasons struct {
	names map[uint32]string
	// subsysMask and subsysShift select the subsystem of an extended
	// reason; both are zero on kernels without subsystems.
	subsysMask  uint32
	subsysShift int
	// subsystems names subsystem numbers ("OPENVSWITCH").
	subsystems map[uint32]string
}

// Name returns the name of a drop reason without its SKB_DROP_REASON_
// prefix, such as "NO_SOCKET". Codes this kernel does not name fall back to
// "REASON_<code>" in decimal; an extended (subsystem) reason whose
// subsystem is known but whose enum is not available falls back to
// "<SUBSYSTEM>_REASON_<n>" with n the reason inside the subsystem, e.g.
// "OPENVSWITCH_REASON_3".
func (r *Reasons) Name(code uint32) string {
	if r != nil {
		if name, ok := r.names[code]; ok {
			return name
		}
		if r.subsysMask != 0 && code&r.subsysMask != 0 {
			if sub, ok := r.subsystems[(code&r.subsysMask)>>r.subsysShift]; ok {
				return sub + "_REASON_" + strconv.FormatUint(uint64(code&^r.subsysMask), 10)
			}
		}
	}
	return "REASON_" + strconv.FormatUint(uint64(code), 10)
}

// Len returns the number of named reasons.
func (r *Reasons) Len() int {
	if r == nil {
		return 0
	}
	return len(r.names)
}

// Code returns the code of a named reason (the inverse of Name), for tests
// and for filters given by name.
func (r *Reasons) Code(name string) (code uint32, ok bool) {
	if r == nil {
		return 0, false
	}
	for c, n := range r.names {
		if n == name {
			return c, true
		}
	}
	return 0, false
}

// ReasonsFromBTF reads enum skb_drop_reason from kernel BTF. It also reads
// the subsystem enums of extended drop reasons (enum skb_drop_reason_subsys
// and the per-subsystem enums such as ovs_drop_reason) where spec holds
// them; LoadReasons adds those held by module BTF.
func ReasonsFromBTF(spec *btf.Spec) (*Reasons, error) {
	var enum *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &enum); err != nil {
		return nil, fmt.Errorf("find enum skb_drop_reason in btf: %w", err)
	}
	r := &Reasons{names: make(map[uint32]string, len(enum.Values))}
	for _, v := range enum.Values {
		switch {
		case v.Name == subsysMaskName:
			r.subsysMask = uint32(v.Value)
			r.subsysShift = bits.TrailingZeros32(r.subsysMask)
		case v.Value > 0xffffffff:
			// The tracepoint argument is 32 bits wide.
		case strings.HasPrefix(v.Name, reasonPrefix):
			r.names[uint32(v.Value)] = strings.TrimPrefix(v.Name, reasonPrefix)
		default:
			r.names[uint32(v.Value)] = strings.TrimPrefix(v.Name, shortReasonPrefix)
		}
	}
	if len(r.names) == 0 {
		return nil, errors.New("enum skb_drop_reason in btf has no values")
	}
	if r.subsysMask == 0 {
		// Before Linux 6.4 there are no extended reasons.
		return r, nil
	}
	var subsys *btf.Enum
	if err := spec.TypeByName("skb_drop_reason_subsys", &subsys); err == nil {
		r.subsystems = make(map[uint32]string, len(subsys.Values))
		for _, v := range subsys.Values {
			r.subsystems[uint32(v.Value)] = strings.TrimPrefix(v.Name, subsysPrefix)
		}
	}
	for _, s := range subsysEnums {
		r.addSubsystemEnum(spec, s.enum)
	}
	return r, nil
}

// addSubsystemEnum adds the extended reasons of one subsystem enum if spec
// holds it. Only members carrying subsystem bits are reasons: others (such
// as mac80211's RX_CONTINUE) alias core values, and names starting with an
// underscore are internal markers.
func (r *Reasons) addSubsystemEnum(spec *btf.Spec, name string) bool {
	var enum *btf.Enum
	if err := spec.TypeByName(name, &enum); err != nil {
		return false
	}
	for _, v := range enum.Values {
		code := uint32(v.Value)
		if v.Value > 0xffffffff || code&r.subsysMask == 0 || strings.HasPrefix(v.Name, "_") {
			continue
		}
		if _, known := r.subsystems[(code&r.subsysMask)>>r.subsysShift]; !known && r.subsystems != nil {
			continue
		}
		r.names[code] = v.Name
	}
	return true
}

// ParseReasonsFormat reads drop reason names from the kfree_skb tracepoint
// format file (events/skb/kfree_skb/format under tracefs), whose print fmt
// lists them as __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...).
// It is the fallback for kernels without BTF; it knows no extended
// (subsystem) reasons.
func ParseReasonsFormat(r io.Reader) (*Reasons, error) {
	sc := bufio.NewScanner(r)
	// The print fmt line is several kilobytes long and grows with every
	// kernel release.
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var printFmt string
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "print fmt:") {
			printFmt = line
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tracepoint format: %w", err)
	}
	if printFmt == "" {
		return nil, errors.New("parse tracepoint format: no print fmt line")
	}
	const marker = "__print_symbolic(REC->reason,"
	_, list, found := strings.Cut(printFmt, marker)
	if !found {
		return nil, errors.New("parse tracepoint format: print fmt has no __print_symbolic(REC->reason, ...)")
	}
	res := &Reasons{names: make(map[uint32]string)}
	for {
		list = strings.TrimLeft(list, " ,")
		if !strings.HasPrefix(list, "{") {
			break
		}
		end := strings.IndexByte(list, '}')
		if end < 0 {
			return nil, errors.New("parse tracepoint format: unterminated { code, \"NAME\" } pair")
		}
		code, name, err := parseSymbolicPair(list[1:end])
		if err != nil {
			return nil, fmt.Errorf("parse tracepoint format: %w", err)
		}
		res.names[code] = name
		list = list[end+1:]
	}
	if len(res.names) == 0 {
		return nil, errors.New("parse tracepoint format: __print_symbolic lists no reasons")
	}
	return res, nil
}

// parseSymbolicPair parses ` 3, "NO_SOCKET" `.
func parseSymbolicPair(s string) (uint32, string, error) {
	num, quoted, ok := strings.Cut(s, ",")
	if !ok {
		return 0, "", fmt.Errorf("malformed pair {%s}", s)
	}
	code, err := strconv.ParseUint(strings.TrimSpace(num), 0, 32)
	if err != nil {
		return 0, "", fmt.Errorf("malformed code in {%s}: %w", s, err)
	}
	name, err := strconv.Unquote(strings.TrimSpace(quoted))
	if err != nil || name == "" {
		return 0, "", fmt.Errorf("malformed name in {%s}", s)
	}
	return uint32(code), name, nil
}

// formatPaths are where the kfree_skb format file lives: tracefs' own mount
// point, and its automount under debugfs on older systems.
var formatPaths = []string{
	"/sys/kernel/tracing/events/skb/kfree_skb/format",
	"/sys/kernel/debug/tracing/events/skb/kfree_skb/format",
}

// LoadReasons reads the running kernel's drop reason names: from BTF
// (/sys/kernel/btf/vmlinux, plus the BTF of loaded modules that define
// extended reasons), else from the kfree_skb tracepoint format file. The
// error names both causes when neither works.
func LoadReasons() (*Reasons, error) {
	return loadReasons(btf.LoadKernelSpec, formatPaths)
}

func loadReasons(kernelSpec func() (*btf.Spec, error), paths []string) (*Reasons, error) {
	spec, err := kernelSpec()
	if err == nil {
		var r *Reasons
		if r, err = ReasonsFromBTF(spec); err == nil {
			r.addModuleReasons(spec)
			return r, nil
		}
	}
	btfErr := fmt.Errorf("kernel btf: %w", err)
	formatErr := errors.New("no tracepoint format file")
	for _, path := range paths {
		var r *Reasons
		if r, formatErr = readReasonsFormat(path); formatErr == nil {
			return r, nil
		}
		if !errors.Is(formatErr, os.ErrNotExist) {
			break
		}
	}
	return nil, fmt.Errorf("load drop reason names: %w; tracepoint format: %w", btfErr, formatErr)
}

func readReasonsFormat(path string) (*Reasons, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ParseReasonsFormat(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// addModuleReasons adds extended reasons from the BTF of modules that are
// loaded now. Subsystems loaded later fall back to "<SUBSYSTEM>_REASON_<n>".
func (r *Reasons) addModuleReasons(vmlinux *btf.Spec) {
	if r.subsysMask == 0 {
		return
	}
	for _, s := range subsysEnums {
		if hasEnum(vmlinux, s.enum) {
			continue // built in: ReasonsFromBTF has read it
		}
		f, err := os.Open("/sys/kernel/btf/" + s.module)
		if err != nil {
			continue // not loaded, or built in
		}
		spec, err := btf.LoadSplitSpecFromReader(f, vmlinux)
		f.Close()
		if err != nil {
			continue
		}
		r.addSubsystemEnum(spec, s.enum)
	}
}

func hasEnum(spec *btf.Spec, name string) bool {
	var enum *btf.Enum
	return spec.TypeByName(name, &enum) == nil
}
