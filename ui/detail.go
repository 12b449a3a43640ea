package ui

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/skbtop/skbtop/drops"
)

// detailPane shows one drop site: its figures, what its reason means and
// its recent sampled packets, decoded. It has no Update: the keys it
// answers step through the sites pane's rows, and the model shows the
// selected one.
type detailPane struct {
	*shared
	w, h int

	site   drops.Site
	totals drops.Totals
	// gone is set when the site is no longer in the view (filtered out or
	// reset); the pane keeps showing what it last knew.
	gone bool

	// The kernel stacks 't' collected, or is collecting (since
	// stacksSince), for the site with key stacksKey; stacksErr when it
	// failed. Shown while that site is.
	stacksKey   drops.Key
	haveStacks  bool
	collecting  bool
	stacksSince time.Time
	stacks      []drops.KernelStack
	stackTrace  drops.StackTrace
	stacksErr   error
}

// StartStacks notes that stacks are being collected for the site with key.
func (p *detailPane) StartStacks(key drops.Key, now time.Time) {
	p.stacksKey, p.haveStacks, p.collecting, p.stacksSince, p.stacks, p.stacksErr = key, true, true, now, nil, nil
}

// SetStacks shows the stacks collected for the site with key: of a grouped
// row, those of all its keys together.
func (p *detailPane) SetStacks(key drops.Key, rep drops.StackReport, err error) {
	p.stacksKey, p.haveStacks, p.collecting = key, true, false
	p.stacks, p.stackTrace, p.stacksErr = rep.All(), rep.Trace, err
}

// stackLines renders up to h lines about the shown site's stacks: what was
// collected and what could not be, then the stacks, most frequent first.
func (p detailPane) stackLines(h int) []string {
	if !p.haveStacks || p.stacksKey != p.site.Key || h <= 0 {
		return nil
	}
	st := p.st
	var lines []string
	switch {
	case p.collecting:
		lines = append(lines, st.title.Render("Kernel stacks")+st.muted.Render(" · collecting for "+StackDuration.String()+"…"))
	case p.stacksErr != nil:
		lines = append(lines, st.title.Render("Kernel stacks")+st.warn.Render(" · "+p.stacksErr.Error()))
	default:
		tr := p.stackTrace
		head := st.title.Render("Kernel stacks") + st.muted.Render(fmt.Sprintf(" · %d drops over %.1fs, %d distinct", tr.Recorded, tr.Seconds, len(p.stacks)))
		if n := tr.Total(); n > 0 {
			head += st.warn.Render(fmt.Sprintf(" · %d not counted: %d over the rate limit, %d collisions, %d stack map full, %d count map full, %d failed",
				n, tr.Suppressed, tr.Collisions, tr.StacksFull, tr.CountsFull, tr.Failed))
		}
		lines = append(lines, head)
		if len(p.stacks) == 0 {
			lines = append(lines, st.muted.Render("No drop at this site while collecting: t tries again."))
		}
		for _, s := range p.stacks {
			for i, f := range s.Frames {
				count := ""
				if i == 0 {
					count = fmtThousands(s.Count)
				}
				lines = append(lines, fmt.Sprintf("%8s  %s", count, f))
			}
		}
	}
	lines = append(lines, "")
	if len(lines) > h {
		lines = append(lines[:h-1], st.muted.Render("… (more frames than fit)"))
	}
	return lines
}

// SetSize sets the pane's width and height.
func (p *detailPane) SetSize(w, h int) { p.w, p.h = w, h }

// Show starts showing a site.
func (p *detailPane) Show(s drops.Site, totals drops.Totals) {
	p.site, p.totals, p.gone = s, totals, false
}

// Refresh updates the shown site from a new view.
func (p *detailPane) Refresh(view drops.Snapshot) {
	p.totals = view.Totals
	i := slices.IndexFunc(view.Sites, func(s drops.Site) bool { return s.Key == p.site.Key })
	if i < 0 {
		p.gone = true
		return
	}
	p.site, p.gone = view.Sites[i], false
}

