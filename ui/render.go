package ui

import (
	"charm.land/bubbles/v2/key"
	"github.com/skbtop/skbtop/drops"
	"math"
	"strconv"
	"strings"
	"time"
)

// arrangement is how the panes share the body.
type arrangement int

const (
	// compact shows a tab bar and the focused pane only (80x24).
	compact arrangement = iota
	// stacked shows the three panes above each other (narrow, tall).
	stacked
	// wide shows sites on top, interfaces and protocols side by side
	// below (120x40 and up).
	wide
)

// Layout thresholds, in cells.
const (
	wideMinWidth   = 110
	wideMinBody    = 24
	stackedMinBody = 30
	paneSep        = " │ "
)

// geometry is where everything goes, computed from the window size and the
// header's height.
type geometry struct {
	arr       arrangement
	body      int // body height
	sitesH    int // sites pane incl. its title (stacked, wide)
	ifacesH   int // interfaces pane incl. its title
	protosH   int // protocols pane incl. its title
	leftW     int // wide: interfaces width
	rightW    int // wide: protocols width
	retransH  int // retransmits pane incl. its title; 0 without it
	headerLen int
}

func (m Model) geometry() geometry {
	g := geometry{headerLen: len(m.headerLines())}
	g.body = max(m.height-g.headerLen-1, 0)
	switch {
	case m.width >= wideMinWidth && g.body >= wideMinBody:
		g.arr = wide
		// Sites take the rows they need (title, header, rows, a spare
		// line), between a third of the body and what leaves the panes
		// below room for a few rows.
		need := len(m.view.Sites) + 3
		g.sitesH = min(max(need, g.body/3), g.body-9)
		g.ifacesH = g.body - g.sitesH
		g.protosH = g.ifacesH
		g.rightW = min(max(m.width/3, 30), 48)
		g.leftW = m.width - g.rightW - len([]rune(paneSep))
		if m.view.Retransmits != nil {
			// Protocols and retransmits share the right column.
			g.protosH = g.ifacesH / 2
			g.retransH = g.ifacesH - g.protosH
		}
	case g.body >= stackedMinBody:
		g.arr = stacked
		g.sitesH = g.body / 2
		rest := g.body - g.sitesH
		if m.view.Retransmits != nil {
			g.retransH = rest / 4
			rest -= g.retransH
		}
		g.ifacesH = rest / 2
		g.protosH = rest - g.ifacesH
	default:
		g.arr = compact
	}
	return g
}

// layout sizes the panes for the window and the current mode.
func (m *Model) layout() {
	g := m.geometry()
	w := m.width
	m.detail.SetSize(w, g.body-1)
	m.picker.SetSize(w, g.body-1)
	m.help.SetWidth(w)
	switch g.arr {
	case wide:
		m.sites.SetSize(w, g.sitesH-1)
		m.ifaces.SetSize(g.leftW, g.ifacesH-1)
		m.protos.SetSize(g.rightW, g.protosH-1)
		m.retrans.SetSize(g.rightW, g.retransH-1)
	case stacked:
		m.sites.SetSize(w, g.sitesH-1)
		m.ifaces.SetSize(w, g.ifacesH-1)
		m.protos.SetSize(w, g.protosH-1)
		m.retrans.SetSize(w, g.retransH-1)
	default:
		for _, p := range m.panes() {
			m.pane(p).SetSize(w, g.body-1)
		}
	}
	focused := m.mode == modeNormal || m.mode == modeFilter
	m.sites.focused = focused && m.focus == paneSites
	m.ifaces.focused = focused && m.focus == paneIfaces
	m.protos.focused = focused && m.focus == paneProtos
	m.retrans.focused = focused && m.focus == paneRetrans
}

// render draws the screen: exactly height lines, none wider than width.
func (m Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	g := m.geometry()
	lines := m.headerLines()
	lines = append(lines, m.body(g)...)
	lines = block(lines, m.width, max(m.height-1, 0))
	lines = append(lines, pad(m.statusLine(), m.width))
	return joinLines(lines)
}

