package drops

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the snapshot as JSON in one line: the bytes
// json.Marshal writes for it (keys, omissions, escaping and number forms
// alike), without the samples of its sites when samples is false.
//
// A stream writes a node's snapshot every second: with 2,000 interfaces
// that is some 2 MB, and encoding/json spends most of a refresh's CPU on it,
// reflecting on every field and re-reading what every counter set's
// MarshalJSON wrote. The sites and interfaces, nearly all of those bytes,
// are appended here field by field; the rest goes through json.Marshal.
// TestAppendJSON holds both to the same bytes for every field.
func (s *Snapshot) AppendJSON(b []byte, samples bool) ([]byte, error) {
	w := jsonWriter{b: b}
	w.str(`{"schema":`, s.Schema)
	w.str(`,"host":`, s.Host)
	w.str(`,"kernel":`, s.Kernel)
	w.value(`,"time":`, s.Time)
	w.float(`,"window_s":`, s.WindowS)
	w.float(`,"interval_s":`, s.IntervalS)
	if s.Namespace != nil {
		w.value(`,"namespace":`, s.Namespace)
	}
	w.value(`,"filter":`, s.Filter)
	if s.Group != "" {
		w.str(`,"group":`, s.Group)
	}
	if s.Hidden != nil {
		w.value(`,"hidden":`, s.Hidden)
	}
	w.value(`,"totals":`, s.Totals)
	w.key(`,"sites":`)
	if s.Sites == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range s.Sites {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.site(&s.Sites[i], samples)
		}
		w.b = append(w.b, ']')
	}
	w.value(`,"protocols":`, s.Protocols)
	w.key(`,"interfaces":`)
	if s.Interfaces == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range s.Interfaces {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.iface(&s.Interfaces[i])
		}
		w.b = append(w.b, ']')
	}
	if len(s.StackCounters) > 0 {
		w.value(`,"stack_counters":`, s.StackCounters)
	}
	if s.Retransmits != nil {
		w.value(`,"retransmits":`, s.Retransmits)
	}
	if s.Partial {
		w.boolean(`,"partial":`, s.Partial)
	}
	if s.Capabilities != nil {
		w.value(`,"capabilities":`, s.Capabilities)
	}
	if s.StackTrace != nil {
		w.value(`,"stack_trace":`, s.StackTrace)
	}
	if len(s.Warnings) > 0 {
		w.value(`,"warnings":`, s.Warnings)
	}
	w.b = append(w.b, '}')
	return w.b, w.err
}

// site appends one site as an element of an array.
func (w *jsonWriter) site(s *Site, samples bool) {
	w.str(`{"function":`, s.Function)
	w.str(`,"offset":`, s.Offset)
	w.str(`,"module":`, s.Module)
	w.str(`,"address":`, s.Address)
	if s.Reason != "" {
		w.str(`,"reason":`, s.Reason)
	}
	if !s.ReasonCode.IsZero() {
		w.uint(`,"reason_code":`, uint64(s.ReasonCode))
	}
	w.str(`,"interface":`, s.Interface)
	w.uint(`,"ifindex":`, uint64(s.Ifindex))
	w.uint(`,"netns":`, uint64(s.Netns))
	if s.NetnsCookie != 0 {
		w.uint(`,"netns_cookie":`, s.NetnsCookie)
	}
	if s.Namespace != "" {
		w.str(`,"namespace":`, s.Namespace)
	}
	if s.Gone {
		w.boolean(`,"gone":`, s.Gone)
	}
	w.str(`,"l3":`, s.L3)
	w.str(`,"l4":`, s.L4)
	w.uint(`,"count":`, s.Count)
	w.uint(`,"bytes":`, s.Bytes)
	w.float(`,"rate":`, s.Rate)
	if s.Ifaces != 0 {
		w.int(`,"ifaces":`, s.Ifaces)
	}
	if s.BusiestIface != "" {
		w.str(`,"busiest_iface":`, s.BusiestIface)
	}
	if s.Sites != 0 {
		w.int(`,"sites":`, s.Sites)
	}
	if s.BusiestSite != "" {
		w.str(`,"busiest_site":`, s.BusiestSite)
	}
	if s.Protos != 0 {
		w.int(`,"protos":`, s.Protos)
	}
	if samples && len(s.Samples) > 0 {
		w.value(`,"samples":`, s.Samples)
	}
	w.uint(`,"sampled":`, s.Sampled)
	if len(s.Stacks) > 0 {
		w.value(`,"stacks":`, s.Stacks)
	}
	w.b = append(w.b, '}')
}

