package ui

import (
	"slices"

	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// sitesPane lists drop sites, one per row, in the order the model sorted
// them.
type sitesPane struct {
	*shared
	list[drops.Site, drops.Key]
	w, h int

	totals drops.Totals
	// empty explains an empty list.
	empty string
	// lastPinned is the followed site as last seen, to name it once it
	// is gone from the view.
	lastPinned drops.Site
}

func newSitesPane(sh *shared) sitesPane {
	return sitesPane{shared: sh, list: newList(&sh.keys, func(s drops.Site) drops.Key { return s.Key })}
}

// SetSize sets the pane's width and height, including its column header.
func (p *sitesPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.setHeight(h - 1)
}

// SetSites replaces the rows, keeping the selection on the same site;
// empty explains an empty list.
func (p *sitesPane) SetSites(sites []drops.Site, totals drops.Totals, empty string) {
	if s, ok := p.pinnedSite(); ok {
		p.lastPinned = s
	}
	p.setItems(sites)
	p.totals, p.empty = totals, empty
}

// pinnedSite returns the site the cursor follows, as last seen; ok is false
// when it is not in the view now.
func (p sitesPane) pinnedSite() (drops.Site, bool) {
	if p.pinnedHere() {
		// A pinned cursor is on its row whenever the row is there.
		if s, ok := p.Selected(); ok && s.Key == p.pin {
			return s, true
		}
	}
	return p.lastPinned, false
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
	syms := make([]string, len(p.items))
	reasons := make([]string, len(p.items))
	ifaces := make([]string, len(p.items))
	protos := make([]string, len(p.items))
	for i, s := range p.items {
		syms[i], reasons[i], ifaces[i], protos[i] = s.Symbol(), s.Reason, s.InterfaceLabel(), s.Proto()
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
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	cols := p.columns()
	lines := []string{headerRow(cols, p.st.colHead)}
	if len(p.items) == 0 {
		for _, l := range wrap(p.empty, p.w) {
			lines = append(lines, p.st.muted.Render(l))
		}
		return joinLines(block(lines, p.w, p.h))
	}
	sts := make([]*lipgloss.Style, len(cols))
	sts[colReason], sts[colRate], sts[colSpark] = &p.st.reason, &p.st.strong, &p.st.spark
	lines = append(lines, p.rows(p.st, cols, p.w, func(s drops.Site) ([]string, []*lipgloss.Style) {
		cells := make([]string, len(cols))
		cells[colSym] = truncSymbol(s.Symbol(), cols[colSym].w)
		cells[colReason] = s.Reason
		cells[colIface] = s.InterfaceLabel()
		cells[colProto] = s.Proto()
		cells[colRate] = fmtRate(s.Rate)
		cells[colTotal] = fmtCount(s.Count)
		cells[colShare] = p.share(s)
		cells[colSpark] = minuteSparkline(s.History, cols[colSpark].w)
		return cells, sts
	})...)
	return joinLines(block(lines, p.w, p.h))
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
