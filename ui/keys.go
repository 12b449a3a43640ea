package ui

import "charm.land/bubbles/v2/key"

// keyMap holds every key binding of the UI. It is also the help.KeyMap the
// status line and the full help render.
type keyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Tab      key.Binding
	BackTab  key.Binding
	Enter    key.Binding
	Back     key.Binding
	Filter   key.Binding
	Iface    key.Binding
	Sort     key.Binding
	Follow   key.Binding
	Group    key.Binding
	Pause    key.Binding
	Reset    key.Binding
	Save     key.Binding
	Help     key.Binding
	Quit     key.Binding
	// Interrupt quits from anywhere, even while typing a filter.
	Interrupt key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:    key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:       key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		Bottom:    key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		Tab:       key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "pane")),
		BackTab:   key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Enter:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("↵", "detail")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/clear")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "symbol")),
		Iface:     key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "iface")),
		Sort:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort")),
		Follow:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow site")),
		Group:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "group rows")),
		Pause:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Reset:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "reset")),
		Save:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// ShortHelp is the one-line help of the status bar, most useful first.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Filter, k.Iface, k.Tab, k.Enter, k.Sort, k.Pause, k.Reset, k.Save}
}

// FullHelp is the help screen, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Tab, k.BackTab, k.Enter, k.Back, k.Sort, k.Follow, k.Group},
		{k.Filter, k.Iface, k.Pause, k.Reset, k.Save},
		{k.Help, k.Quit, k.Interrupt},
	}
}
