package ui

import (
	"slices"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// ifacesPane lists interfaces: the drops traced on each and, when the
// kernel's link counters could be read, how those counters moved.
type ifacesPane struct {
	st      *styles
	keys    *keyMap
	w, h    int
	focused bool

	ifaces   []drops.Interface
	counters bool         // whether any interface has counters
	sites    []drops.Site // to reconcile counters with traced drops
	list     list
	sel      string // selected interface name, kept across refreshes
}

// ifaceNote explains the counters traced drops can never account for, and
// the EXPL column.
const ifaceNote = drops.NICRingNote + " EXPL: the part of rx_drop+nohandlr that traced drops at sites counting there explain."

// SetSize sets the pane's width and height, including its column header.
func (p *ifacesPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.setHeight(p.rowsHeight())
}

func (p ifacesPane) rowsHeight() int {
	h := p.h - 1
	if p.counters && p.h >= 5 {
		h -= len(wrap(ifaceNote, p.w))
	}
	return max(h, 0)
}

// SetInterfaces replaces the rows, keeping the selection on the same name.
// The sites tell which traced drops explain rx_dropped.
// With hideIdle (a symbol filter is on), interfaces without matching traced
// drops are left out: their counters say nothing about the filtered sites.
func (p *ifacesPane) SetInterfaces(ifaces []drops.Interface, sites []drops.Site, hideIdle bool) {
	if hideIdle {
		ifaces = slices.DeleteFunc(slices.Clone(ifaces), func(i drops.Interface) bool {
			return i.TracedDrops == 0 && i.TracedRate == 0
		})
	}
	p.ifaces = ifaces
	p.sites = sites
	p.counters = slices.ContainsFunc(ifaces, func(i drops.Interface) bool { return i.Delta != nil })
	p.list.setHeight(p.rowsHeight())
	p.list.setLen(len(ifaces))
	if i := slices.IndexFunc(ifaces, func(i drops.Interface) bool { return i.Label() == p.sel }); i >= 0 {
		p.list.set(i)
	}
	p.remember()
}

func (p *ifacesPane) remember() {
	if ifc, ok := p.Selected(); ok {
		p.sel = ifc.Label()
	}
}

// Selected returns the interface under the cursor.
func (p ifacesPane) Selected() (drops.Interface, bool) {
	if p.list.cursor < 0 || p.list.cursor >= len(p.ifaces) {
		return drops.Interface{}, false
	}
	return p.ifaces[p.list.cursor], true
}

// Update moves the cursor.
func (p *ifacesPane) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && p.list.navigate(k, p.keys) {
		p.remember()
	}
	return nil
}

// The fixed columns; after them come one column per drops.DropFields and
// EXPL.
const (
	ifName = iota
	ifRate
	ifTraced
	ifFirstCounter
)

// counterCols are the counter columns, in drops.DropFields order.
var counterCols = drops.DropFields()

// ifExplained is the EXPL column's index.
var ifExplained = ifFirstCounter + len(counterCols)

func (p ifacesPane) columns() []column {
	names := make([]string, len(p.ifaces))
	for i, ifc := range p.ifaces {
		names[i] = ifc.Label()
	}
	cols := []column{
		ifName:   {title: "IFACE", w: natural("IFACE", names, 5, 16), min: 5},
		ifRate:   {title: "TRACED/s", w: 8, min: 6, right: true},
		ifTraced: {title: "TRACED", w: 7, min: 6, right: true},
	}
	if !p.counters {
		fitColumns(cols, p.w, []int{ifName, ifRate}, []int{ifTraced}, -1)
		return cols
	}
	var hide []int
	for i, f := range counterCols {
		title := drops.LinkFields[f].Title
		w := max(len(title), 6)
		cols = append(cols, column{title: title, w: w, min: w, right: true})
		// The last counters go first; rx_dropped, which EXPL explains,
		// goes last.
		hide = append([]int{ifFirstCounter + i}, hide...)
	}
	cols = append(cols, column{title: "EXPL", w: 5, min: 5, right: true})
	hide = append(hide[:len(hide)-1], ifRate, ifExplained, ifTraced, hide[len(hide)-1])
	fitColumns(cols, p.w, []int{ifName, ifRate}, hide, -1)
	return cols
}

// explained is the part of an interface's counted drops that traced drops
// account for, from the snapshot's reconciliation.
func explained(ifc drops.Interface) string {
	r := ifc.Reconciliation
	if !r.HasCounters || r.Counted == 0 {
		return "-"
	}
	return fmtShare(r.Fraction, 1)
}

// View renders the column header, the rows and, with counters, the note on
// what tracing cannot see.
func (p ifacesPane) View() string {
	return joinLines(p.lines())
}

func (p ifacesPane) lines() []string {
	if p.h <= 0 || p.w <= 0 {
		return nil
	}
	cols := p.columns()
	lines := []string{headerRow(cols, p.st.colHead)}
	if len(p.ifaces) == 0 {
		lines = append(lines, p.st.muted.Render("No interface has traced drops."))
		return block(lines, p.w, p.h)
	}
	sts := make([]*lipgloss.Style, len(cols))
	sts[ifRate] = &p.st.strong
	from, to := p.list.visible()
	for i := from; i < to; i++ {
		ifc := p.ifaces[i]
		cells := make([]string, len(cols))
		cells[ifName] = ifc.Label()
		cells[ifRate] = fmtRate(ifc.TracedRate)
		cells[ifTraced] = fmtCount(ifc.TracedDrops)
		if p.counters {
			for j := ifFirstCounter; j <= ifExplained; j++ {
				cells[j], sts[j] = "-", nil
			}
			if d := ifc.Delta; d != nil {
				for j, f := range counterCols {
					if d.Has(f) {
						cells[ifFirstCounter+j] = fmtCount(d.Get(f))
					}
					// NIC ring drops are the ones tracing cannot see.
					if (f == drops.RxMissed || f == drops.RxFIFO) && d.Get(f) > 0 {
						sts[ifFirstCounter+j] = &p.st.warn
					}
				}
				cells[ifExplained] = explained(ifc)
			}
		}
		switch {
		case i == p.list.cursor && p.focused:
			lines = append(lines, p.st.selected.Render(pad(plainRow(cols, cells), p.w)))
		case i == p.list.cursor:
			lines = append(lines, p.st.cursor.Render(plainRow(cols, cells)))
		default:
			lines = append(lines, styledRow(cols, cells, sts))
		}
	}
	if p.counters && p.h >= 5 {
		note := wrap(ifaceNote, p.w)
		lines = block(lines, p.w, p.h-len(note))
		for _, l := range note {
			lines = append(lines, p.st.note.Render(l))
		}
	}
	return block(lines, p.w, p.h)
}
