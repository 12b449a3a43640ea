package ui

import (
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// protocolsPane breaks drops down by L3/L4 with a bar per row and, below,
// lists the namespace's protocol drop counters that changed (UdpNoPorts,
// TcpExtListenDrops, ...): the kernel's own count beside the traced one.
type protocolsPane struct {
	*shared
	list[drops.Protocol, string]
	w, h int

	stack []drops.StackCounter
	total uint64
	rate  float64
}

func newProtocolsPane(sh *shared) protocolsPane {
	return protocolsPane{shared: sh, list: newList(&sh.keys, drops.Protocol.Label)}
}

// SetSize sets the pane's width and height, including its column headers.
func (p *protocolsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.setHeight(h - 1 - p.stackHeight())
}

// stackHeight is the lines the counter section takes: a blank line, its
// header and its rows, at most half the pane.
func (p protocolsPane) stackHeight() int {
	if len(p.stack) == 0 || p.h < 6 {
		return 0
	}
	return min(len(p.stack)+2, p.h/2)
}

// SetProtocols replaces the rows, keeping the selection on the same
// protocol, and the protocol counters.
func (p *protocolsPane) SetProtocols(protos []drops.Protocol, totals drops.Totals, stack []drops.StackCounter) {
	p.stack = stack
	p.total, p.rate = totals.Drops, totals.Rate
	p.setItems(protos)
	p.SetSize(p.w, p.h)
}

// frac is a row's part of all drops: by count, or by rate when nothing has
// been counted since a reset.
func (p protocolsPane) frac(pr drops.Protocol) float64 {
	if p.total > 0 {
		return float64(pr.Count) / float64(p.total)
	}
	if p.rate > 0 {
		return pr.Rate / p.rate
	}
	return 0
}

// View renders the column header, the rows and the protocol counters.
func (p protocolsPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	names := make([]string, len(p.items))
	for i, pr := range p.items {
		names[i] = pr.Label()
	}
	cols := []column{
		{title: "PROTO", w: natural("PROTO", names, 5, 12), min: 5},
		{title: "RATE/s", w: 6, min: 6, right: true},
		{title: "DROPS", w: 6, min: 6, right: true},
		{title: "SHARE", w: 5, min: 5, right: true},
		{title: "", w: 10, min: 4, max: 200},
	}
	fitColumns(cols, p.w, []int{4, 0}, []int{4, 1, 2}, 4)
	lines := []string{headerRow(cols, p.st.colHead)}
	if len(p.items) == 0 {
		lines = append(lines, p.st.muted.Render("No drops."))
	}
	sts := []*lipgloss.Style{nil, &p.st.strong, nil, nil, &p.st.bar}
	lines = append(lines, p.rows(p.st, cols, p.w, func(pr drops.Protocol) ([]string, []*lipgloss.Style) {
		f := p.frac(pr)
		return []string{pr.Label(), fmtRate(pr.Rate), fmtCount(pr.Count), fmtShare(f, 1), bar(f, cols[4].w)}, sts
	})...)
	return joinLines(append(block(lines, p.w, p.h-p.stackHeight()), p.stackLines()...))
}

// stackLines renders the protocol counter section, stackHeight lines.
func (p protocolsPane) stackLines() []string {
	h := p.stackHeight()
	if h == 0 {
		return nil
	}
	names := make([]string, len(p.stack))
	for i, c := range p.stack {
		names[i] = c.Name
	}
	cols := []column{
		{title: "KERNEL COUNTER", w: natural("KERNEL COUNTER", names, 14, 28), min: 10},
		{title: "CHANGE", w: 7, min: 6, right: true},
		{title: "RATE/s", w: 6, min: 6, right: true},
	}
	fitColumns(cols, p.w, []int{0}, []int{2}, -1)
	lines := []string{"", headerRow(cols, p.st.colHead)}
	for _, c := range p.stack[:h-2] {
		lines = append(lines, styledRow(cols, []string{c.Name, fmtCount(c.Delta), fmtRate(c.Rate)},
			[]*lipgloss.Style{nil, nil, &p.st.strong}))
	}
	return block(lines, p.w, h)
}
