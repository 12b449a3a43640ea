package ui

import (
	"cmp"
	"slices"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// sortOrder is how the drop-site pane orders its rows.
type sortOrder int

const (
	byRate sortOrder = iota
	byTotal
	byName
)

func (o sortOrder) String() string {
	switch o {
	case byTotal:
		return "total"
	case byName:
		return "name"
	}
	return "rate"
}

func (o sortOrder) next() sortOrder { return (o + 1) % 3 }

// sitesPane lists drop sites, one per row, with a cursor that follows the
// selected site when rows reorder.
type sitesPane struct {
	st      *styles
	keys    *keyMap
	w, h    int
	focused bool

	sites  []drops.Site
	totals drops.Totals
	order  sortOrder
	list   list
	// sel is the selected site's key, kept across refreshes.
	sel    drops.Key
	hasSel bool
	// empty explains an empty list.
	empty string
}

// SetSize sets the pane's width and height, including its column header.
func (p *sitesPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.setHeight(h - 1)
}

// SetSites replaces the rows, keeping the selection on the same site.
func (p *sitesPane) SetSites(sites []drops.Site, totals drops.Totals, empty string) {
	p.sites = slices.Clone(sites)
	p.totals = totals
	p.empty = empty
	p.sort()
}

// SetOrder changes the sort order, keeping the selection.
func (p *sitesPane) SetOrder(o sortOrder) {
	p.order = o
	p.sort()
}

func (p *sitesPane) sort() {
	slices.SortStableFunc(p.sites, func(a, b drops.Site) int {
		var c int
		switch p.order {
		case byRate:
			c = cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Count, a.Count))
		case byTotal:
			c = cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(b.Rate, a.Rate))
		}
		return cmp.Or(c, cmp.Compare(a.Symbol(), b.Symbol()), cmp.Compare(a.Reason, b.Reason),
			cmp.Compare(a.Interface, b.Interface), cmp.Compare(proto(a.L3, a.L4), proto(b.L3, b.L4)))
	})
	p.list.setLen(len(p.sites))
	if p.hasSel {
		if i := slices.IndexFunc(p.sites, func(s drops.Site) bool { return s.Key == p.sel }); i >= 0 {
			p.list.set(i)
		}
	}
	p.remember()
}

func (p *sitesPane) remember() {
	if s, ok := p.Selected(); ok {
		p.sel, p.hasSel = s.Key, true
	}
}

// Selected returns the site under the cursor.
func (p sitesPane) Selected() (drops.Site, bool) {
	if p.list.cursor < 0 || p.list.cursor >= len(p.sites) {
		return drops.Site{}, false
	}
	return p.sites[p.list.cursor], true
}

// Update moves the cursor.
func (p *sitesPane) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && p.list.navigate(k, p.keys) {
		p.remember()
	}
	return nil
}

// share is a site's part of all drops in the view: by count, or by rate
// right after a reset when nothing has been counted yet.
func (p sitesPane) share(s drops.Site) string {
	if p.totals.Drops > 0 {
		return fmtShare(float64(s.Count), float64(p.totals.Drops))
	}
	return fmtShare(s.Rate, p.totals.Rate)
}

const (
	colSym = iota
	colReason
	colIface
	colProto
	colRate
	colTotal
	colShare
	colSpark
)

