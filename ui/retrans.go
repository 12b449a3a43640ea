package ui

import (
	"strconv"

	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// retransPane lists the peers TCP retransmitted to, busiest first, with
// the kernel's own TcpRetransSegs under them: loss beyond this host shows
// here when no drop site explains it.
type retransPane struct {
	*shared
	list[drops.Peer, drops.PeerKey]
	w, h int

	r *drops.Retransmits
}

func newRetransPane(sh *shared) retransPane {
	return retransPane{shared: sh, list: newList(&sh.keys, func(p drops.Peer) drops.PeerKey { return p.Key })}
}

// SetSize sets the pane's width and height, including its column header
// and the counter line.
func (p *retransPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.setHeight(h - 1 - p.footHeight())
}

// footHeight is the counter line under the rows: there when the pane has
// room for a row above it.
func (p retransPane) footHeight() int {
	if p.r == nil || p.h < 3 {
		return 0
	}
	return 1
}

// SetRetransmits replaces the rows, keeping the selection on the same peer.
func (p *retransPane) SetRetransmits(r *drops.Retransmits) {
	p.r = r
	var peers []drops.Peer
	if r != nil {
		peers = r.Peers
	}
	p.setItems(peers)
	p.SetSize(p.w, p.h)
}

// The columns of the pane.
const (
	rtPeer = iota
	rtRate
	rtCount
	rtIface
	rtState
	rtLocal
)

// View renders the column header, the rows and the counter line.
func (p retransPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	peers := make([]string, len(p.items))
	ifaces := make([]string, len(p.items))
	for i, pr := range p.items {
		peers[i] = pr.Endpoint()
		ifaces[i] = drops.OrDash(pr.InterfaceLabel())
	}
	cols := []column{
		rtPeer:  {title: "PEER", w: natural("PEER", peers, 4, 40), min: 4},
		rtRate:  {title: "RATE/s", w: 6, min: 6, right: true},
		rtCount: {title: "RETRANS", w: 7, min: 6, right: true},
		rtIface: {title: "IFACE", w: natural("IFACE", ifaces, 5, 16), min: 5},
		rtState: {title: "STATE", w: 11, min: 5},
		rtLocal: {title: "LPORT", w: 5, min: 5, right: true},
	}
	// The peer is what the pane is for: the other columns give way
	// first, the state before the interface.
	fit(cols, p.w, []squeeze{{rtLocal, 0}, {rtState, 0}, {rtIface, 0}, {rtCount, 6}, {rtPeer, 15}, {rtRate, 0}, {rtPeer, 4}})
	texts := labelTexts(peers, cols[rtPeer].w)
	lines := []string{headerRow(cols, p.st.colHead)}
	switch {
	case p.r == nil:
		lines = append(lines, p.st.muted.Render("Retransmits are not traced on this kernel."))
	case len(p.items) == 0:
		lines = append(lines, p.st.muted.Render("No TCP retransmits."))
	}
	lines = append(lines, p.rows(p.st, cols, p.w, func(pr drops.Peer) ([]string, []*lipgloss.Style) {
		sts := make([]*lipgloss.Style, len(cols))
		sts[rtRate] = &p.st.strong
		if pr.Outside {
			// The loss no local drop explains.
			sts[rtPeer] = &p.st.warn
		}
		return []string{
			rtPeer:  texts[pr.Endpoint()],
			rtRate:  fmtRate(pr.Rate),
			rtCount: fmtCount(pr.Count),
			rtIface: drops.OrDash(pr.InterfaceLabel()),
			rtState: pr.State,
			rtLocal: strconv.Itoa(int(pr.LocalPort)),
		}, sts
	})...)
	lines = block(lines, p.w, p.h-p.footHeight())
	if p.footHeight() > 0 {
		lines = append(lines, truncate(p.st.note.Render(p.r.Summary()), p.w))
	}
	return joinLines(lines)
}