func (m Model) body(g geometry) []string {
	w := m.width
	switch m.mode {
	case modeDetail:
		return append([]string{m.title("Drop site", "esc back · ↑/↓ next site", true)}, splitLines(m.detail.View())...)
	case modePick:
		return append([]string{m.title("Filter by interface", "", true)}, splitLines(m.picker.View())...)
	case modeHelp:
		return m.helpLines(g.body)
	}
	switch g.arr {
	case wide:
		lines := m.titled(paneSites, w)
		left := block(m.titled(paneIfaces, g.leftW), g.leftW, g.ifacesH)
		right := block(m.titled(paneProtos, g.rightW), g.rightW, g.protosH)
		if g.retransH > 0 {
			right = append(right, block(m.titled(paneRetrans, g.rightW), g.rightW, g.retransH)...)
		}
		return append(lines, joinColumns(m.st.rule.Render(paneSep), left, right)...)
	case stacked:
		var lines []string
		for _, p := range m.panes() {
			lines = append(lines, m.titled(p, w)...)
		}
		return lines
	}
	return append([]string{m.tabBar()}, splitLines(m.pane(m.focus).View())...)
}

// titled is pane p under its title, w cells wide.
func (m Model) titled(p pane, w int) []string {
	return append([]string{m.paneTitle(p, w)}, splitLines(m.pane(p).View())...)
}

// paneInfo is a pane's name and what its title adds; long adds what only
// fits in a title, not a tab.
func (m Model) paneInfo(p pane, long bool) (name, info string) {
	switch p {
	case paneIfaces:
		info = strconv.Itoa(len(m.ifaces.items))
		if m.ifaces.quiet > 0 && long {
			info += " · " + strconv.Itoa(m.ifaces.quiet) + " quiet not shown"
		}
		return "Interfaces", info
	case paneProtos:
		return "Protocols", strconv.Itoa(len(m.view.Protocols))
	case paneRetrans:
		return "Retransmits", strconv.Itoa(len(m.retrans.items))
	}
	info = strconv.Itoa(len(m.view.Sites)) + " · by " + m.order.String()
	if m.group != drops.GroupFull {
		info += " · per " + m.group.Describe()
	}
	return "Drop sites", info
}

func (m Model) paneTitle(p pane, w int) string {
	name, info := m.paneInfo(p, true)
	return truncate(m.title(name, info, m.focus == p && m.mode == modeNormal), w)
}

func (m Model) title(name, info string, focused bool) string {
	st := m.st.titleDim
	mark := "  "
	if focused {
		st, mark = m.st.title, "▌ "
	}
	s := st.Render(mark + name)
	if info != "" {
		s += m.st.muted.Render("  " + info)
	}
	return s
}

// tabBar names the panes in compact mode, the focused one highlighted.
func (m Model) tabBar() string {
	var b strings.Builder
	for _, p := range m.panes() {
		name, info := m.paneInfo(p, false)
		tab := name + " " + info + " "
		if p == m.focus {
			// The bar marks the tab without colour too (NO_COLOR, goldens).
			b.WriteString(m.st.tabOn.Render("▌" + tab))
		} else {
			b.WriteString(m.st.tabOff.Render(" " + tab))
		}
		b.WriteString(" ")
	}
	return truncate(b.String(), m.width)
}

// window is the length of the counting window.
func (m Model) window() string {
	return fmtDuration(time.Duration(m.view.WindowS * float64(time.Second)))
}

