package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// shared is what the model hands every pane, once, as a pointer: the
// styles (replaced here when the terminal reports its background, so every
// pane sees the new ones), the key bindings and the options.
type shared struct {
	st   *styles
	keys keyMap
	opts Options
}

// paneModel is the contract of the panes: the model sizes them, passes them
// the messages they handle, and draws what View returns, exactly h lines of
// at most w cells. Panes are plain structs; the model owns them by value
// and calls these through pointers.
type paneModel interface {
	SetSize(w, h int)
	Update(msg tea.Msg) tea.Cmd
	View() string
}

// The panes that keep the contract. The detail has no Update: the keys it
// answers step through the sites pane's rows.
var (
	_ paneModel = (*sitesPane)(nil)
	_ paneModel = (*ifacesPane)(nil)
	_ paneModel = (*protocolsPane)(nil)
	_ paneModel = (*pickerPane)(nil)
)

// splitLines is the inverse of joinLines: the lines of a View, none for an
// empty one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