func (p sitesPane) columns() []column {
	syms := make([]string, len(p.sites))
	reasons := make([]string, len(p.sites))
	ifaces := make([]string, len(p.sites))
	protos := make([]string, len(p.sites))
	for i, s := range p.sites {
		syms[i], reasons[i], ifaces[i], protos[i] = s.Symbol(), s.Reason, s.InterfaceLabel(), proto(s.L3, s.L4)
	}
	symW := natural("DROP SITE", syms, 24, 56)
	cols := []column{
		colSym:    {title: "DROP SITE", w: symW, min: 14},
		colReason: {title: "REASON", w: natural("REASON", reasons, 8, 24), min: 10},
		colIface:  {title: "IFACE", w: natural("IFACE", ifaces, 5, 16), min: 5},
		colProto:  {title: "PROTO", w: natural("PROTO", protos, 5, 12), min: 6},
		colRate:   {title: "RATE/s", w: 6, min: 6, right: true},
		colTotal:  {title: "TOTAL", w: 6, min: 6, right: true},
		colShare:  {title: "SHARE", w: 5, min: 5, right: true},
		colSpark:  {title: "LAST 60s", w: 20, min: 8, max: 60},
	}
	base := slices.Clone(cols)
	fitColumns(cols, p.w,
		[]int{colSpark, colSym, colReason, colIface, colProto},
		[]int{colSpark, colShare, colTotal, colIface, colProto, colReason},
		colSpark)
	if cols[colSpark].w > 0 && cols[colSym].w < symW {
		// The drop site is what the user came for: rather than cut
		// function names, give up the sparkline (Enter shows it).
		cols = base
		cols[colSpark].w = 0
		fitColumns(cols, p.w,
			[]int{colSym, colReason, colIface, colProto},
			[]int{colShare, colTotal, colIface, colProto, colReason},
			-1)
	}
	if cols[colSpark].w == 0 {
		// Give the symbol what the hidden sparkline left.
		cols[colSym].w += max(p.w-tableWidth(cols), 0)
	} else if cols[colSpark].w < 10 {
		cols[colSpark].title = "TREND"
	}
	return cols
}

// View renders the column header and the visible rows.
func (p sitesPane) View() string {
	return joinLines(p.lines())
}

func (p sitesPane) lines() []string {
	if p.h <= 0 || p.w <= 0 {
		return nil
	}
	cols := p.columns()
	lines := []string{headerRow(cols, p.st.colHead)}
	if len(p.sites) == 0 {
		for _, l := range wrap(p.empty, p.w) {
			lines = append(lines, p.st.muted.Render(l))
		}
		return block(lines, p.w, p.h)
	}
	from, to := p.list.visible()
	sts := make([]*lipgloss.Style, len(cols))
	sts[colReason], sts[colRate], sts[colSpark] = &p.st.reason, &p.st.strong, &p.st.spark
	for i := from; i < to; i++ {
		s := p.sites[i]
		cells := make([]string, len(cols))
		cells[colSym] = truncSymbol(s.Symbol(), cols[colSym].w)
		cells[colReason] = s.Reason
		cells[colIface] = s.InterfaceLabel()
		cells[colProto] = proto(s.L3, s.L4)
		cells[colRate] = fmtRate(s.Rate)
		cells[colTotal] = fmtCount(s.Count)
		cells[colShare] = p.share(s)
		cells[colSpark] = minuteSparkline(s.History, cols[colSpark].w)
		switch {
		case i == p.list.cursor && p.focused:
			lines = append(lines, p.st.selected.Render(pad(plainRow(cols, cells), p.w)))
		case i == p.list.cursor:
			lines = append(lines, p.st.cursor.Render(plainRow(cols, cells)))
		default:
			lines = append(lines, styledRow(cols, cells, sts))
		}
	}
	return block(lines, p.w, p.h)
}

// minuteSparkline renders a site's last minute of rates in w cells. Short
// histories (a site first seen recently) are padded with zeros on the left so
// every row shares the same time axis; when w is narrower than the history,
// each cell shows the peak of the intervals it covers, so a burst never
// disappears.
func minuteSparkline(history []float64, w int) string {
	if w <= 0 {
		return ""
	}
	n := max(len(history), drops.HistoryLen)
	full := make([]float64, n)
	copy(full[n-len(history):], history)
	if n <= w {
		return sparkline(full, w)
	}
	cells := make([]float64, w)
	for i := range cells {
		lo, hi := i*n/w, (i+1)*n/w
		for _, v := range full[lo:hi] {
			cells[i] = max(cells[i], v)
		}
	}
	return sparkline(cells, w)
}
