package ui

import (
	"cmp"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// pickerPane lets the user pick the interface filter from the interfaces in
// the unfiltered snapshot, quiet ones too. The choices are listed by
// namespace and name, so that refreshes never move them; typing narrows
// them to the labels that contain the text. Its first row, the zero
// Interface, clears the filter; it is there while nothing is typed. The
// label chosen (eth0@web) is the filter, which drops.Filter matches
// exactly.
type pickerPane struct {
	*shared
	list[drops.Interface, string]
	w, h int

	all     []drops.Interface // every choice, in order
	query   string            // what the user typed
	current string            // the interface filtered on now, "" for all
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
	p.all = slices.Clone(ifaces)
	slices.SortFunc(p.all, func(a, b drops.Interface) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Label(), b.Label()), cmp.Compare(a.Ifindex, b.Ifindex))
	})
	p.all = slices.CompactFunc(p.all, func(a, b drops.Interface) bool { return a.Label() == b.Label() })
	p.narrow()
}

// narrow lists the choices whose label contains the query; when the row
// the cursor was on is not among them, the cursor goes to the first.
func (p *pickerPane) narrow() {
	var items []drops.Interface
	q := strings.ToLower(p.query)
	if q == "" {
		items = append(items, drops.Interface{})
	}
	for _, ifc := range p.all {
		if strings.Contains(strings.ToLower(ifc.Label()), q) {
			items = append(items, ifc)
		}
	}
	p.setItems(items)
	if p.pinned && !p.pinnedHere() {
		p.cursor = 0
		p.clamp()
		p.pinSelected()
	}
}

// Open shows the choices with the cursor on current, the interface
// filtered on now ("" for all), which is marked. The cursor then stays on
// its interface across refreshes.
func (p *pickerPane) Open(current string) {
	p.query, p.current = "", current
	p.narrow()
	p.selectID(current)
	p.pinSelected()
}

// Query is the text typed to narrow the choices.
func (p pickerPane) Query() string { return p.query }

// ClearQuery shows every choice again.
func (p *pickerPane) ClearQuery() {
	p.query = ""
	p.narrow()
}

// Update narrows the choices with typed text and backspace, and moves the
// cursor with the arrows, page and home/end keys: letters are text here.
func (p *pickerPane) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case k.Code == tea.KeyBackspace:
		if r := []rune(p.query); len(r) > 0 {
			p.query = string(r[:len(r)-1])
			p.narrow()
		}
	case k.Text != "" && k.Mod&^tea.ModShift == 0:
		p.query += k.Text
		p.narrow()
	default:
		return p.list.Update(msg)
	}
	return nil
}

// View renders the query and the choices.
func (p pickerPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	prompt := p.st.strong.Render("narrow: ") + p.query + "█"
	if p.query == "" {
		prompt = p.st.strong.Render("narrow: ") + p.st.muted.Render("type part of a name or namespace")
	}
	lines := []string{prompt, ""}
	if len(p.items) == 0 {
		lines = append(lines, p.st.muted.Render("No interface matches "+p.query+"."))
		return joinLines(block(lines, p.w, p.h))
	}
	names := make([]string, len(p.items))
	for i, ifc := range p.items {
		names[i] = ifc.Label()
	}
	cols := []column{
		{title: "", w: 1},
		{title: "", w: natural("all interfaces", names, 5, 40), min: 8},
		{title: "", w: 10, right: true},
		{title: "", w: 12, right: true},
		{title: "", w: 9},
	}
	fitColumns(cols, p.w, []int{1}, []int{4, 3, 2}, -1)
	texts := labelTexts(names, cols[1].w)
	cur := make([]*lipgloss.Style, len(cols))
	cur[1], cur[4] = &p.st.filter, &p.st.filter
	lines = append(lines, p.rows(p.st, cols, p.w, func(ifc drops.Interface) ([]string, []*lipgloss.Style) {
		mark, now, sts := "", "", []*lipgloss.Style(nil)
		if ifc.Label() == p.sel {
			mark = "▸"
		}
		if ifc.Label() == p.current {
			now, sts = "(current)", cur
		}
		if ifc.Label() == "" {
			return []string{mark, "all interfaces", "", "", now}, sts
		}
		return []string{mark, texts[ifc.Label()], fmtRate(ifc.TracedRate) + "/s", fmtCount(ifc.TracedDrops) + " drops", now}, sts
	})...)
	return joinLines(block(lines, p.w, p.h))
}
