package ui

import (
	"charm.land/bubbles/v2/textinput"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/pcapng"
)

// statusTTL is how long a status line message stays.
const statusTTL = 5 * time.Second

// pane names a pane that can have the focus.
type pane int

const (
	paneSites pane = iota
	paneIfaces
	paneProtos
	// paneRetrans is there only while retransmits are traced (see
	// panes).
	paneRetrans
	paneCount
)

// mode is what the keyboard currently drives.
type mode int

const (
	modeNormal mode = iota
	modeFilter      // typing a symbol filter in the status line
	modePick        // picking an interface
	modeDetail      // a site's detail
	modeHelp        // the full help
)

// tickMsg asks for the next snapshot.
type tickMsg struct{}

// snapshotMsg carries a snapshot pulled from the Source; next says whether it
// came from the refresh tick, which must then be scheduled again.
type snapshotMsg struct {
	snap drops.Snapshot
	err  error
	next bool
}

// hidesSavedMsg reports the hides file written by 'W'.
type hidesSavedMsg struct {
	path string
	n    int
	err  error
}

// savedMsg reports a snapshot file written by 's'.
type savedMsg struct {
	path string
	err  error
}

// stacksMsg carries the stacks 't' collected for the site with key.
type stacksMsg struct {
	key drops.Key
	rep drops.StackReport
	err error
}

// pcapMsg reports a pcap-ng file written by 'w'.
type pcapMsg struct {
	path    string
	row     string
	written int
	err     error
}

// fatalMsg carries a panic in a command the model started.
type fatalMsg struct{ err error }

// Model is the root bubbletea model of the live view.
type Model struct {
	// shared holds the styles, keys and options every pane reads too.
	*shared
	// frame numbers this state of the model among all the states any
	// model was in (frames); drawn holds the last View and the frame it
	// drew, so that a state drawn already is not drawn again.
	frame  uint64
	drawn  *drawn
	src    Source
	isDark bool
	help   help.Model
	input  textinput.Model
	// timer starts the wait for the next tick; tests replace it.
	timer func(time.Duration) tea.Cmd

	width, height int

	// latest is the last snapshot pulled; shown is the one on screen (they
	// differ while paused); view is shown with the filter applied, what
	// every pane renders and 's' saves.
	latest, shown, view drops.Snapshot
	have                bool
	// viewOf is what view was made from.
	viewOf viewOf
	filter drops.Filter
	// unmatched says which parts of the filter match nothing seen so
	// far (drops.Snapshot.Unmatched).
	unmatched   []string
	hasFunction func(string) bool
	order       drops.Order    // of the sites pane
	group       drops.Grouping // what a row of the sites pane stands for
	hides       []drops.Hide   // rules taking sites out of the rows
	paused      bool

	mode mode
	// helpFrom is the mode the help was opened from, which it returns to;
	// helpScroll is the first line of the help shown.
	helpFrom   mode
	helpScroll int
	focus      pane
	sites      sitesPane
	ifaces     ifacesPane
	protos     protocolsPane
	retrans    retransPane
	detail     detailPane
	picker     pickerPane

	// detailPin says the sites pane's cursor was pinned only for the
	// detail, to be let go when it closes.
	detailPin bool

	status      string
	statusErr   bool
	statusUntil time.Time

	fatal error
}

// New returns the model. It shows nothing until the first snapshot arrives,
// which Init requests at once.
func New(src Source, opts Options) Model {
	sh := &shared{keys: newKeyMap(), opts: opts.withDefaults()}
	m := Model{
		shared: sh,
		frame:  frames.Add(1),
		drawn:  &drawn{},
		src:    src,
		isDark: true,
		help:   help.New(),
		timer:  tickAfter,
		filter: sh.opts.Filter,
		group:  sh.opts.Group,
		hides:  slices.Clone(sh.opts.Hides),
		sites:  newSitesPane(sh),
		ifaces: newIfacesPane(sh),
		protos: newProtocolsPane(sh),
		detail: detailPane{shared: sh},
		picker: newPickerPane(sh),
	}
	// Set apart from the literal above to keep its lines as they were.
	m.retrans = newRetransPane(sh)
	m.input = textinput.New()
	m.input.Prompt = "/ symbol: "
	m.input.Placeholder = "function name substring · tab completes · ↵ apply · esc clear"
	m.input.CharLimit = 64
	m.input.ShowSuggestions = true
	if hf := sh.opts.HasFunction; hf != nil {
		// Asked once per text: the answer reads every kernel symbol.
		memo := map[string]bool{}
		m.hasFunction = func(sub string) bool {
			has, ok := memo[sub]
			if !ok {
				has = hf(sub)
				memo[sub] = has
			}
			return has
		}
	}
	m.setStyles()
	m.apply()
	return m
}

