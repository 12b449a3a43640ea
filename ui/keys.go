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
	Hide     key.Binding
	Unhide   key.Binding
	SaveHide key.Binding
	// Stacks collects the kernel stacks of the site in the detail.
	Stacks key.Binding
	// Pcap writes the selected row's sampled packets to a pcap-ng file.
	Pcap  key.Binding
	Pause key.Binding
	Reset key.Binding
	Save  key.Binding
	Help  key.Binding
	Quit  key.Binding
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
		Hide:      key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "hide site")),
		Unhide:    key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "show hidden")),
		SaveHide:  key.NewBinding(key.WithKeys("W"), key.WithHelp("W", "save hides")),
		Stacks:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "kernel stacks")),
		Pcap:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "pcap")),
		Pause:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Reset:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "reset")),
		Save:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// ShortHelp is the one-line help of the status bar in the list view, most
// useful first.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Filter, k.Iface, k.Tab, k.Enter, k.Sort, k.Group, k.Follow, k.Hide, k.Pause, k.Reset, k.Save}
}

// FullHelp is the help screen of the list view, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Tab, k.BackTab, k.Enter, k.Back, k.Filter, k.Iface},
		{k.Sort, k.Group, k.Follow, k.Hide, k.Unhide, k.SaveHide},
		{k.Pause, k.Reset, k.Save, k.Pcap, k.Help, k.Quit, k.Interrupt},
	}
}

// Help for the keys of the other modes. Some are the list view's keys
// doing something else there; these bindings are for showing only, the
// keyMap's are the ones matched.
var (
	detailBack    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc/↵", "back to the list"))
	detailStep    = key.NewBinding(key.WithKeys("down"), key.WithHelp("↑/↓", "previous/next site"))
	detailPage    = key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgup/pgdn", "a page of sites"))
	detailEnds    = key.NewBinding(key.WithKeys("home"), key.WithHelp("g/G", "first/last site"))
	detailHide    = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "hide this site"))
	pickMove      = key.NewBinding(key.WithKeys("down"), key.WithHelp("↑/↓", "choose"))
	pickType      = key.NewBinding(key.WithKeys("a"), key.WithHelp("type", "to narrow"))
	pickEnter     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("↵", "filter on it"))
	pickBack      = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear text, then filter"))
	helpAnyKey    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("any key", "closes"))
	helpScrollKey = key.NewBinding(key.WithKeys("down"), key.WithHelp("↑/↓", "scroll"))
	inputApply    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("↵", "apply"))
	inputClear    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
	inputSuggest  = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete"))
)

// detailKeys are the keys that work in a site's detail, besides moving and
// going back: the others would change a list that is not on screen.
func (k keyMap) detailKeys() []key.Binding {
	return []key.Binding{k.Hide, k.Filter, k.Iface, k.Pause, k.Reset, k.Save, k.Pcap, k.Help, k.Quit}
}

// shortHelpFor is the status bar's help in mode m.
func (k keyMap) shortHelpFor(m mode) []key.Binding {
	switch m {
	case modeDetail:
		return []key.Binding{detailBack, detailStep, k.Stacks, k.Pcap, detailHide, k.Pause, k.Save, k.Help, k.Quit}
	case modePick:
		return []key.Binding{pickType, pickMove, pickEnter, pickBack, k.Interrupt}
	case modeHelp:
		return []key.Binding{helpScrollKey, helpAnyKey, k.Quit}
	case modeFilter:
		return []key.Binding{inputApply, inputClear, inputSuggest, k.Interrupt}
	}
	return k.ShortHelp()
}

// fullHelpFor is the help screen for mode m, the mode it was opened from.
func (k keyMap) fullHelpFor(m mode) [][]key.Binding {
	if m == modeDetail {
		return [][]key.Binding{
			{detailBack, detailStep, detailPage, detailEnds},
			{k.Stacks, k.Pcap, detailHide, k.Filter, k.Iface},
			{k.Pause, k.Reset, k.Save, k.Help, k.Quit, k.Interrupt},
		}
	}
	return k.FullHelp()
}
