package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// list is the cursor and scroll position of a pane's rows.
type list struct {
	cursor int // selected row
	offset int // first visible row
	n      int // number of rows
	h      int // visible rows
}

func (l *list) setLen(n int) {
	l.n = n
	l.clamp()
}

func (l *list) setHeight(h int) {
	l.h = max(h, 0)
	l.clamp()
}

func (l *list) set(i int) {
	l.cursor = i
	l.clamp()
}

func (l *list) clamp() {
	l.cursor = min(max(l.cursor, 0), max(l.n-1, 0))
	if l.h <= 0 {
		l.offset = l.cursor
		return
	}
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+l.h {
		l.offset = l.cursor - l.h + 1
	}
	l.offset = min(max(l.offset, 0), max(l.n-l.h, 0))
}

// visible returns the range of rows on screen.
func (l list) visible() (from, to int) {
	return l.offset, min(l.offset+l.h, l.n)
}

// navigate moves the cursor for a navigation key and reports whether the
// key was one.
func (l *list) navigate(msg tea.KeyPressMsg, keys *keyMap) bool {
	page := max(l.h-1, 1)
	switch {
	case key.Matches(msg, keys.Up):
		l.cursor--
	case key.Matches(msg, keys.Down):
		l.cursor++
	case key.Matches(msg, keys.PageUp):
		l.cursor -= page
	case key.Matches(msg, keys.PageDown):
		l.cursor += page
	case key.Matches(msg, keys.Top):
		l.cursor = 0
	case key.Matches(msg, keys.Bottom):
		l.cursor = l.n - 1
	default:
		return false
	}
	l.clamp()
	return true
}