// setStyles builds the styles for the background; the panes see them
// through shared.
func (m *Model) setStyles() {
	m.st = newStyles(m.isDark, m.opts.NoColor)
	m.help.Styles = m.st.help
	is := textinput.DefaultStyles(m.isDark)
	// A steady cursor: a blinking one would redraw the line twice a second.
	is.Cursor.Blink = false
	is.Focused.Prompt = m.st.strong
	if m.opts.NoColor {
		is = textinput.Styles{Focused: textinput.StyleState{Prompt: m.st.strong}, Blurred: textinput.StyleState{Prompt: m.st.strong}}
	}
	m.input.SetStyles(is)
}

// Init asks the terminal for its background colour and pulls the first
// snapshot.
func (m Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.fetch(true))
}

// fetch pulls a snapshot off the UI goroutine.
func (m Model) fetch(next bool) tea.Cmd {
	src := m.src
	return guard(func() tea.Msg {
		snap, err := src.Snapshot()
		return snapshotMsg{snap: snap, err: err, next: next}
	})
}

// guard runs a command the model starts, turning a panic in it (in the
// Source, say) into a fatal error the model quits with and Run returns.
// This is the UI's only recover, because commands are where bubbletea's
// own is not enough: a panic in Update or View unwinds bubbletea's loop,
// which restores the terminal, prints the panic and makes Run return
// tea.ErrProgramPanic; a panic in a command's goroutine is printed while
// the alternate screen is still up, so it vanishes with it and only
// "program experienced a panic" would be left to report.
func guard(cmd tea.Cmd) tea.Cmd {
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = fatalMsg{panicError(r)}
			}
		}()
		return cmd()
	}
}

func (m Model) scheduleTick() tea.Cmd {
	return m.timer(m.opts.Interval)
}

// tickAfter is the refresh timer.
func tickAfter(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{} })
}

// frames numbers the states of models (Model.frame): each Update that
// may change what a model shows gives it a new number, never given
// before, so that models copied and updated apart never share one.
var frames atomic.Uint64

// drawn is a model's last View and the frame it is of.
type drawn struct {
	frame uint64
	view  tea.View
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(tickMsg); ok && !m.statusExpired() {
		// The refresh tick only asks for a snapshot: what it shows
		// stays until the snapshot comes, and so does the frame.
		return m, m.fetch(true)
	}
	cmd := m.update(msg)
	m.layout()
	m.frame = frames.Add(1)
	return m, cmd
}

