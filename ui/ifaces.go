package ui

import (
	"slices"

	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// ifacesPane lists the interfaces that are not quiet: the drops traced on
// each and, when the kernel's link counters could be read, how those
// counters moved.
type ifacesPane struct {
	*shared
	list[drops.Interface, string]
	w, h int

	quiet    int  // quiet interfaces left out
	counters bool // whether any row has counters
	// cols and names are the columns and the name cells fitted to the
	// rows and the width, made when either changes rather than every
	// frame: a node's 2,000 interface names took a tenth of a refresh.
	cols  []column
	names map[string]string
	fits  fitMemo // what cols and names were made for
}

// ifaceNote says what the counter columns hold, what EXPLAINED means and
// why tracing cannot explain rx_missed and rx_fifo: the notes every
// interface table prints.
var ifaceNote = drops.CountersNote + " " + drops.ExplainedNote + " " + drops.NICRingNote

func newIfacesPane(sh *shared) ifacesPane {
	return ifacesPane{shared: sh, list: newList(&sh.keys, drops.Interface.Label)}
}

// SetSize sets the pane's width and height, including its column header.
func (p *ifacesPane) SetSize(w, h int) {
	if w != p.w || p.cols == nil {
		p.w = w
		p.fit()
	}
	p.h = h
	p.setHeight(p.h - 1 - len(p.note()))
}

// fit fits the columns and the names to the rows and the width.
func (p *ifacesPane) fit() {
	names := make([]string, len(p.items))
	for i, ifc := range p.items {
		names[i] = ifc.Label()
	}
	if p.fits.same(p.w, p.counters, names) && p.cols != nil {
		return
	}
	p.cols = p.columnsFor(names)
	p.names = labelTexts(names, p.cols[ifName].w)
}

// SetInterfaces replaces the rows, leaving quiet interfaces out and keeping
// the selection on the same interface.
func (p *ifacesPane) SetInterfaces(ifaces []drops.Interface) {
	// The snapshot's own rows, when the quiet ones are all at the end, as
	// the snapshot lists them: they are never changed here, and a copy of
	// thousands was much of a refresh's new memory.
	n := len(ifaces)
	for n > 0 && ifaces[n-1].Quiet() {
		n--
	}
	shown := ifaces[:n:n]
	if slices.ContainsFunc(shown, drops.Interface.Quiet) {
		shown = slices.DeleteFunc(slices.Clone(shown), drops.Interface.Quiet)
	}
	p.quiet = len(ifaces) - len(shown)
	p.counters = slices.ContainsFunc(shown, func(i drops.Interface) bool { return i.Delta != nil })
	p.setItems(shown)
	p.fit()
	p.SetSize(p.w, p.h)
}

// note is the note's lines under the rows: shown when there are counters
// and every row fits above it.
func (p ifacesPane) note() []string {
	if !p.counters {
		return nil
	}
	note := wrap(ifaceNote, p.w)
	if p.h-1-len(p.items) < len(note) {
		return nil
	}
	return note
}

// The fixed columns; after them come one column per drops.DropFields and
// EXPLAINED.
const (
	ifName = iota
	ifRate
	ifTraced
	ifFirstCounter
)

// counterCols are the counter columns, in drops.DropFields order.
var counterCols = drops.DropFields()

// ifExplained is the EXPLAINED column's index.
var ifExplained = ifFirstCounter + len(counterCols)

func (p ifacesPane) columnsFor(names []string) []column {
	nameW := natural("IFACE", names, 5, 24)
	cols := []column{
		ifName:   {title: "IFACE", w: nameW, min: 5, max: nameW},
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
		// The last counters go first; rx_dropped, which EXPLAINED
		// explains, goes last.
		hide = append([]int{ifFirstCounter + i}, hide...)
	}
	// The title is the one drops.ExplainedNote names. It takes what room
	// is left once the counters fit; cut, it still reads as EXPL… .
	cols = append(cols, column{title: drops.ExplainedTitle, w: 5, min: 5, max: 9, right: true})
	hide = append(hide[:len(hide)-1], ifRate, ifExplained, ifTraced, hide[len(hide)-1])
	// Names go below 10 cells only once the counters are gone: a row
	// nobody can tell from the next is no use.
	steps := []squeeze{{ifRate, 6}, {ifName, 10}}
	for _, i := range hide[:len(hide)-1] {
		steps = append(steps, squeeze{i, 0})
	}
	steps = append(steps, squeeze{ifName, 5}, squeeze{hide[len(hide)-1], 0})
	fit(cols, p.w, steps, ifName, ifExplained)
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
// what they mean.
func (p ifacesPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	cols, texts := p.cols, p.names
	lines := []string{headerRow(cols, p.st.colHead)}
	if len(p.items) == 0 {
		lines = append(lines, p.st.muted.Render("No interface dropped packets in this window."))
		return joinLines(block(lines, p.w, p.h))
	}
	lines = append(lines, p.rows(p.st, cols, p.w, func(ifc drops.Interface) ([]string, []*lipgloss.Style) {
		cells := make([]string, len(cols))
		sts := make([]*lipgloss.Style, len(cols))
		sts[ifRate] = &p.st.strong
		cells[ifName] = texts[ifc.Label()]
		cells[ifRate] = fmtRate(ifc.TracedRate)
		cells[ifTraced] = fmtCount(ifc.TracedDrops)
		if !p.counters {
			return cells, sts
		}
		for j := ifFirstCounter; j <= ifExplained; j++ {
			cells[j] = "-"
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
		return cells, sts
	})...)
	note := p.note()
	lines = block(lines, p.w, p.h-len(note))
	for _, l := range note {
		lines = append(lines, p.st.note.Render(l))
	}
	return joinLines(lines)
}