// View renders the detail.
func (p detailPane) View() string {
	if p.h <= 0 || p.w <= 0 {
		return ""
	}
	s, st := p.site, p.st
	var lines []string
	head := st.strong.Render(s.SiteLabel())
	if p.gone {
		head += st.warn.Render("  (no longer in view)")
	}
	lines = append(lines, head)

	facts := st.reason.Render(drops.OrDash(s.ReasonLabel())) + st.muted.Render(" · ") + drops.OrDash(s.InterfacesLabel()) +
		st.muted.Render(" · ") + drops.OrDash(s.Proto()) + st.muted.Render(" · ") +
		st.strong.Render(fmtRate(s.Rate)+"/s") + st.muted.Render(" · ") +
		fmtThousands(s.Count) + " drops" + st.muted.Render(" · ") + fmtBytes(s.Bytes)
	if p.totals.Drops > 0 {
		facts += st.muted.Render(" · ") + fmtShare(float64(s.Count), float64(p.totals.Drops)) + " of all"
	}
	lines = append(lines, facts)
	var where []string
	if s.Address != "" {
		where = append(where, "addr "+s.Address)
	}
	if s.Netns != 0 {
		where = append(where, "netns "+strconv.FormatUint(uint64(s.Netns), 10))
	}
	if s.Ifindex != 0 {
		where = append(where, "ifindex "+strconv.FormatUint(uint64(s.Ifindex), 10))
	}
	if len(where) > 0 {
		lines = append(lines, st.muted.Render(strings.Join(where, " · ")))
	}
	if w := min(p.w-9, 60); w > 0 {
		lines = append(lines, st.colHead.Render("LAST 60s ")+st.spark.Render(minuteSparkline(s.History, w)))
	}

	lines = append(lines, "")
	// The site explains a drop its reason does not name.
	if help := drops.SiteHelp(s.Function); help != "" && (s.Reason == "" || s.Reason == "NOT_SPECIFIED" || drops.ReasonHelp(s.Reason) == "") {
		fn, _, _ := strings.Cut(s.Function, ".")
		for i, l := range wrap(fn+": "+help, p.w) {
			if i == 0 {
				l = st.strong.Render(fn) + l[len(fn):]
			}
			lines = append(lines, l)
		}
	}
	if s.Reason != "" {
		help := drops.ReasonHelp(s.Reason)
		if help == "" {
			help = "No description for this reason; the drop site says where it happened."
		}
		for i, l := range wrap(s.Reason+": "+help, p.w) {
			if i == 0 && strings.HasPrefix(l, s.Reason) {
				l = st.reason.Render(s.Reason) + l[len(s.Reason):]
			}
			lines = append(lines, l)
		}
		lines = append(lines, "")
	}

	// The stacks take at most what leaves the samples a few lines.
	lines = append(lines, p.stackLines(max(p.h-len(lines)-4, min(p.h-len(lines), 3)))...)

	if len(s.Samples) == 0 {
		msg := "No sampled packets yet for this site."
		if p.totals.SamplesSuppressed > 0 || p.totals.SamplesLost > 0 {
			msg += " Sampling is rate-limited: " + fmtThousands(p.totals.SamplesSuppressed) + " suppressed, " +
				fmtThousands(p.totals.SamplesLost) + " lost in this window."
		}
		for _, l := range wrap(msg, p.w) {
			lines = append(lines, st.muted.Render(l))
		}
		return joinLines(block(lines, p.w, p.h))
	}
	lines = append(lines, st.title.Render("Recent samples, newest first"))
	lines = append(lines, p.sampleLines(p.h-len(lines))...)
	return joinLines(block(lines, p.w, p.h))
}

// sampleLines renders up to h lines of the sample table: a header and the
// newest packets.
func (p detailPane) sampleLines(h int) []string {
	if h <= 0 {
		return nil
	}
	pkts := slices.Clone(p.site.Samples)
	slices.Reverse(pkts)
	pkts = pkts[:min(len(pkts), h-1)]
	cells := make([][]string, len(pkts))
	srcs, dsts, protos, infos := make([]string, len(pkts)), make([]string, len(pkts)), make([]string, len(pkts)), make([]string, len(pkts))
	var flags bool
	for i, pk := range pkts {
		flags = flags || pk.TCPFlags != ""
		srcs[i], dsts[i] = hostPort(pk.Src, pk.SrcPort), hostPort(pk.Dst, pk.DstPort)
		protos[i], infos[i] = pk.Proto(), pk.Info
		cells[i] = []string{
			pk.Time.Local().Format("15:04:05.000"),
			strconv.FormatUint(uint64(pk.CPU), 10),
			srcs[i], "→", dsts[i], protos[i], pk.TCPFlags,
			strconv.FormatUint(uint64(pk.Len), 10),
			pk.Info,
		}
	}
	cols := []column{
		{title: "TIME", w: 12, min: 8},
		{title: "CPU", w: 3, min: 3, right: true},
		{title: "SOURCE", w: natural("SOURCE", srcs, 6, 47), min: 9},
		{title: "", w: 1, min: 1},
		{title: "DESTINATION", w: natural("DESTINATION", dsts, 6, 47), min: 9},
		{title: "PROTO", w: natural("PROTO", protos, 5, 12), min: 5},
		{title: "FLAGS", w: 5, min: 5},
		{title: "LEN", w: 5, min: 4, right: true},
		{title: "INFO", w: natural("INFO", infos, 4, 40), min: 4, max: 80},
	}
	// Columns nobody's packets fill take no room from the addresses.
	if !flags {
		cols[6].w = 0
	}
	if natural("", infos, 0, 1) == 0 {
		cols[8].w = 0
	}
	// The addresses and their ports go last: INFO, CPU and FLAGS give way
	// first.
	fit(cols, p.w, []squeeze{{8, 4}, {8, 0}, {1, 0}, {6, 0}, {2, 9}, {4, 9}, {5, 0}}, 8)
	lines := []string{headerRow(cols, p.st.colHead)}
	sts := make([]*lipgloss.Style, len(cols))
	sts[0], sts[3] = &p.st.muted, &p.st.muted
	for _, c := range cells {
		// A cut address keeps its port.
		c[2], c[4] = elidePort(c[2], cols[2].w), elidePort(c[4], cols[4].w)
		lines = append(lines, styledRow(cols, c, sts))
	}
	return lines
}

// elidePort shortens host:port to w cells in the middle of the host, so
// that the port stays.
func elidePort(hp string, w int) string {
	tail := 0
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && (!strings.Contains(hp[:i], ":") || strings.HasPrefix(hp, "[")) {
		tail = len(hp) - i
	}
	return elide(hp, w, tail+1)
}

// hostPort renders an address with its port, bracketing IPv6 addresses.
func hostPort(host string, port uint16) string {
	if host == "" {
		return "-"
	}
	if port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}
