package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// bpftraceEntry is one line of a printed bpftrace map keyed by
// (location, reason): "@[0xffffffff8204674c, 3]: 5".
type bpftraceEntry struct {
	Location uint64
	// Reason is the reason as printed: a number, or an enum name with or
	// without its SKB_DROP_REASON_ prefix (newer bpftrace prints names).
	Reason string
	Count  uint64
}

// parseBpftraceMap reads the map bpftrace prints when it exits. Lines that
// are not map entries ("Attaching 1 probe...", blank lines) are skipped; a
// line that starts like an entry but does not parse is an error.
func parseBpftraceMap(r io.Reader) ([]bpftraceEntry, error) {
	var out []bpftraceEntry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "@[") {
			continue
		}
		key, val, ok := strings.Cut(line[2:], "]:")
		if !ok {
			return nil, fmt.Errorf("bpftrace line %d: no \"]:\" in %q", n, line)
		}
		loc, reason, ok := strings.Cut(key, ",")
		if !ok {
			return nil, fmt.Errorf("bpftrace line %d: key %q is not (location, reason)", n, key)
		}
		var e bpftraceEntry
		var err error
		if e.Location, err = strconv.ParseUint(strings.TrimSpace(loc), 0, 64); err != nil {
			return nil, fmt.Errorf("bpftrace line %d: location: %w", n, err)
		}
		e.Reason = strings.TrimPrefix(strings.TrimSpace(reason), "SKB_DROP_REASON_")
		if e.Reason == "" {
			return nil, fmt.Errorf("bpftrace line %d: empty reason", n)
		}
		if e.Count, err = strconv.ParseUint(strings.TrimSpace(val), 10, 64); err != nil {
			return nil, fmt.Errorf("bpftrace line %d: count: %w", n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// countReasons adds up the entries whose reason is one of want, given by
// name (without prefix) or by number.
func countReasons(entries []bpftraceEntry, want map[string]bool) uint64 {
	var n uint64
	for _, e := range entries {
		if want[e.Reason] {
			n += e.Count
		}
	}
	return n
}