// statusExpired reports whether the status line's message is due to go.
func (m Model) statusExpired() bool {
	return m.status != "" && !m.opts.Now().Before(m.statusUntil)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		m.isDark = msg.IsDark()
		m.setStyles()
	case tickMsg:
		if m.statusExpired() {
			m.status = ""
		}
		return m.fetch(true)
	case snapshotMsg:
		var next tea.Cmd
		if msg.next {
			next = m.scheduleTick()
		}
		if msg.err != nil {
			if err, ok := isFatal(msg.err); ok {
				m.fatal = err
				return tea.Quit
			}
			m.setStatus("reading drops: "+msg.err.Error(), true)
			return next
		}
		m.latest, m.have = msg.snap, true
		if !m.paused {
			m.shown = msg.snap
			m.apply()
		}
		return next
	case fatalMsg:
		m.fatal = msg.err
		return tea.Quit
	case savedMsg:
		if msg.err != nil {
			m.setStatus("save failed: "+msg.err.Error(), true)
		} else {
			m.setStatus("saved "+msg.path, false)
		}
	case stacksMsg:
		m.detail.SetStacks(msg.key, msg.rep, msg.err)
		if msg.err != nil {
			m.setStatus("stacks: "+msg.err.Error(), true)
		}
	case pcapMsg:
		switch {
		case msg.err != nil:
			m.setStatus("pcap: "+msg.err.Error(), true)
		default:
			m.setStatus(fmt.Sprintf("wrote %d sampled packets of %s to %s", msg.written, msg.row, msg.path), false)
		}
	case hidesSavedMsg:
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
		} else {
			m.setStatus(fmt.Sprintf("saved %d hide rules to %s: the next skbtop starts with them", msg.n, msg.path), false)
		}
	case tea.KeyPressMsg:
		// What the status line said was the answer to the last key.
		m.status = ""
		return m.handleKey(msg)
	default:
		// Pastes and the input's own messages go to the symbol field.
		if m.mode == modeFilter {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			m.setFilter(drops.Filter{Interface: m.filter.Interface, Symbol: strings.TrimSpace(m.input.Value())})
			return cmd
		}
	}
	return nil
}

