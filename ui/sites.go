package ui

import (
	"strconv"

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
	// tx is the columns fitted to the rows and the width, made when
	// either changes rather than every frame: measuring a full map's
	// labels is most of a frame's work.
	tx  siteTexts
	fit fitMemo // what tx was made for
}

func newSitesPane(sh *shared) sitesPane {
	return sitesPane{shared: sh, list: newList(&sh.keys, func(s drops.Site) drops.Key { return s.Key })}
}

// SetSize sets the pane's width and height, including its column header.
func (p *sitesPane) SetSize(w, h int) {
	if w != p.w {
		p.w = w
		p.refit()
	}
	p.h = h
	p.setHeight(h - 1)
}

// SetSites replaces the rows, keeping the selection on the same site;
// empty explains an empty list. refit lays the columns out for them; rows
// under the same names as the last (other counts, order or histories)
// need not be.
func (p *sitesPane) SetSites(sites []drops.Site, totals drops.Totals, empty string, refit bool) {
	if s, ok := p.pinnedSite(); ok {
		p.lastPinned = s
	}
	p.setItems(sites)
	p.totals, p.empty = totals, empty
	if refit || p.tx.cols == nil {
		p.refit()
	}
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

// siteTexts is what the cells of the sites pane say once the columns are
// fitted: each symbol, reason and interface shortened to its column, kept
// apart from the others, and the protocol in full or, in a narrow column,
// by one name.
type siteTexts struct {
	cols     []column
	syms     map[string]string
	reasons  map[string]string
	ifaces   map[string]string
	shortPro bool
}

// siteLabels are the rows' labels, one slice a column, and whether any row
// is a group (whose cells also depend on its counts).
type siteLabels struct {
	syms, reasons, ifaces, protos, shorts []string
	grouped                               bool
}

func (p sitesPane) labels() siteLabels {
	n := len(p.items)
	l := siteLabels{syms: make([]string, n), reasons: make([]string, n), ifaces: make([]string, n),
		protos: make([]string, n), shorts: make([]string, n)}
	for i, s := range p.items {
		l.syms[i], l.reasons[i], l.ifaces[i] = s.SiteLabel(), s.ReasonLabel(), drops.OrDash(s.InterfacesLabel())
		l.protos[i], l.shorts[i] = s.Proto(), s.ShortProto()
		l.grouped = l.grouped || s.Sites > 1 || s.Ifaces > 1
	}
	return l
}

// refit makes tx for the rows and the width, unless it was made for the
// same labels at the same width.
func (p *sitesPane) refit() {
	l := p.labels()
	if l.grouped {
		p.fit.forget()
	} else if p.fit.same(p.w, false, l.syms, l.reasons, l.ifaces, l.protos, l.shorts) && p.tx.cols != nil {
		return
	}
	p.tx = p.columnsFor(l)
}

// columnsFor fits the columns to the labels and to the pane's width. The drop site is what the
// user came for: it is the last column to shrink, and at 80 columns it shows
// every function name of up to 30 cells whole, with its offset. The
// sparkline, the protocol's L3 and SHARE give way first; then names longer
// than 30 cells are elided in the middle (a reason cut to NETFILTER_D… says
// less than a function cut to __netif_receive_skb_cor…constprop.0); then
// the reason and interface shrink and TOTAL goes; only then does the drop
// site shrink further. Room left over goes back to the columns that were
// cut, the drop site's last.
func (p sitesPane) columnsFor(l siteLabels) siteTexts {
	syms, reasons, ifaces, protos, shorts := l.syms, l.reasons, l.ifaces, l.protos, l.shorts
	symW := natural("DROP SITE", syms, 24, 64)
	reasonW := natural("REASON", reasons, 8, 24)
	ifaceW := natural("IFACE", ifaces, 5, 24)
	protoW, shortW := natural("PROTO", protos, 5, 12), natural("PROTO", shorts, 5, 12)
	cols := []column{
		colSym:    {title: "DROP SITE", w: symW, max: symW},
		colReason: {title: "REASON", w: reasonW, max: reasonW},
		colIface:  {title: "IFACE", w: ifaceW, max: ifaceW},
		colProto:  {title: "PROTO", w: protoW, max: protoW},
		colRate:   {title: "RATE/s", w: 6, right: true},
		colTotal:  {title: "TOTAL", w: 6, right: true},
		colShare:  {title: "SHARE", w: 5, right: true},
		colSpark:  {title: "LAST 60s", w: 20, max: 60},
	}
	fit(cols, p.w, []squeeze{
		{colSpark, 10}, {colSpark, 0},
		{colProto, shortW}, {colShare, 0},
		{colSym, max(wholeWidth(syms), 14)},
		{colReason, 12}, {colIface, 8}, {colReason, 10}, {colIface, 5}, {colTotal, 0},
		{colSym, 14},
		{colProto, 0}, {colIface, 0}, {colReason, 0},
	}, colReason, colIface, colProto, colSym, colSpark)
	switch {
	case cols[colSpark].w == 0:
		// The numbers end at the right edge.
		cols[colSym].w += max(p.w-tableWidth(cols), 0)
	case cols[colSpark].w < 10:
		cols[colSpark].title = "TREND"
	}
	tx := siteTexts{
		cols:     cols,
		syms:     symbolTexts(syms, cols[colSym].w),
		reasons:  labelTexts(reasons, cols[colReason].w),
		ifaces:   labelTexts(ifaces, cols[colIface].w),
		shortPro: cols[colProto].w < protoW,
	}
	// Grouped rows that do not fit keep their count whole and cut the
	// busiest one's name instead.
	for _, s := range p.items {
		if s.Sites > 1 {
			tx.syms[s.SiteLabel()] = groupText(s.Sites, "sites", s.BusiestSite, cols[colSym].w, true)
		}
		if s.Ifaces > 1 {
			tx.ifaces[s.InterfacesLabel()] = groupText(s.Ifaces, "ifaces", s.BusiestIface, cols[colIface].w, false)
		}
	}
	return tx
}

// groupText fits "N things (busiest)" into w cells: whole, or with the
// busiest one's name shortened (a symbol keeping its offset), or "N things"
// alone, or cut.
func groupText(n int, things, busiest string, w int, symbol bool) string {
	count := strconv.Itoa(n) + " " + things
	full := count + " (" + busiest + ")"
	room := w - cellWidth(count) - 3
	switch {
	case cellWidth(full) <= w:
		return full
	case room >= 6 && symbol:
		return count + " (" + truncSymbol(busiest, room, room/3) + ")"
	case room >= 6:
		return count + " (" + elide(busiest, room, 0) + ")"
	}
	return truncate(count, w)
}

// View renders the column header and the visible rows.
func (p sitesPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	tx := p.tx
	cols := tx.cols
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
		cells[colSym] = tx.syms[s.SiteLabel()]
		cells[colReason] = tx.reasons[s.ReasonLabel()]
		cells[colIface] = tx.ifaces[drops.OrDash(s.InterfacesLabel())]
		cells[colProto] = s.Proto()
		if tx.shortPro {
			cells[colProto] = s.ShortProto()
		}
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