// iface appends one interface as an element of an array.
func (w *jsonWriter) iface(i *Interface) {
	w.str(`{"name":`, i.Name)
	w.uint(`,"ifindex":`, uint64(i.Ifindex))
	w.uint(`,"netns":`, uint64(i.Netns))
	if i.NetnsCookie != 0 {
		w.uint(`,"netns_cookie":`, i.NetnsCookie)
	}
	if i.Namespace != "" {
		w.str(`,"namespace":`, i.Namespace)
	}
	if i.Gone {
		w.boolean(`,"gone":`, i.Gone)
	}
	w.uint(`,"traced_drops":`, i.TracedDrops)
	w.uint(`,"map_full":`, i.MapFull)
	w.float(`,"traced_rate":`, i.TracedRate)
	if i.Counters != nil {
		w.key(`,"counters":`)
		w.append(i.Counters.appendTo(w.b))
	}
	if i.Delta != nil {
		w.key(`,"delta":`)
		w.append(i.Delta.appendTo(w.b))
	}
	if i.Rates != nil {
		w.key(`,"rates":`)
		w.append(i.Rates.appendTo(w.b))
	}
	r := &i.Reconciliation
	w.boolean(`,"reconciliation":{"has_counters":`, r.HasCounters)
	w.uint(`,"counted":`, r.Counted)
	w.uint(`,"traced":`, r.Traced)
	w.uint(`,"explained":`, r.Explained)
	w.uint(`,"unexplained":`, r.Unexplained)
	w.uint(`,"elsewhere":`, r.Elsewhere)
	w.uint(`,"map_full":`, r.MapFull)
	w.uint(`,"nic_ring":`, r.NICRing)
	w.float(`,"fraction":`, r.Fraction)
	w.key(`,"counters":`)
	if r.Counters == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for j, c := range r.Counters {
			if j > 0 {
				w.b = append(w.b, ',')
			}
			w.str(`{"counters":`, c.Counters)
			w.uint(`,"counted":`, c.Counted)
			w.uint(`,"traced":`, c.Traced)
			w.uint(`,"explained":`, c.Explained)
			w.uint(`,"unexplained":`, c.Unexplained)
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, "}}"...)
}

// jsonWriter appends JSON; the first error sticks. Each member is
// appended with its key as written, comma and quotes included (`,"name":`,
// or `{"name":` for an object's first): the members of every object here
// come in a fixed order, so where the commas go is known when it is
// written.
type jsonWriter struct {
	b   []byte
	err error
}

// key appends a member's key.
func (w *jsonWriter) key(k string) { w.b = append(w.b, k...) }

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *jsonWriter) float(k string, v float64) {
	w.key(k)
	w.append(appendFloat(w.b, v))
}

func (w *jsonWriter) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// value appends v as json.Marshal writes it.
func (w *jsonWriter) value(k string, v any) {
	w.key(k)
	data, err := json.Marshal(v)
	w.append(append(w.b, data...), err)
}

// append takes what an append function returned, unless it failed: then
// the first error is kept (with the bytes so far, so that later appends
// still have somewhere to go).
func (w *jsonWriter) append(b []byte, err error) {
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.b = b
}

// appendString appends s quoted as encoding/json quotes it: strings of
// printable ASCII without ", \, <, > or & as they are, others through
// json.Marshal (escapes, U+2028 and U+2029, invalid UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			data, _ := json.Marshal(s) // a string always marshals
			return append(b, data...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain marks the bytes encoding/json writes as they are in a string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()
