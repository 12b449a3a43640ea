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

// natural returns the width a column needs for its title and cells,
// clamped to [lo, hi].
func natural(title string, cells []string, lo, hi int) int {
	w := ansi.StringWidth(title)
	for _, c := range cells {
		w = max(w, ansi.StringWidth(c))
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
	for _, i := range shrink {
		if over := tableWidth(cols) - width; over > 0 {
			cols[i].w = max(cols[i].w-over, cols[i].min)
		}
	}
	for _, i := range hide {
		if tableWidth(cols) <= width {
			break
		}
		cols[i].w = 0
	}
	if grow >= 0 && cols[grow].w > 0 {
		if spare := width - tableWidth(cols); spare > 0 {
			cols[grow].w = min(cols[grow].w+spare, max(cols[grow].max, cols[grow].w))
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

// truncSymbol shortens function+0xoffset [module] to w cells, cutting the
// function name rather than the offset, which tells sites in the same
// function apart.
func truncSymbol(sym string, w int) string {
	if ansi.StringWidth(sym) <= w {
		return sym
	}
	plus := strings.LastIndex(sym, "+0x")
	if plus <= 0 {
		return truncate(sym, w)
	}
	fn, suffix := sym[:plus], sym[plus:]
	room := w - ansi.StringWidth(suffix)
	if room < 6 {
		return truncate(sym, w)
	}
	return truncate(fn, room) + suffix
}
