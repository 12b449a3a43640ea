package ui

import (
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// protocolsPane breaks drops down by L3/L4 with a bar per row.
type protocolsPane struct {
	st      *styles
	keys    *keyMap
	w, h    int
	focused bool

	protos []drops.Protocol
	total  uint64
	rate   float64
	list   list
}

// SetSize sets the pane's width and height, including its column header.
func (p *protocolsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.setHeight(h - 1)
}

// SetProtocols replaces the rows.
func (p *protocolsPane) SetProtocols(protos []drops.Protocol, totals drops.Totals) {
	p.protos = protos
	p.total, p.rate = totals.Drops, totals.Rate
	p.list.setLen(len(protos))
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
		return block(lines, p.w, p.h)
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
	return block(lines, p.w, p.h)
}
