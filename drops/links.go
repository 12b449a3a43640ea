package drops

import (
	"encoding/json"
	"math"
	"strconv"
)

// LinkField names one of the interface counters skbtop reads from the
// kernel's struct rtnl_link_stats64. Every output lists them from
// LinkFields, so a new counter is one constant and one row there (and its
// offset in counters).
type LinkField int

// The interface counters, in the order every output shows them.
const (
	RxPackets LinkField = iota
	TxPackets
	RxDropped
	TxDropped
	RxMissed
	RxFIFO
	RxNoHandler
	RxOtherhostDropped
	RxErrors
	TxErrors
	NumLinkFields
)

// LinkFieldInfo describes one interface counter for the outputs.
type LinkFieldInfo struct {
	// Name is the kernel's name and the JSON key: "rx_dropped".
	Name string
	// Title is a column title of at most 8 characters: "rx_drop".
	Title string
	// Drop marks counters of dropped or failed packets: those shown in the
	// interface tables, and whose movement makes an interface not quiet.
	Drop bool
}

// LinkFields describes every LinkField, indexed by it.
var LinkFields = [NumLinkFields]LinkFieldInfo{
	RxPackets:   {Name: "rx_packets", Title: "rx_pkts"},
	TxPackets:   {Name: "tx_packets", Title: "tx_pkts"},
	RxDropped:   {Name: "rx_dropped", Title: "rx_drop", Drop: true},
	TxDropped:   {Name: "tx_dropped", Title: "tx_drop", Drop: true},
	RxMissed:    {Name: "rx_missed", Title: "rx_miss", Drop: true},
	RxFIFO:      {Name: "rx_fifo", Title: "rx_fifo", Drop: true},
	RxNoHandler: {Name: "rx_nohandler", Title: "nohandlr", Drop: true},
	// Packets for another host's MAC address (Linux 6.0+; absent before).
	RxOtherhostDropped: {Name: "rx_otherhost_dropped", Title: "otherhst", Drop: true},
	RxErrors:           {Name: "rx_errors", Title: "rx_err", Drop: true},
	TxErrors:           {Name: "tx_errors", Title: "tx_err", Drop: true},
}

// String returns the counter's kernel name.
func (f LinkField) String() string {
	if f < 0 || f >= NumLinkFields {
		return "link_field_" + strconv.Itoa(int(f))
	}
	return LinkFields[f].Name
}

// DropFields lists the counters marked Drop, in LinkFields order.
func DropFields() []LinkField {
	var out []LinkField
	for f := range NumLinkFields {
		if LinkFields[f].Drop {
			out = append(out, f)
		}
	}
	return out
}

// linkValues holds one value per LinkField and which of them the kernel
// reported: a counter newer than the running kernel is absent, not zero,
// and JSON leaves it out.
type linkValues[T uint64 | float64] struct {
	v   [NumLinkFields]T
	has [NumLinkFields]bool
}

// LinkCounters are an interface's counters (cumulative, or their change
// over a window).
type LinkCounters = linkValues[uint64]

// LinkRates are an interface's counters as per-second rates.
type LinkRates = linkValues[float64]

// Get returns field f, zero when absent.
func (l linkValues[T]) Get(f LinkField) T { return l.v[f] }

// Has reports whether the kernel reported field f.
func (l linkValues[T]) Has(f LinkField) bool { return l.has[f] }

// Set sets field f and marks it present.
func (l *linkValues[T]) Set(f LinkField, v T) {
	l.v[f] = v
	l.has[f] = true
}

// linkKeys are the JSON keys of LinkFields, quoted, each with its colon.
var linkKeys = func() (keys [NumLinkFields]string) {
	for f := range NumLinkFields {
		keys[f] = strconv.Quote(LinkFields[f].Name) + ":"
	}
	return keys
}()

// MarshalJSON writes the present fields as an object in LinkFields order.
func (l linkValues[T]) MarshalJSON() ([]byte, error) {
	return l.appendTo(make([]byte, 0, 32*NumLinkFields))
}

// appendTo appends what MarshalJSON writes.
func (l linkValues[T]) appendTo(b []byte) ([]byte, error) {
	// Appended by hand, not through fmt or json.Marshal: a snapshot of a
	// node's 2,000 interfaces writes some 60,000 of these values a refresh.
	start := len(b)
	b = append(b, '{')
	for f := range NumLinkFields {
		if !l.has[f] {
			continue
		}
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, linkKeys[f]...)
		switch v := any(l.v[f]).(type) {
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case float64:
			var err error
			if b, err = appendFloat(b, v); err != nil {
				return nil, err
			}
		}
	}
	return append(b, '}'), nil
}

// appendFloat appends v as encoding/json writes a float64: the shortest
// decimal that reads back as v, in exponent form only below 1e-6 or from
// 1e21 on, with a one-digit exponent where it fits (1e-7, not 1e-07). NaN
// and the infinities have no JSON form: an error, as json.Marshal gives.
func appendFloat(b []byte, v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		// e-07 -> e-7, e+07 -> e+7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// UnmarshalJSON reads what MarshalJSON wrote; unknown keys are ignored.
func (l *linkValues[T]) UnmarshalJSON(data []byte) error {
	var m map[string]T
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*l = linkValues[T]{}
	for f := range NumLinkFields {
		if v, ok := m[LinkFields[f].Name]; ok {
			l.Set(f, v)
		}
	}
	return nil
}

// Link is one interface's cumulative counters as a source read them.
type Link struct {
	// Name is the interface's name inside its namespace.
	Name string
	// Index is its ifindex inside its namespace.
	Index uint32
	// Counters are its cumulative counters.
	Counters LinkCounters
}

// LinkCountersOf returns counters with the given fields present and every
// other field absent.
func LinkCountersOf(vals map[LinkField]uint64) LinkCounters {
	var c LinkCounters
	for f, v := range vals {
		c.Set(f, v)
	}
	return c
}

// Equal reports whether both hold the same fields with the same values.
func (l linkValues[T]) Equal(o linkValues[T]) bool { return l == o }
