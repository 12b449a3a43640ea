package drops

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestAppendJSON holds AppendJSON to json.Marshal's bytes on snapshots
// whose every exported field, down to the sites' and interfaces', is set
// or left zero at random: a field added to a type and not to AppendJSON,
// an omission rule or an escape written differently, fails here.
func TestAppendJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var s Snapshot
		fill(reflect.ValueOf(&s).Elem(), rnd, 0)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("snapshot %d: json.Marshal: %v", i, err)
		}
		got, err := s.AppendJSON([]byte("x"), true)
		if err != nil {
			t.Fatalf("snapshot %d: AppendJSON: %v", i, err)
		}
		if !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("snapshot %d: AppendJSON wrote\n%s\njson.Marshal wrote\n%s\nfirst difference at byte %d",
				i, got, want, firstDiff(got[1:], want))
		}

		// Without samples: as json.Marshal writes the sites without them.
		bare := s
		bare.Sites = make([]Site, len(s.Sites))
		for j, site := range s.Sites {
			site.Samples = nil
			bare.Sites[j] = site
		}
		if s.Sites == nil {
			bare.Sites = nil
		}
		want, _ = json.Marshal(bare)
		got, err = s.AppendJSON(nil, false)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("snapshot %d without samples: AppendJSON wrote (error %v)\n%s\njson.Marshal wrote\n%s", i, err, got, want)
		}
	}
}

// TestAppendJSONErrors: a value JSON cannot hold fails AppendJSON as it
// fails json.Marshal, wherever it is.
func TestAppendJSONErrors(t *testing.T) {
	var rates LinkRates
	rates.Set(RxDropped, math.Inf(1))
	for name, s := range map[string]Snapshot{
		"window":     {WindowS: math.NaN()},
		"site rate":  {Sites: []Site{{Rate: math.Inf(-1)}}},
		"iface rate": {Interfaces: []Interface{{Rates: &rates}}},
		"fraction":   {Interfaces: []Interface{{Reconciliation: Reconciliation{Fraction: math.NaN()}}}},
		"protocols":  {Protocols: []Protocol{{Rate: math.NaN()}}},
	} {
		if _, err := json.Marshal(s); err == nil {
			t.Fatalf("%s: json.Marshal took it", name)
		}
		if _, err := s.AppendJSON(nil, true); err == nil {
			t.Errorf("%s: AppendJSON gave no error", name)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// jsonStrings are the strings fill picks from: plain ones and every kind
// encoding/json escapes.
var jsonStrings = []string{
	"", "eth0", "__udp4_lib_rcv", "0x3f", `quo"te`, `back\slash`, "<tag>", "a>b", "a<b", "x\x1fy", "R&D", "tab\tnew\nline\r",
	"\x00\x01\x1f", "caf\u00e9", "\u2028\u2029", "bad\xffutf8", "\x80x", "\x7f", "日本",
}

// fill sets v's exported fields, recursively, to random values, leaving
// about a third of them zero so that both sides of every omission rule
// come up.
func fill(v reflect.Value, rnd *rand.Rand, depth int) {
	if rnd.IntN(3) == 0 && depth > 0 {
		v.SetZero()
		return
	}
	switch v.Addr().Interface().(type) {
	case *time.Time:
		v.Set(reflect.ValueOf(time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)).UTC()))
		return
	case *LinkCounters:
		var c LinkCounters
		for f := range NumLinkFields {
			if rnd.IntN(4) > 0 {
				c.Set(f, rnd.Uint64()>>rnd.UintN(64))
			}
		}
		v.Set(reflect.ValueOf(c))
		return
	case *LinkRates:
		var r LinkRates
		for f := range NumLinkFields {
			if rnd.IntN(4) > 0 {
				r.Set(f, randFloat(rnd))
			}
		}
		v.Set(reflect.ValueOf(r))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), rnd, depth+1)
			}
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), rnd, depth+1)
		v.Set(p)
	case reflect.Slice:
		if rnd.IntN(4) == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		n := 1 + rnd.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(s.Index(i), rnd, depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), rnd, depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 1 + rnd.IntN(2) {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(k, rnd, depth+1)
			fill(e, rnd, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(jsonStrings[rnd.IntN(len(jsonStrings))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := uint(v.Type().Bits())
		v.SetInt(int64(rnd.Uint64()) >> (64 - bits) >> rnd.UintN(bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		bits := uint(v.Type().Bits())
		v.SetUint(rnd.Uint64() >> (64 - bits) >> rnd.UintN(bits))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(randFloat(rnd))
	default:
		panic("fill: no rule for " + v.Type().String())
	}
}

// randFloat is a finite float64 of any size: whole, tiny (exponent form),
// huge, negative, or a rate-like fraction.
func randFloat(rnd *rand.Rand) float64 {
	switch rnd.IntN(5) {
	case 0:
		return float64(rnd.IntN(1000))
	case 1:
		return rnd.Float64() * 1e-7
	case 2:
		return rnd.Float64() * 1e22
	case 3:
		return -rnd.Float64() * 100
	}
	return rnd.Float64() * 10
}
