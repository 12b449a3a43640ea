package ui

import (
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// pickerPane lets the user pick the interface filter from the interfaces in
// the unfiltered snapshot, quiet ones too. Its first row, the zero
// Interface, clears the filter.
type pickerPane struct {
	*shared
	list[drops.Interface, string]
	w, h int
}

func newPickerPane(sh *shared) pickerPane {
	p := pickerPane{shared: sh, list: newList(&sh.keys, drops.Interface.Label)}
	// The picker has the keyboard whenever it is on screen.
	p.focused = true
	return p
}

// SetSize sets the pane's width and height.
func (p *pickerPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.setHeight(h - 2)
}

// SetInterfaces replaces the choices, keeping the cursor on the same one.
func (p *pickerPane) SetInterfaces(ifaces []drops.Interface) {
	p.setItems(append([]drops.Interface{{}}, ifaces...))
}

// Open puts the cursor on current, the interface filtered on now ("" for
// all). The cursor then stays on its interface across refreshes.
func (p *pickerPane) Open(current string) {
	p.selectID(current)
	p.pinSelected()
}

// View renders the choices.
func (p pickerPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	lines := []string{
		p.st.muted.Render("↑/↓ choose · ↵ filter on it · esc show all interfaces"),
		"",
	}
	names := make([]string, len(p.items))
	for i, ifc := range p.items {
		names[i] = ifc.Label()
	}
	cols := []column{
		{title: "", w: 1},
		{title: "", w: natural("all interfaces", names, 5, 20)},
		{title: "", w: 10, right: true},
		{title: "", w: 12, right: true},
	}
	lines = append(lines, p.rows(p.st, cols, p.w, func(ifc drops.Interface) ([]string, []*lipgloss.Style) {
		mark := ""
		if ifc.Label() == p.sel {
			mark = "▸"
		}
		if ifc.Label() == "" {
			return []string{mark, "all interfaces", "", ""}, nil
		}
		return []string{mark, ifc.Label(), fmtRate(ifc.TracedRate) + "/s", fmtCount(ifc.TracedDrops) + " drops"}, nil
	})...)
	return joinLines(block(lines, p.w, p.h))
}