// functions lists the function names of the sites on screen, for the symbol
// field's completion.
func (m *Model) functions() []string {
	var names []string
	for _, s := range m.shown.Sites {
		if s.Function != "" && s.Function != drops.OverflowFunction {
			names = append(names, s.Function)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func (m *Model) setStatus(text string, isErr bool) {
	m.status, m.statusErr = text, isErr
	m.statusUntil = m.opts.Now().Add(statusTTL)
}

// viewOf is what the view on screen is made from: the snapshot's Version
// (Rows, Names) and the way the user looks at it.
type viewOf struct {
	version uint64
	rows    uint64
	names   uint64
	filter  drops.Filter
	hides   []drops.Hide
	group   drops.Grouping
	order   drops.Order
}

// same reports whether v and w make the same view; never for a snapshot of
// unknown Version.
func (v viewOf) same(w viewOf) bool {
	return v.version != 0 && v.version == w.version && v.sameWay(w)
}

// sameRows reports whether v and w show the same rows, the sites'
// histories aside; never for a snapshot of unknown Rows.
func (v viewOf) sameRows(w viewOf) bool {
	return v.rows != 0 && v.rows == w.rows && v.sameWay(w)
}

// sameNames reports whether v and w show the same rows under the same
// names, whatever their counts and order; never for a snapshot of unknown
// Names, nor for grouped rows (which name their busiest member).
func (v viewOf) sameNames(w viewOf) bool {
	return v.names != 0 && v.names == w.names && v.group == drops.GroupFull && v.sameWay(w)
}

// sameWay reports whether v and w look at their snapshots the same way.
func (v viewOf) sameWay(w viewOf) bool {
	return v.filter == w.filter && v.group == w.group && v.order == w.order && slices.Equal(v.hides, w.hides)
}

// apply filters the snapshot on screen, sorts its sites in the chosen
// order and hands the view to the panes. A refresh that brings the
// snapshot already on screen (an idle host's: the aggregator hands out the
// same one while nothing changes) only moves the view's clock, so that a
// full map of quiet sites costs next to nothing to keep on screen.
func (m *Model) apply() {
	of := viewOf{m.shown.Version, m.shown.Rows, m.shown.Names, m.filter, slices.Clone(m.hides), m.group, m.order}
	if m.have && of.same(m.viewOf) {
		m.view.Time, m.view.Start = m.shown.Time, m.shown.Start
		m.view.WindowS, m.view.IntervalS = m.shown.WindowS, m.shown.IntervalS
		m.detail.Refresh(m.view)
		return
	}
	// Only the sparklines moved: the rows, their labels and the other
	// panes stay as they are laid out.
	sparklines := m.have && of.sameRows(m.viewOf)
	// Rows under the same names keep the sites' columns as fitted:
	// checking a node's 10,000 labels against them each refresh was most
	// of the view's work.
	renamed := !m.have || !of.sameNames(m.viewOf)
	m.viewOf = of
	m.view = m.shown.Apply(drops.View{Filter: m.filter, Hide: m.hides, Group: m.group})
	m.unmatched = nil
	if m.have {
		m.unmatched = m.shown.Unmatched(m.filter, m.hasFunction)
	}
	empty := "No drops since the counts started."
	switch {
	case !m.have:
		empty = "Waiting for the first reading…"
	case !m.filter.IsZero() && len(m.shown.Sites) > 0:
		empty = "No drop site matches " + m.filter.String() + ". Press esc to clear the filter."
	}
	sites := m.view.Sites
	if m.order != drops.ByRate || m.group != drops.GroupFull {
		// A copy: the view keeps the snapshot's order, which 's' saves.
		// Sites come sorted by rate, and filtering and hiding keep their
		// order, so the default view needs neither.
		sites = slices.Clone(sites)
		drops.SortSites(sites, m.order)
	}
	m.sites.SetSites(sites, m.view.Totals, empty, !sparklines && renamed)
	if !sparklines {
		m.ifaces.SetInterfaces(m.view.Interfaces)
		m.protos.SetProtocols(m.view.Protocols, m.view.Totals, m.view.StackCounters)
		m.retrans.SetRetransmits(m.view.Retransmits)
	}
	if m.focus == paneRetrans && m.view.Retransmits == nil {
		m.focus = paneSites
	}
	m.detail.Refresh(m.view)
	if m.mode == modePick {
		// Only while it is open: sorting a node's interfaces by name
		// each refresh for nobody was a twentieth of a refresh.
		m.picker.SetInterfaces(m.shown.Interfaces)
	}
}

func (m *Model) setFilter(f drops.Filter) {
	m.filter = f
	m.apply()
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := &m.keys
	if key.Matches(msg, k.Interrupt) {
		return tea.Quit
	}
	switch m.mode {
	case modeFilter:
		switch {
		case key.Matches(msg, k.Enter):
			m.setFilter(drops.Filter{Interface: m.filter.Interface, Symbol: strings.TrimSpace(m.input.Value())})
			m.closeInput()
		case key.Matches(msg, k.Back):
			m.setFilter(drops.Filter{Interface: m.filter.Interface})
			m.closeInput()
		default:
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			// Preview the filter while typing; enter keeps it.
			m.setFilter(drops.Filter{Interface: m.filter.Interface, Symbol: strings.TrimSpace(m.input.Value())})
			return cmd
		}
		return nil
	case modePick:
		// Letters are text here, narrowing the choices: the picker is
		// left with enter or esc.
		switch {
		case key.Matches(msg, k.Enter):
			if ifc, ok := m.picker.Selected(); ok {
				m.setFilter(drops.Filter{Interface: ifc.Label(), Symbol: m.filter.Symbol})
				m.mode = modeNormal
			}
		case key.Matches(msg, k.Back) && m.picker.Query() != "":
			m.picker.ClearQuery()
		case key.Matches(msg, k.Back):
			m.setFilter(drops.Filter{Symbol: m.filter.Symbol})
			m.mode = modeNormal
		default:
			m.picker.Update(msg)
		}
		return nil
	case modeHelp:
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Up):
			m.helpScroll = max(m.helpScroll-1, 0)
		case key.Matches(msg, k.Down):
			m.helpScroll++
		case key.Matches(msg, k.PageUp, k.Top):
			m.helpScroll = 0
		case key.Matches(msg, k.PageDown, k.Bottom):
			m.helpScroll += max(m.geometry().body-2, 1)
		default:
			m.mode = m.helpFrom
		}
		// Not past the end: what is shown is the last screenful.
		m.helpScroll = min(m.helpScroll, max(len(m.helpText())-(m.geometry().body-1), 0))
		return nil
	case modeDetail:
		switch {
		case key.Matches(msg, k.Back, k.Enter):
			m.closeDetail()
			return nil
		case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom):
			// Step through the sites without leaving the detail.
			m.sites.Update(msg)
			if s, ok := m.sites.Selected(); ok {
				m.detail.Show(s, m.view.Totals)
			}
			return nil
		case key.Matches(msg, k.Stacks):
			return m.collectStacks()
		case key.Matches(msg, k.Pcap):
			return m.writePcap(m.detail.site)
		case key.Matches(msg, k.Hide):
			// The site leaves the list: back to it.
			m.hideSelected()
			m.closeDetail()
			return nil
		case !key.Matches(msg, k.detailKeys()...):
			// The rest would change a list that is not on screen.
			return nil
		}
	}
	return m.globalKey(msg)
}

