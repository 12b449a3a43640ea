package ui

import (
	tea "charm.land/bubbletea/v2"
	"github.com/skbtop/skbtop/drops"
)

// pickerPane lets the user pick the interface filter from the interfaces in
// the unfiltered snapshot. Its first row clears the filter.
type pickerPane struct {
	st   *styles
	keys *keyMap
	w, h int

	ifaces []drops.Interface
	list   list
}

// SetSize sets the pane's width and height.
func (p *pickerPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.setHeight(h - 2)
}

// SetInterfaces replaces the choices; the cursor goes to current, the
// interface filtered on now ("" for all).
func (p *pickerPane) SetInterfaces(ifaces []drops.Interface, current string) {
	p.ifaces = ifaces
	p.list.setLen(len(ifaces) + 1)
	p.list.set(0)
	for i, ifc := range ifaces {
		if ifc.Label() == current {
			p.list.set(i + 1)
		}
	}
}

// Selected returns the interface name under the cursor, "" for all.
func (p pickerPane) Selected() string {
	if p.list.cursor <= 0 || p.list.cursor > len(p.ifaces) {
		return ""
	}
	return p.ifaces[p.list.cursor-1].Name
}

// Update moves the cursor.
func (p *pickerPane) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		p.list.navigate(k, p.keys)
	}
	return nil
}

// View renders the choices.
func (p pickerPane) View() string {
	return joinLines(p.lines())
}

func (p pickerPane) lines() []string {
	if p.h <= 0 || p.w <= 0 {
		return nil
	}
	lines := []string{
		p.st.muted.Render("↑/↓ choose · ↵ filter on it · esc show all interfaces"),
		"",
	}
	names := make([]string, len(p.ifaces))
	for i, ifc := range p.ifaces {
		names[i] = ifc.Label()
	}
	cols := []column{
		{title: "", w: natural("all interfaces", names, 5, 20)},
		{title: "", w: 10, right: true},
		{title: "", w: 12, right: true},
	}
	from, to := p.list.visible()
	for i := from; i < to; i++ {
		cells := []string{"all interfaces", "", ""}
		if i > 0 {
			ifc := p.ifaces[i-1]
			cells = []string{ifc.Label(), fmtRate(ifc.TracedRate) + "/s", fmtCount(ifc.TracedDrops) + " drops"}
		}
		row := "  " + plainRow(cols, cells)
		if i == p.list.cursor {
			row = p.st.selected.Render(pad("▸ "+plainRow(cols, cells), min(p.w, tableWidth(cols)+2)))
		}
		lines = append(lines, row)
	}
	return block(lines, p.w, p.h)
}
