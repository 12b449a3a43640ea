package ui

import (
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// protocolsPane breaks drops down by L3/L4 with a bar per row and, below,
// lists the namespace's protocol drop counters that changed (UdpNoPorts,
// TcpExtListenDrops, ...): the kernel's own count beside the traced one.
type protocolsPane struct {
	st      *styles
	keys    *keyMap
	w, h    int
	focused bool

	protos []drops.Protocol
	stack  []drops.StackCounter
	total  uint64
	rate   float64
	list   list
}

// SetSize sets the pane's width and height, including its column headers.
func (p *protocolsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.setHeight(h - 1 - p.stackHeight())
}

// stackHeight is the lines the counter section takes: a blank line, its
// header and its rows, at most half the pane.
func (p protocolsPane) stackHeight() int {
	if len(p.stack) == 0 || p.h < 6 {
		return 0
	}
	return min(len(p.stack)+2, p.h/2)
}

// SetProtocols replaces the rows and the protocol counters.
func (p *protocolsPane) SetProtocols(protos []drops.Protocol, totals drops.Totals, stack []drops.StackCounter) {
	p.protos, p.stack = protos, stack
	p.total, p.rate = totals.Drops, totals.Rate
	p.list.setLen(len(protos))
	p.list.setHeight(p.h - 1 - p.stackHeight())
}

// Update moves the cursor.
func (p *protocolsPane) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		p.list.navigate(k, p.keys)
	}
	return nil
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

// View renders the column header and the rows.
func (p protocolsPane) View() string {
	return joinLines(p.lines())
}

func (p protocolsPane) lines() []string {
	if p.h <= 0 || p.w <= 0 {
		return nil
	}
	names := make([]string, len(p.protos))
	for i, pr := range p.protos {
		names[i] = proto(pr.L3, pr.L4)
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
	if len(p.protos) == 0 {
		lines = append(lines, p.st.muted.Render("No drops."))
		return append(block(lines, p.w, p.h-p.stackHeight()), p.stackLines()...)
	}
	from, to := p.list.visible()
	for i := from; i < to; i++ {
		pr := p.protos[i]
		f := p.frac(pr)
		cells := []string{names[i], fmtRate(pr.Rate), fmtCount(pr.Count), fmtShare(f, 1), bar(f, cols[4].w)}
		switch {
		case i == p.list.cursor && p.focused:
			lines = append(lines, p.st.selected.Render(pad(plainRow(cols, cells), p.w)))
		default:
			lines = append(lines, styledRow(cols, cells, []*lipgloss.Style{nil, &p.st.strong, nil, nil, &p.st.bar}))
		}
	}
	return append(block(lines, p.w, p.h-p.stackHeight()), p.stackLines()...)
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