// globalKey handles the keys that work in the normal view and the detail.
func (m *Model) globalKey(msg tea.KeyPressMsg) tea.Cmd {
	k := &m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.helpFrom, m.mode, m.helpScroll = m.mode, modeHelp, 0
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		m.input.SetValue(m.filter.Symbol)
		m.input.CursorEnd()
		m.input.SetSuggestions(m.functions())
		return m.input.Focus()
	case key.Matches(msg, k.Iface):
		m.mode = modePick
		m.picker.SetInterfaces(m.shown.Interfaces)
		m.picker.Open(m.filter.Interface)
	case key.Matches(msg, k.Sort):
		// The title says the order; the view shows its top.
		m.order = m.order.Next()
		m.apply()
		m.sites.toTop()
	case key.Matches(msg, k.Group):
		// Other rows: the view shows the top of them.
		m.group = m.group.Next()
		m.sites.unpin()
		m.apply()
		m.sites.toTop()
	case key.Matches(msg, k.Hide) && m.focus == paneSites:
		m.hideSelected()
	case key.Matches(msg, k.Unhide):
		if len(m.hides) > 0 {
			m.hides = nil
			m.apply()
			m.setStatus("every site shown again; W saves that", false)
		}
	case key.Matches(msg, k.SaveHide):
		return m.saveHides()
	case key.Matches(msg, k.Pcap) && m.focus == paneSites:
		if s, ok := m.sites.Selected(); ok {
			return m.writePcap(s)
		}
	case key.Matches(msg, k.Follow):
		if m.sites.pinned && !m.detailPin {
			m.sites.unpin()
		} else if m.sites.pinSelected() {
			m.detailPin = false
		}
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if !m.paused && m.have {
			m.shown = m.latest
			m.apply()
		}
	case key.Matches(msg, k.Reset):
		m.src.Reset()
		// The status line says when the screen is paused.
		m.setStatus("counts reset: counting drops from now", false)
		return m.fetch(false)
	case key.Matches(msg, k.Save):
		return m.save()
	case key.Matches(msg, k.Tab):
		m.focus = m.nextPane(1)
	case key.Matches(msg, k.BackTab):
		m.focus = m.nextPane(-1)
	case key.Matches(msg, k.Enter):
		switch m.focus {
		case paneSites:
			if s, ok := m.sites.Selected(); ok {
				m.detail.Show(s, m.view.Totals)
				m.mode = modeDetail
				// While the detail is open the cursor stays on its
				// site, so that up and down step from there.
				if !m.sites.pinned {
					m.sites.pinSelected()
					m.detailPin = true
				}
			}
		case paneIfaces:
			if ifc, ok := m.ifaces.Selected(); ok {
				m.setFilter(drops.Filter{Interface: ifc.Label(), Symbol: m.filter.Symbol})
			}
		}
	case key.Matches(msg, k.Back):
		// The header says the filter is gone.
		m.setFilter(drops.Filter{})
	default:
		return m.pane(m.focus).Update(msg)
	}
	return nil
}

// hideSelected hides the selected row's site and reason on every
// interface (its reason at every site, grouped by reason).
func (m *Model) hideSelected() {
	s, ok := m.sites.Selected()
	if !ok {
		return
	}
	h, ok := drops.HideRow(s, m.group)
	if !ok {
		m.setStatus("this row cannot be hidden: no function names it", true)
		return
	}
	if !slices.Contains(m.hides, h) {
		m.hides = append(m.hides, h)
	}
	m.apply()
	m.setStatus("hid "+h.String()+" (still in the totals) · X shows it again · W saves", false)
}