// headerLines are the lines above the panes: who and what is shown, the
// totals and the tracer's health, and warnings when there are any.
func (m Model) headerLines() []string {
	st, w, s := m.st, m.width, m.view
	left := st.app.Render("skbtop")
	if s.Host != "" {
		left += " " + st.strong.Render(s.Host)
	}
	if s.Kernel != "" {
		left += st.muted.Render(" · " + s.Kernel)
	}
	right := st.muted.Render("filter: none")
	if !m.filter.IsZero() {
		right = st.muted.Render("filter: ") + st.filter.Render(m.filter.String())
	}
	if ns := s.Namespace; ns != nil {
		right = st.muted.Render("netns ") + st.strong.Render(ns.Label()) + st.muted.Render(" · ") + right
	}
	switch {
	case m.paused:
		right += "  " + st.paused.Render(" PAUSED "+m.shown.Time.Local().Format("15:04:05")+" ")
	case m.have:
		right += "  " + st.live.Render("● live")
	}
	lines := []string{spread(left, right, w)}

	if !m.have {
		return append(lines, st.muted.Render("waiting for the first reading…"))
	}
	sep := st.muted.Render(" · ")
	t := s.Totals
	stats := st.strong.Render(fmtRateLong(t.Rate)) + " drops/s" + sep +
		st.strong.Render(fmtThousands(t.Drops)) + " drops in " + m.window() + sep
	if h := s.Hidden; h != nil {
		// Hides are in force: said before the tracer's health, which
		// a narrow screen cuts first, even when they hide nothing now.
		more := fmtCount(h.Drops) + " drops"
		if h.Sites == 0 {
			more = plural(len(h.Rules), "rule")
		}
		stats += st.strong.Render(strconv.Itoa(h.Sites)+" hidden") + st.muted.Render(" ("+more+")") + sep
	}
	lost := "samples lost " + fmtThousands(t.SamplesLost)
	if t.SamplesLost > 0 {
		stats += st.warn.Render(lost)
	} else {
		stats += lost
	}
	if t.MaxKeys > 0 {
		// The kernel map's fill: keys of the last interval.
		keys := "keys " + fmtThousands(uint64(t.Keys)) + "/" + fmtThousands(uint64(t.MaxKeys))
		if t.Keys >= t.MaxKeys {
			keys = st.warn.Render(keys)
		}
		stats += sep + keys
	}
	if t.KeysOverflowed > 0 {
		stats += sep + st.warn.Render("map full "+fmtThousands(t.KeysOverflowed))
	}
	if t.RecursionMisses > 0 {
		stats += sep + st.warn.Render("unseen "+fmtThousands(t.RecursionMisses))
	}
	lines = append(lines, truncate(stats, w))
	if c := s.Capabilities; c != nil {
		for _, note := range c.Notes {
			lines = append(lines, truncate(st.muted.Render(note), w))
		}
	}
	if rt := s.Retransmits; rt != nil && len(rt.Notes) > 0 {
		// The loss no local drop explains, said as plainly as drops
		// says it.
		note := "⚠ " + rt.Notes[0]
		if n := len(rt.Notes); n > 1 {
			note += " (+" + strconv.Itoa(n-1) + " more in the retransmits pane)"
		}
		lines = append(lines, truncate(st.warn.Render(note), w))
	}
	for _, u := range m.unmatched {
		lines = append(lines, truncate(st.warn.Render("⚠ "+u), w))
	}
	if n := len(s.Warnings); n > 0 {
		warn := "⚠ " + s.Warnings[0]
		if n > 1 {
			warn += " (+" + strconv.Itoa(n-1) + " more in the saved snapshot)"
		}
		lines = append(lines, truncate(st.warn.Render(warn), w))
	}
	return lines
}

// plural renders a count of things: 1 rule, 3 rules.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// fmtRateLong renders the header's total rate: exact below 1000/s, with
// thousands separators above.
func fmtRateLong(r float64) string {
	if r < 1000 {
		return fmtRate(r)
	}
	return fmtThousands(uint64(math.Round(r)))
}

// statusLine is the bottom line: the filter input, a message, or the keys.
func (m Model) statusLine() string {
	w := m.width
	switch {
	case m.mode == modeFilter:
		in := m.input
		in.SetWidth(max(w-cellWidth(in.Prompt)-2, 1))
		return truncate(in.View(), w)
	case m.status != "":
		if m.statusErr {
			return truncate(m.st.errMsg.Render(m.status), w)
		}
		return truncate(m.st.info.Render(m.status), w)
	}
	keys := m.help.ShortHelpView(m.keys.shortHelpFor(m.mode))
	if state := m.state(); state != "" {
		return truncate(m.st.info.Render(state)+"  "+keys, w)
	}
	return truncate(keys, w)
}

