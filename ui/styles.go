package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// styles holds every style the UI uses. It is built once per background
// (light or dark) and colour setting; view functions only apply it.
type styles struct {
	app      lipgloss.Style // "skbtop" in the header
	muted    lipgloss.Style // secondary text
	strong   lipgloss.Style // numbers that matter
	hot      lipgloss.Style // high drop rates
	warn     lipgloss.Style // warnings, samples lost > 0
	paused   lipgloss.Style // the PAUSED badge
	live     lipgloss.Style // the live badge
	filter   lipgloss.Style // the active filter
	colHead  lipgloss.Style // table column headers
	selected lipgloss.Style // the selected row of the focused pane
	cursor   lipgloss.Style // the selected row of an unfocused pane
	title    lipgloss.Style // title of the focused pane
	titleDim lipgloss.Style // title of other panes
	tabOn    lipgloss.Style // the focused pane's tab
	tabOff   lipgloss.Style // other tabs
	spark    lipgloss.Style
	bar      lipgloss.Style
	reason   lipgloss.Style
	note     lipgloss.Style
	info     lipgloss.Style // status line messages
	errMsg   lipgloss.Style // status line errors
	rule     lipgloss.Style // separators between panes

	help help.Styles
}

// newStyles builds the styles for a dark or light background. With noColor
// (NO_COLOR set) they use attributes only: bold, faint, reverse.
func newStyles(isDark, noColor bool) *styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(dark))
	}
	accent := c("#5A56E0", "#8B87FF")
	red := c("#C4162A", "#FF5F5F")
	amber := c("#A15C00", "#FFB454")
	green := c("#1B7F3B", "#5FD787")
	muted := c("#6C6C6C", "#8A8A8A")
	selBg := c("#D7D7FF", "#3A3A6A")
	fg := lipgloss.NewStyle()

	s := &styles{
		app:      fg.Bold(true).Foreground(accent),
		muted:    fg.Foreground(muted),
		strong:   fg.Bold(true),
		hot:      fg.Bold(true).Foreground(red),
		warn:     fg.Bold(true).Foreground(amber),
		paused:   fg.Bold(true).Reverse(true).Foreground(amber),
		live:     fg.Foreground(green),
		filter:   fg.Bold(true).Foreground(amber),
		colHead:  fg.Bold(true).Foreground(muted),
		selected: fg.Bold(true).Background(selBg),
		cursor:   fg.Underline(true),
		title:    fg.Bold(true).Foreground(accent),
		titleDim: fg.Foreground(muted),
		tabOn:    fg.Bold(true).Reverse(true).Foreground(accent),
		tabOff:   fg.Foreground(muted),
		spark:    fg.Foreground(accent),
		bar:      fg.Foreground(accent),
		reason:   fg.Foreground(amber),
		note:     fg.Faint(true).Italic(true),
		info:     fg.Foreground(green),
		errMsg:   fg.Bold(true).Foreground(red),
		rule:     fg.Foreground(muted),
	}
	if noColor {
		// Without colours, the selection must still stand out.
		s.selected = fg.Reverse(true)
		s.tabOn = fg.Bold(true).Reverse(true)
		s.paused = fg.Bold(true).Reverse(true)
	}

	s.help = help.DefaultStyles(isDark)
	if noColor {
		plain := fg
		s.help = help.Styles{
			Ellipsis: plain, ShortKey: plain.Bold(true), ShortDesc: plain, ShortSeparator: plain,
			FullKey: plain.Bold(true), FullDesc: plain, FullSeparator: plain,
		}
	}
	return s
}