// saveHides writes the hide rules where the next run reads them.
func (m *Model) saveHides() tea.Cmd {
	path, hides := m.opts.HidesPath, slices.Clone(m.hides)
	if path == "" {
		m.setStatus("hides cannot be saved: no configuration directory", true)
		return nil
	}
	return guard(func() tea.Msg {
		return hidesSavedMsg{path: path, n: len(hides), err: drops.SaveHides(path, hides)}
	})
}

// collectStacks starts collecting the kernel stacks of the site in the
// detail, for StackDuration; the detail says it is collecting.
func (m *Model) collectStacks() tea.Cmd {
	ss, ok := m.src.(StackSource)
	if !ok {
		m.setStatus("kernel stacks cannot be collected here", true)
		return nil
	}
	if m.detail.collecting {
		m.setStatus("already collecting kernel stacks", true)
		return nil
	}
	site := m.detail.site
	m.detail.StartStacks(site.Key, m.opts.Now())
	return guard(func() tea.Msg {
		rep, err := ss.Stacks(context.Background(), site, StackDuration)
		return stacksMsg{key: site.Key, rep: rep, err: err}
	})
}

// writePcap writes a row's sampled packets to a pcap-ng file beside the
// snapshots.
func (m *Model) writePcap(s drops.Site) tea.Cmd {
	if len(s.Samples) == 0 {
		m.setStatus("no sampled packets in this row yet: nothing to write", true)
		return nil
	}
	snap, dir, now := m.view, m.opts.SnapshotDir, m.opts.Now()
	return guard(func() tea.Msg {
		row := s.SiteLabel()
		path, err := pcapng.FreeName(dir, now, s.Function)
		if err != nil {
			return pcapMsg{err: err}
		}
		written, err := pcapng.WriteFile(path, pcapng.Row(s, snap))
		if abs, aerr := filepath.Abs(path); aerr == nil {
			path = abs
		}
		return pcapMsg{path: path, row: row, written: written, err: err}
	})
}

// pane returns the pane p names.
func (m *Model) pane(p pane) paneModel {
	switch p {
	case paneIfaces:
		return &m.ifaces
	case paneProtos:
		return &m.protos
	case paneRetrans:
		return &m.retrans
	}
	return &m.sites
}

// panes are the panes there are, in tab order: the retransmits pane only
// while retransmits are traced.
func (m *Model) panes() []pane {
	ps := []pane{paneSites, paneIfaces, paneProtos}
	if m.view.Retransmits != nil {
		ps = append(ps, paneRetrans)
	}
	return ps
}

// nextPane is the pane step places after the focused one in tab order.
func (m *Model) nextPane(step int) pane {
	ps := m.panes()
	i := max(slices.Index(ps, m.focus), 0)
	return ps[(i+step+len(ps))%len(ps)]
}

func (m *Model) closeInput() {
	m.mode = modeNormal
}

// closeDetail goes back to the list, letting go of a pin that was only the
// detail's.
func (m *Model) closeDetail() {
	m.mode = modeNormal
	if m.detailPin {
		m.sites.unpin()
		m.detailPin = false
	}
}

// save writes the view on screen, filter applied, to a snapshot file.
func (m *Model) save() tea.Cmd {
	if !m.have {
		m.setStatus("nothing to save yet: no reading so far", true)
		return nil
	}
	snap, dir, now := m.view, m.opts.SnapshotDir, m.opts.Now()
	return guard(func() tea.Msg {
		path, err := drops.WriteFile(dir, snap, now)
		if err == nil {
			if abs, aerr := filepath.Abs(path); aerr == nil {
				path = abs
			}
		}
		return savedMsg{path: path, err: err}
	})
}

// View renders the whole screen in the alternate screen buffer.
func (m Model) View() tea.View {
	if m.drawn != nil && m.drawn.frame == m.frame {
		// bubbletea draws after every message; a refresh tick, say,
		// changes nothing on screen.
		return m.drawn.view
	}
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "skbtop"
	if m.shown.Host != "" {
		v.WindowTitle = "skbtop: " + m.shown.Host
	}
	if m.drawn != nil {
		*m.drawn = drawn{m.frame, v}
	}
	return v
}
