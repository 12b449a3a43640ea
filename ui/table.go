package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// The panes lay out their own rows rather than use bubbles/table: at 80
// columns a pane must shrink some columns and hide others in a chosen order
// (the sparkline before a function name is cut), give room back to the one
// that wants it, style single cells (reasons, sparklines, bars) and keep the
// selected site under the cursor when rows re-sort each second. bubbles/table
// takes fixed column widths and styles whole rows, so it would need all of
// this around it anyway; list.go and this file are that logic alone.

// column is one column of a pane's table. Widths are in cells; a column of
// width 0 is hidden.
type column struct {
	title string
	w     int // current width
	min   int // narrowest it may be shrunk to
	max   int // widest it may grow to; 0 means it does not grow
	right bool
}

// cellWidth is how many cells s takes. Drop-site labels are nearly always
// printable ASCII, one cell a byte, which is counted without walking
// grapheme clusters: a full map is 16,384 labels a refresh.
func cellWidth(s string) int {
	if plain(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

// plain reports whether s is printable ASCII: one cell a byte, no escape
// sequences, cut anywhere.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// natural returns the width a column needs for its title and cells,
// clamped to [lo, hi].
func natural(title string, cells []string, lo, hi int) int {
	w := cellWidth(title)
	for _, c := range cells {
		w = max(w, cellWidth(c))
	}
	return min(max(w, lo), hi)
}

// tableWidth is the width of the visible columns with one-space gaps.
func tableWidth(cols []column) int {
	w, n := 0, 0
	for _, c := range cols {
		if c.w > 0 {
			w += c.w
			n++
		}
	}
	return w + max(n-1, 0)
}

// fitColumns makes the columns fill width: it first shrinks columns toward
// their min in the order given by shrink, then hides columns in the order
// given by hide; when there is room to spare, it grows the column grow (if
// >= 0) up to its max.
func fitColumns(cols []column, width int, shrink, hide []int, grow int) {
	steps := make([]squeeze, 0, len(shrink)+len(hide))
	for _, i := range shrink {
		steps = append(steps, squeeze{i, cols[i].min})
	}
	for _, i := range hide {
		steps = append(steps, squeeze{i, 0})
	}
	if grow >= 0 {
		fit(cols, width, steps, grow)
	} else {
		fit(cols, width, steps)
	}
}

// squeeze is one step of fitting columns into a width: narrow column col
// to w cells, or hide it when w is 0.
type squeeze struct{ col, w int }

// fit takes the steps in order until the columns fit width, each taking no
// more than the excess, and then gives what room is left to the visible
// columns of grow, in that order, each up to its max.
func fit(cols []column, width int, steps []squeeze, grow ...int) {
	for _, st := range steps {
		over := tableWidth(cols) - width
		if over <= 0 {
			break
		}
		c := &cols[st.col]
		switch {
		case st.w == 0:
			c.w = 0
		case c.w > st.w:
			c.w = max(c.w-over, st.w)
		}
	}
	for _, i := range grow {
		spare := width - tableWidth(cols)
		if spare <= 0 {
			break
		}
		if c := &cols[i]; c.w > 0 && c.max > c.w {
			c.w += min(spare, c.max-c.w)
		}
	}
}

// headerRow renders the column titles.
func headerRow(cols []column, st lipgloss.Style) string {
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.title
	}
	return st.Render(plainRow(cols, cells))
}

// plainRow renders cells into their columns without styles.
func plainRow(cols []column, cells []string) string { return styledRow(cols, cells, nil) }

// styledRow renders cells into their columns, each with its style (a nil
// style, or nil sts, leaves a cell plain).
func styledRow(cols []column, cells []string, sts []*lipgloss.Style) string {
	var b strings.Builder
	first := true
	for i, c := range cols {
		if c.w <= 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		cell := fitCell(c, cells[i])
		if sts != nil && sts[i] != nil && strings.TrimSpace(cell) != "" {
			cell = sts[i].Render(cell)
		}
		b.WriteString(cell)
	}
	return b.String()
}

func fitCell(c column, s string) string {
	if c.right {
		return padLeft(s, c.w)
	}
	return pad(s, c.w)
}

// elide shortens s to w cells by taking out its middle: the first cells,
// an ellipsis, and the last tail cells.
func elide(s string, w, tail int) string {
	sw := cellWidth(s)
	if sw <= w {
		return s
	}
	if w <= 1 {
		return truncate(s, w)
	}
	tail = min(max(tail, 0), w-1)
	head := w - 1 - tail
	if plain(s) {
		return s[:head] + ellipsis + s[sw-tail:]
	}
	return ansi.Truncate(s, head, "") + ellipsis + ansi.TruncateLeft(s, sw-tail, "")
}

// symbolSuffix splits function+0xoffset [module] before its "+0x": the
// part a drop site is never cut in.
func symbolSuffix(sym string) (fn, suffix string) {
	plus := strings.LastIndex(sym, "+0x")
	if plus <= 0 {
		return sym, ""
	}
	return sym[:plus], sym[plus:]
}

// wholeFunction is how many cells of a function name are always shown
// whole: longer ones are elided in the middle.
const wholeFunction = 30

// wholeWidth is the width the symbols need with every function name of up
// to wholeFunction cells whole and longer ones elided to that.
func wholeWidth(syms []string) int {
	w := 0
	for _, s := range syms {
		fn, suffix := symbolSuffix(s)
		w = max(w, min(cellWidth(fn), wholeFunction)+cellWidth(suffix))
	}
	return w
}

// truncSymbol shortens function+0xoffset [module] to w cells: without the
// module, then with the function elided in the middle, tail of its cells
// kept at the end; the offset, which tells sites in the same function
// apart, is never cut.
// Without room for a few cells of the name, it cuts the end.
func truncSymbol(sym string, w, tail int) string {
	if cellWidth(sym) <= w {
		return sym
	}
	fn, suffix := symbolSuffix(sym)
	if off, module, ok := strings.Cut(suffix, " ["); ok && module != "" {
		// The module goes before the name is cut (the detail names it).
		return truncSymbol(fn+off, w, tail)
	}
	room := w - cellWidth(suffix)
	if suffix == "" || room < 6 {
		return truncate(sym, w)
	}
	return elide(fn, room, tail) + suffix
}

// symbolTexts shortens each symbol to w cells (truncSymbol), keeping
// different symbols different where it can: it keeps about a third of the
// elided name's cells at its end, more if two would read the same.
func symbolTexts(syms []string, w int) map[string]string {
	room := w
	for _, s := range syms {
		_, suffix := symbolSuffix(s)
		room = min(room, w-cellWidth(suffix))
	}
	first := max((room-1)/3, 0)
	tails := []int{first}
	for k := first + 1; k < room; k++ {
		tails = append(tails, k)
	}
	for k := first - 1; k >= 0; k-- {
		tails = append(tails, k)
	}
	return distinct(syms, w, tails, truncSymbol)
}

// labelTexts shortens each label to w cells, cutting the end, or, when two
// labels would then read the same (nu-vb@nu-b and nu-vb@nu-d), the middle,
// keeping as much of the end as tells them apart.
func labelTexts(labels []string, w int) map[string]string {
	tails := []int{0}
	for k := 1; k < w; k++ {
		tails = append(tails, k)
	}
	return distinct(labels, w, tails, elide)
}

// distinct shortens every label wider than w with short(label, w, tail),
// trying the tails in order until no two labels read the same; when none
// does, it uses the first. Labels that fit are kept as they are.
func distinct(labels []string, w int, tails []int, short func(s string, w, tail int) string) map[string]string {
	// Not sized by labels: a full map is 16,384 rows of a few labels.
	out := map[string]string{}
	var long []string
	for _, l := range labels {
		if _, ok := out[l]; ok {
			continue
		}
		out[l] = l
		if cellWidth(l) > w {
			long = append(long, l)
		}
	}
	if len(long) == 0 || len(tails) == 0 {
		return out
	}
	fits := make(map[string]bool, len(out))
	for l := range out {
		if cellWidth(l) <= w {
			fits[l] = true
		}
	}
	for i, k := range tails {
		seen := make(map[string]bool, len(long))
		clash := false
		for _, l := range long {
			s := short(l, w, k)
			if seen[s] || fits[s] {
				clash = true
				break
			}
			seen[s] = true
		}
		if !clash || i == len(tails)-1 {
			if clash {
				k = tails[0]
			}
			for _, l := range long {
				out[l] = short(l, w, k)
			}
			return out
		}
	}
	return out
}

// fitMemo remembers what a pane's columns were last fitted to: its width, a
// flag of the pane's, and which labels the rows had. Rows with the same
// labels as last time (a node's 2,000 interfaces, refreshed with new
// counts) need no new layout: measuring and shortening thousands of labels
// was a tenth of a refresh. The layout depends on which labels there are,
// not on their order or how many rows share one, so rows that only moved
// (their rates changed places) keep it too.
type fitMemo struct{ last *fitted }

// fitted is what a layout was made for. It lives behind a pointer so that
// copies of a pane share it.
type fitted struct {
	w    int
	flag bool
	// sets hold each list's labels, with the number of the last check
	// that met each.
	sets  []map[string]uint64
	check uint64
}

// same reports whether the columns were fitted to this, and remembers it as
// what they are fitted to now (the caller fits them when it is not the
// same).
func (m *fitMemo) same(w int, flag bool, labels ...[]string) bool {
	if f := m.last; f != nil && f.w == w && f.flag == flag && len(f.sets) == len(labels) {
		f.check++
		same := true
		for i := 0; same && i < len(labels); i++ {
			same = f.sameSet(i, labels[i])
		}
		if same {
			return true
		}
	}
	f := &fitted{w: w, flag: flag, sets: make([]map[string]uint64, len(labels))}
	for i, list := range labels {
		f.sets[i] = make(map[string]uint64)
		for _, l := range list {
			f.sets[i][l] = 0
		}
	}
	m.last = f
	return false
}

// sameSet reports whether list holds exactly the labels of set i.
func (f *fitted) sameSet(i int, list []string) bool {
	set, met := f.sets[i], 0
	for _, l := range list {
		check, ok := set[l]
		if !ok {
			return false
		}
		if check != f.check {
			set[l] = f.check
			met++
		}
	}
	return met == len(set)
}

// forget makes the next same report false.
func (m *fitMemo) forget() { m.last = nil }