// state says what the view is doing that the panes do not show: the
// screen paused, the site the cursor follows.
func (m Model) state() string {
	var parts []string
	if m.paused {
		parts = append(parts, "paused: p resumes")
	}
	if m.sites.pinned && !m.detailPin {
		s, ok := m.sites.pinnedSite()
		label := s.SiteLabel()
		if ifc := s.InterfacesLabel(); ifc != "" {
			label += " " + ifc
		}
		if !ok {
			label += " (not in view)"
		}
		parts = append(parts, "following "+label+" · f stops")
	}
	return strings.Join(parts, " · ")
}

// legend explains the drop-site columns on the help screen; the notes of
// the interface table and savedNote follow it.
var legend = [][2]string{
	{"RATE/s", "drops per second over the last refresh interval"},
	{"TOTAL", "drops since skbtop started or since the last reset (c)"},
	{"SHARE", "part of all drops in the view (the filter applies; hidden sites count)"},
	{"LAST 60s", "per-second rate over the last minute, scaled to each row's peak"},
}

// savedNote says what 's' writes.
const savedNote = "Saved snapshots (s) hold the view as JSON in the snapshot directory: filtered, grouped and hidden as on screen."

// legendTerm is the width of the legend's terms.
const legendTerm = 10

// helpText is the whole help screen for the mode the help was opened from,
// before it is scrolled into the body.
func (m Model) helpText() []string {
	lines := m.helpColumns(m.keys.fullHelpFor(m.helpFrom))
	if m.helpFrom != modeNormal {
		return lines
	}
	lines = append(lines, "")
	for _, l := range legend {
		desc := wrap(l[1], max(m.width-legendTerm, 1))
		for i, d := range desc {
			term := ""
			if i == 0 {
				term = l[0]
			}
			lines = append(lines, m.st.muted.Render(pad(term, legendTerm)+d))
		}
	}
	for _, text := range []string{"Interfaces: " + ifaceNote, savedNote} {
		for _, l := range wrap(text, m.width) {
			lines = append(lines, m.st.muted.Render(l))
		}
	}
	return lines
}

// helpLines is the help screen in h lines: its title and as much of the
// text as fits from where it is scrolled to.
func (m Model) helpLines(h int) []string {
	text := m.helpText()
	rows := max(h-1, 0)
	top := min(m.helpScroll, max(len(text)-rows, 0))
	info := "any key closes"
	if len(text) > rows {
		info = "↑/↓ scroll · any other key closes"
		if top+rows < len(text) {
			info += " · more below"
		}
	}
	lines := []string{m.title("Keys", info, true)}
	lines = append(lines, text[top:min(top+rows, len(text))]...)
	return block(lines, m.width, h)
}

// helpColumns lays the groups of keys out as columns, as many side by side
// as the width takes, the rest in rows below: every key is on the screen
// at any width, none cut.
func (m Model) helpColumns(groups [][]key.Binding) []string {
	h := m.help
	h.SetWidth(0)
	const gap = 4
	var out, row [][]string
	var widths []int
	rowW := 0
	flush := func() {
		rowH := 0
		for _, b := range row {
			rowH = max(rowH, len(b))
		}
		for i := range row {
			row[i] = block(row[i], widths[i], rowH)
		}
		out = append(out, joinColumns(strings.Repeat(" ", gap), row...))
		row, widths, rowW = nil, nil, 0
	}
	for _, g := range groups {
		b := splitLines(h.FullHelpView([][]key.Binding{g}))
		w := 0
		for _, l := range b {
			w = max(w, cellWidth(l))
		}
		if len(row) > 0 && rowW+gap+w > m.width {
			flush()
		}
		if len(row) > 0 {
			rowW += gap
		}
		row, widths, rowW = append(row, b), append(widths, w), rowW+w
	}
	if len(row) > 0 {
		flush()
	}
	var lines []string
	for _, r := range out {
		lines = append(lines, r...)
	}
	return lines
}
