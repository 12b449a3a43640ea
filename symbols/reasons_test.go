package symbols

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

func TestParseReasonsFormat(t *testing.T) {
	r, err := ParseReasonsFormat(openFixture(t, "kfree_skb_format_6.18.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Linux 6.18 lists NOT_SPECIFIED (2) up to MAX (128).
	if got, want := r.Len(), 127; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	tests := []struct {
		code uint32
		want string
	}{
		{2, "NOT_SPECIFIED"},
		{3, "NO_SOCKET"},
		{12, "NETFILTER_DROP"},
		{74, "UNHANDLED_PROTO"},
		{127, "RECURSION_LIMIT"},
		{0, "REASON_0"},
		{129, "REASON_129"},
		{0x20001, "REASON_131073"},
	}
	for _, tt := range tests {
		if got := r.Name(tt.code); got != tt.want {
			t.Errorf("Name(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestParseReasonsFormatErrors(t *testing.T) {
	tests := []struct {
		fixture string
		wantErr string
	}{
		{"kfree_skb_format_garbage.txt", "no print fmt"},
		{"kfree_skb_format_no_reason.txt", "no __print_symbolic"},
		{"kfree_skb_format_truncated.txt", "unterminated"},
		{"kfree_skb_format_bad_pair.txt", "malformed code"},
		{"kallsyms.txt", "no print fmt"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			r, err := ParseReasonsFormat(openFixture(t, tt.fixture))
			if err == nil {
				t.Fatalf("ParseReasonsFormat = %d reasons, want an error", r.Len())
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestNilReasons(t *testing.T) {
	var r *Reasons
	if got, want := r.Name(3), "REASON_3"; got != want {
		t.Errorf("nil Name(3) = %q, want %q", got, want)
	}
	if r.Len() != 0 {
		t.Errorf("nil Len() = %d", r.Len())
	}
	if _, ok := r.Code("NO_SOCKET"); ok {
		t.Error("nil Code found a reason")
	}
}

// specOf builds a BTF spec holding types, as a kernel's would.
func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func enumOf(name string, values ...btf.EnumValue) *btf.Enum {
	return &btf.Enum{Name: name, Size: 4, Values: values}
}

// coreReasons is a cut-down enum skb_drop_reason in the shape of Linux 6.8+.
func coreReasons(withMask bool) *btf.Enum {
	e := enumOf("skb_drop_reason",
		btf.EnumValue{Name: "SKB_NOT_DROPPED_YET", Value: 0},
		btf.EnumValue{Name: "SKB_CONSUMED", Value: 1},
		btf.EnumValue{Name: "SKB_DROP_REASON_NOT_SPECIFIED", Value: 2},
		btf.EnumValue{Name: "SKB_DROP_REASON_NO_SOCKET", Value: 3},
		btf.EnumValue{Name: "SKB_DROP_REASON_MAX", Value: 4},
	)
	if withMask {
		e.Values = append(e.Values, btf.EnumValue{Name: "SKB_DROP_REASON_SUBSYS_MASK", Value: 0xffff0000})
	}
	return e
}

func TestReasonsFromBTF(t *testing.T) {
	subsys := enumOf("skb_drop_reason_subsys",
		btf.EnumValue{Name: "SKB_DROP_REASON_SUBSYS_CORE", Value: 0},
		btf.EnumValue{Name: "SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE", Value: 1},
		btf.EnumValue{Name: "SKB_DROP_REASON_SUBSYS_OPENVSWITCH", Value: 2},
		btf.EnumValue{Name: "SKB_DROP_REASON_SUBSYS_NUM", Value: 3},
	)
	ovs := enumOf("ovs_drop_reason",
		btf.EnumValue{Name: "__OVS_DROP_REASON", Value: 0x20000},
		btf.EnumValue{Name: "OVS_DROP_LAST_ACTION", Value: 0x20001},
		btf.EnumValue{Name: "OVS_DROP_ACTION_ERROR", Value: 0x20002},
		btf.EnumValue{Name: "OVS_DROP_MAX", Value: 0x20003},
	)
	mac80211 := enumOf("mac80211_drop_reason",
		btf.EnumValue{Name: "RX_CONTINUE", Value: 1},
		btf.EnumValue{Name: "RX_QUEUED", Value: 0},
		btf.EnumValue{Name: "RX_DROP_UNUSABLE", Value: 0x10000},
		btf.EnumValue{Name: "RX_DROP_U_MIC_FAIL", Value: 0x10001},
	)

	tests := []struct {
		name  string
		types []btf.Type
		want  map[uint32]string
	}{
		{
			name:  "before subsystems",
			types: []btf.Type{coreReasons(false)},
			want: map[uint32]string{
				0: "NOT_DROPPED_YET", 1: "CONSUMED", 2: "NOT_SPECIFIED", 3: "NO_SOCKET",
				5: "REASON_5", 0x20001: "REASON_131073",
			},
		},
		{
			name:  "subsystems without their enums",
			types: []btf.Type{coreReasons(true), subsys},
			want: map[uint32]string{
				3: "NO_SOCKET", 0xffff0000: "REASON_4294901760",
				0x20001: "OPENVSWITCH_REASON_1", 0x10005: "MAC80211_UNUSABLE_REASON_5",
				0x70001: "REASON_458753",
			},
		},
		{
			name:  "subsystems with their enums",
			types: []btf.Type{coreReasons(true), subsys, ovs, mac80211},
			want: map[uint32]string{
				1: "CONSUMED", 3: "NO_SOCKET",
				0x20000: "OPENVSWITCH_REASON_0", 0x20001: "OVS_DROP_LAST_ACTION",
				0x20002: "OVS_DROP_ACTION_ERROR", 0x20009: "OPENVSWITCH_REASON_9",
				0x10000: "RX_DROP_UNUSABLE", 0x10001: "RX_DROP_U_MIC_FAIL",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReasonsFromBTF(specOf(t, tt.types...))
			if err != nil {
				t.Fatal(err)
			}
			for code, want := range tt.want {
				if got := r.Name(code); got != want {
					t.Errorf("Name(%#x) = %q, want %q", code, got, want)
				}
			}
		})
	}
}

func TestReasonsFromBTFErrors(t *testing.T) {
	tests := []struct {
		name  string
		types []btf.Type
	}{
		{"no enum", []btf.Type{enumOf("other_enum", btf.EnumValue{Name: "X", Value: 1})}},
		{"empty enum", []btf.Type{enumOf("skb_drop_reason")}},
		{"not an enum", []btf.Type{&btf.Struct{Name: "skb_drop_reason"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := ReasonsFromBTF(specOf(t, tt.types...)); err == nil {
				t.Errorf("ReasonsFromBTF = %d reasons, want an error", r.Len())
			}
		})
	}
}

// kernelReasonCodes reads the codes of some well-known reasons straight
// from the running kernel's BTF, so that tests never assume numbers.
func kernelReasonCodes(t *testing.T, spec *btf.Spec, names ...string) map[string]uint32 {
	t.Helper()
	var enum *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &enum); err != nil {
		t.Fatal(err)
	}
	codes := make(map[string]uint32)
	for _, v := range enum.Values {
		for _, name := range names {
			if v.Name == "SKB_DROP_REASON_"+name {
				codes[name] = uint32(v.Value)
			}
		}
	}
	for _, name := range names {
		if _, ok := codes[name]; !ok {
			t.Fatalf("kernel BTF has no SKB_DROP_REASON_%s", name)
		}
	}
	return codes
}

var wellKnownReasons = []string{"NO_SOCKET", "NOT_SPECIFIED", "NETFILTER_DROP", "UNHANDLED_PROTO"}

func kernelSpec(t *testing.T) *btf.Spec {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		kerneltest.SkipOrFail(t, "no kernel BTF: %v", err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestReasonsFromKernelBTF(t *testing.T) {
	spec := kernelSpec(t)
	r, err := ReasonsFromBTF(spec)
	if !kerneltest.DropReasons(t) {
		// Before 5.17 the kernel has no enum skb_drop_reason.
		if err == nil {
			t.Fatalf("ReasonsFromBTF named %d reasons on a kernel without drop reasons", r.Len())
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, code := range kernelReasonCodes(t, spec, wellKnownReasons...) {
		if got := r.Name(code); got != name {
			t.Errorf("Name(%d) = %q, want %q", code, got, name)
		}
		if got, ok := r.Code(name); !ok || got != code {
			t.Errorf("Code(%q) = %d, %v; want %d", name, got, ok, code)
		}
	}
}

func TestLoadReasons(t *testing.T) {
	spec := kernelSpec(t)
	r, err := LoadReasons()
	if !kerneltest.DropReasons(t) {
		if err == nil {
			t.Fatalf("LoadReasons named %d reasons on a kernel without drop reasons", r.Len())
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, code := range kernelReasonCodes(t, spec, wellKnownReasons...) {
		if got := r.Name(code); got != name {
			t.Errorf("Name(%d) = %q, want %q", code, got, name)
		}
	}
}

func TestLoadReasonsFallback(t *testing.T) {
	errNoBTF := errors.New("no btf here")
	noBTF := func() (*btf.Spec, error) { return nil, errNoBTF }
	fixture := filepath.Join("testdata", "kfree_skb_format_6.18.txt")
	missing := filepath.Join(t.TempDir(), "missing")

	r, err := loadReasons(noBTF, []string{missing, fixture})
	if err != nil {
		t.Fatalf("loadReasons with a format file: %v", err)
	}
	if got := r.Name(3); got != "NO_SOCKET" {
		t.Errorf("Name(3) = %q from the 6.18 fixture, want NO_SOCKET", got)
	}

	_, err = loadReasons(noBTF, []string{missing})
	if !errors.Is(err, errNoBTF) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loadReasons with nothing = %v, want both causes wrapped", err)
	}

	garbage := filepath.Join("testdata", "kfree_skb_format_garbage.txt")
	_, err = loadReasons(noBTF, []string{garbage, fixture})
	if err == nil || !strings.Contains(err.Error(), "no print fmt") {
		t.Errorf("loadReasons with a garbage format file = %v, want its parse error", err)
	}
}
