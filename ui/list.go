package ui

import (
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// list is the rows of a pane with a cursor, a scroll position and the
// selected row's identity. Rows are replaced every refresh, often in
// another order. By default the cursor keeps its row index and the scroll
// position stays where it was, so that a pane showing the top of its order
// keeps showing the top of the new order (top's contract: the busiest row
// is always in sight). Pinned, the cursor follows one row by its identity
// instead, wherever the new order puts it; when that row is gone it stays
// where it was. Every pane that lists rows embeds one: its Update is the
// pane's, and rows is the one renderer of their lines.
type list[T any, K comparable] struct {
	nav     *keyMap   // the navigation keys
	id      func(T) K // a row's identity
	items   []T
	cursor  int // index of the selected row
	offset  int // first visible row
	height  int // visible rows
	sel     K   // identity of the selected row
	hasSel  bool
	focused bool // whether the pane has the keyboard
	// pinned makes the cursor follow the row pin across refreshes.
	pinned bool
	pin    K
}

func newList[T any, K comparable](keys *keyMap, id func(T) K) list[T, K] {
	return list[T, K]{nav: keys, id: id}
}

// setItems replaces the rows. The cursor keeps its row index, or, pinned,
// moves to the pinned row.
func (l *list[T, K]) setItems(items []T) {
	l.items = items
	if l.pinned {
		if i := slices.IndexFunc(items, func(t T) bool { return l.id(t) == l.pin }); i >= 0 {
			l.cursor = i
		}
	}
	l.clamp()
}

// pinSelected makes the cursor follow the selected row; false when there
// is none.
func (l *list[T, K]) pinSelected() bool {
	t, ok := l.Selected()
	if !ok {
		return false
	}
	l.pinned, l.pin = true, l.id(t)
	return true
}

// unpin lets the cursor keep its row index again.
func (l *list[T, K]) unpin() { l.pinned = false }

// pinnedHere reports whether the pinned row is among the rows.
func (l list[T, K]) pinnedHere() bool {
	return l.pinned && slices.IndexFunc(l.items, func(t T) bool { return l.id(t) == l.pin }) >= 0
}

// toTop scrolls to the first row, the cursor keeping its place on the
// screen; pinned, the cursor stays on its row and scrolls with it.
func (l *list[T, K]) toTop() {
	if !l.pinned {
		l.cursor -= l.offset
		l.offset = 0
	}
	l.clamp()
}

// selectID puts the cursor on the row with identity id, or on the first row
// when there is none.
func (l *list[T, K]) selectID(id K) {
	l.cursor = max(slices.IndexFunc(l.items, func(t T) bool { return l.id(t) == id }), 0)
	l.clamp()
}

// setHeight sets how many rows are visible.
func (l *list[T, K]) setHeight(h int) {
	l.height = max(h, 0)
	l.clamp()
}

// Selected returns the row under the cursor.
func (l list[T, K]) Selected() (T, bool) {
	if l.cursor < 0 || l.cursor >= len(l.items) {
		var zero T
		return zero, false
	}
	return l.items[l.cursor], true
}

// Update moves the cursor for the navigation keys.
func (l *list[T, K]) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	page := max(l.height-1, 1)
	switch {
	case key.Matches(k, l.nav.Up):
		l.cursor--
	case key.Matches(k, l.nav.Down):
		l.cursor++
	case key.Matches(k, l.nav.PageUp):
		l.cursor -= page
	case key.Matches(k, l.nav.PageDown):
		l.cursor += page
	case key.Matches(k, l.nav.Top):
		l.cursor = 0
	case key.Matches(k, l.nav.Bottom):
		l.cursor = len(l.items) - 1
	default:
		return nil
	}
	l.clamp()
	if l.pinned {
		// A pinned cursor moved by the user follows its new row.
		l.pinSelected()
	}
	return nil
}

// clamp keeps the cursor on a row and in view, and remembers the selected
// row's identity.
func (l *list[T, K]) clamp() {
	l.cursor = min(max(l.cursor, 0), max(len(l.items)-1, 0))
	if l.height <= 0 {
		l.offset = l.cursor
	} else {
		if l.cursor < l.offset {
			l.offset = l.cursor
		}
		if l.cursor >= l.offset+l.height {
			l.offset = l.cursor - l.height + 1
		}
		l.offset = min(max(l.offset, 0), max(len(l.items)-l.height, 0))
	}
	if t, ok := l.Selected(); ok {
		l.sel, l.hasSel = l.id(t), true
	}
}

// rows renders the visible rows into cols, w cells wide; cells gives a
// row's cells and their styles (nil ones plain). The selected row shows in
// the selection style across the whole width while the pane has the
// keyboard, underlined while it does not; every other row keeps its cells'
// styles.
func (l list[T, K]) rows(st *styles, cols []column, w int, cells func(T) ([]string, []*lipgloss.Style)) []string {
	from, to := l.offset, min(l.offset+l.height, len(l.items))
	lines := make([]string, 0, max(to-from, 0))
	for i := from; i < to; i++ {
		c, sts := cells(l.items[i])
		switch {
		case i == l.cursor && l.focused:
			lines = append(lines, st.selected.Render(pad(plainRow(cols, c), w)))
		case i == l.cursor:
			lines = append(lines, st.cursor.Render(plainRow(cols, c)))
		default:
			lines = append(lines, styledRow(cols, c, sts))
		}
	}
	return lines
}
