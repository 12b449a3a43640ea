package drops

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Hide is a rule that takes expected drops out of view (IPv6 multicast on
// link-up, say) while they still count in the totals: the sites of a
// function, or one site of it (function+offset), for one reason or any.
// With no function it hides a reason at every site.
type Hide struct {
	// Function is the function's name, as kallsyms has it or without
	// its compiler suffix (ip6_mc_input, __netif_receive_skb_core);
	// "" for every function.
	Function string
	// Offset narrows the rule to one site of the function ("0x15e");
	// "" for every site of it.
	Offset string
	// Reason narrows the rule to one drop reason ("NOT_SPECIFIED"); ""
	// for every reason.
	Reason string
}

// ParseHide reads a rule as --hide and the hides file write it:
// FUNCTION[+0xOFFSET][:REASON], or :REASON for a reason at every site.
func ParseHide(s string) (Hide, error) {
	spec, reason, _ := strings.Cut(strings.TrimSpace(s), ":")
	fn, off, hasOff := strings.Cut(spec, "+")
	h := Hide{Function: fn, Offset: off, Reason: reason}
	switch {
	case fn == "" && reason == "":
		return Hide{}, fmt.Errorf("hide %q: want FUNCTION[+0xOFFSET][:REASON] or :REASON", s)
	case hasOff && (fn == "" || !strings.HasPrefix(off, "0x") || len(off) < 3):
		return Hide{}, fmt.Errorf("hide %q: the offset is +0x and hex digits after a function name", s)
	case strings.ContainsAny(spec+reason, " \t"):
		return Hide{}, fmt.Errorf("hide %q: no spaces in a rule", s)
	}
	return h, nil
}

// String writes the rule as ParseHide reads it.
func (h Hide) String() string {
	s := h.Function
	if h.Offset != "" {
		s += "+" + h.Offset
	}
	if h.Reason != "" {
		s += ":" + h.Reason
	}
	return s
}

// Match reports whether the rule hides the site.
func (h Hide) Match(s Site) bool {
	if s.Function == OverflowFunction {
		// Drops nothing could be said of are never hidden.
		return false
	}
	if h.Function != "" {
		base, _, _ := strings.Cut(s.Function, ".")
		if s.Function != h.Function && base != h.Function {
			return false
		}
	}
	return (h.Offset == "" || s.Offset == h.Offset) && (h.Reason == "" || s.Reason == h.Reason)
}

// HideRow is the rule that hides a row of a view grouped by g and what is
// like it: its site and reason on every interface, or, in a view grouped
// by reason, its reason at every site. ok is false for a row no rule can
// name (the map-full row, a site without a symbol).
func HideRow(s Site, g Grouping) (h Hide, ok bool) {
	switch {
	case s.Function == OverflowFunction:
		return Hide{}, false
	case g == GroupReason:
		return Hide{Reason: s.Reason}, s.Reason != ""
	case s.Function == "":
		return Hide{}, false
	}
	return Hide{Function: s.Function, Offset: s.Offset, Reason: s.Reason}, true
}

// Hidden says what a view leaves out under its hide rules. The drops it
// hides are still in the totals, the protocols and the interfaces.
type Hidden struct {
	// Rules are the rules in force, as ParseHide reads them.
	Rules []string `json:"rules"`
	// Sites is how many rows they hide, Drops and Rate what those rows
	// add up to.
	Sites int     `json:"sites"`
	Drops uint64  `json:"drops"`
	Rate  float64 `json:"rate"`
}

// Hiding returns a copy of the snapshot without the sites any of hides
// matches, saying what it left out in Hidden. Totals, protocols and
// interfaces keep counting them: hiding is not filtering. With no rules it
// returns the snapshot as it is.
func (s Snapshot) Hiding(hides []Hide) Snapshot {
	if len(hides) == 0 {
		return s
	}
	h := &Hidden{Rules: make([]string, len(hides))}
	for i, r := range hides {
		h.Rules[i] = r.String()
	}
	kept := make([]Site, 0, len(s.Sites))
	for _, site := range s.Sites {
		if slices.ContainsFunc(hides, func(r Hide) bool { return r.Match(site) }) {
			h.Sites++
			h.Drops += site.Count
			h.Rate += site.Rate
			continue
		}
		kept = append(kept, site)
	}
	s.Sites, s.Hidden = kept, h
	return s
}

// ReadHides reads hide rules, one a line; blank lines and lines starting
// with # are skipped. An error names the line.
func ReadHides(r io.Reader) ([]Hide, error) {
	var hides []Hide
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		h, err := ParseHide(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		hides = append(hides, h)
	}
	return hides, sc.Err()
}

// LoadHides reads the hides file at path; a file that does not exist holds
// no rules.
func LoadHides(path string) ([]Hide, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hides: %w", err)
	}
	defer f.Close()
	hides, err := ReadHides(f)
	if err != nil {
		return nil, fmt.Errorf("read hides %s: %w", path, err)
	}
	return hides, nil
}

// hidesHeader opens every hides file SaveHides writes.
const hidesHeader = `# skbtop hides: drop sites the live view leaves out; they still count in
# the totals. One FUNCTION[+0xOFFSET][:REASON] a line, or :REASON for a
# reason at every site. skbtop's w key rewrites this file.
`

// SaveHides writes the rules to path, creating its directory (0700), as
// WriteFile writes snapshots: to a temporary file, synced, then renamed, so
// that a crash leaves the old rules or the new ones.
func SaveHides(path string, hides []Hide) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save hides: %w", err)
	}
	var b strings.Builder
	b.WriteString(hidesHeader)
	for _, h := range hides {
		b.WriteString(h.String() + "\n")
	}
	f, err := os.CreateTemp(dir, ".hides-*.tmp")
	if err != nil {
		return fmt.Errorf("save hides: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(b.String()); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save hides: %w", err)
	}
	return nil
}
