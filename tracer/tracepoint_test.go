package tracer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// kernelWith builds a kernel BTF whose btf_trace_kfree_skb typedef takes
// params parameters, or has no such typedef when params is 0.
func kernelWith(t *testing.T, params int) *btf.Spec {
	t.Helper()
	var b btf.Builder
	ptr := &btf.Pointer{Target: &btf.Void{}}
	if _, err := b.Add(ptr); err != nil {
		t.Fatal(err)
	}
	if params > 0 {
		proto := &btf.FuncProto{Return: &btf.Void{}}
		for range params {
			proto.Params = append(proto.Params, btf.FuncParam{Type: ptr})
		}
		if _, err := b.Add(&btf.Typedef{Name: "btf_trace_kfree_skb", Type: &btf.Pointer{Target: proto}}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestProbeTracepoint(t *testing.T) {
	tests := []struct {
		name        string
		params      int
		wantReasons bool
		wantErr     error
	}{
		{"6.10 and later: data, skb, location, reason, rx_sk", 5, true, nil},
		{"5.17: data, skb, location, reason", 4, true, nil},
		{"before 5.17: data, skb, location", 3, false, nil},
		{"no tracepoint", 0, false, ErrNoTracepoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reasons, err := probeTracepoint(kernelWith(t, tt.params))
			if !errors.Is(err, tt.wantErr) || reasons != tt.wantReasons {
				t.Errorf("probeTracepoint = %v, %v; want %v, %v", reasons, err, tt.wantReasons, tt.wantErr)
			}
		})
	}
}
