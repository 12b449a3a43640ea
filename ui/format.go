package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// ellipsis ends every truncated cell and line.
const ellipsis = "…"

// truncate cuts s, which may hold ANSI styles, to at most w cells.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if cellWidth(s) <= w {
		return s
	}
	if plain(s) {
		return s[:w-1] + ellipsis
	}
	return ansi.Truncate(s, w, ellipsis)
}

// pad truncates s to w cells and fills it with spaces to exactly w cells.
func pad(s string, w int) string {
	s = truncate(s, w)
	if n := w - cellWidth(s); n > 0 {
		s += strings.Repeat(" ", n)
	}
	return s
}

// padLeft truncates s to w cells and right-aligns it in w cells.
func padLeft(s string, w int) string {
	s = truncate(s, w)
	if n := w - cellWidth(s); n > 0 {
		s = strings.Repeat(" ", n) + s
	}
	return s
}

// spread puts left and right on one line of width w, right-aligned right;
// left is cut first when both do not fit.
func spread(left, right string, w int) string {
	rw := cellWidth(right)
	if rw >= w {
		return truncate(right, w)
	}
	left = truncate(left, w-rw-1)
	gap := w - cellWidth(left) - rw
	return left + strings.Repeat(" ", gap) + right
}

// block fits lines into a w x h rectangle: every line is cut or padded to
// exactly w cells, and the block has exactly h lines.
func block(lines []string, w, h int) []string {
	if h <= 0 {
		return nil
	}
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = pad(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", max(w, 0))
		}
	}
	return out
}

// joinColumns places blocks of equal height side by side with sep between.
func joinColumns(sep string, blocks ...[]string) []string {
	if len(blocks) == 0 {
		return nil
	}
	out := make([]string, len(blocks[0]))
	for i := range out {
		var b strings.Builder
		for j, bl := range blocks {
			if j > 0 {
				b.WriteString(sep)
			}
			if i < len(bl) {
				b.WriteString(bl[i])
			}
		}
		out[i] = b.String()
	}
	return out
}

// fmtRate renders a per-second rate compactly: 0, 0.4, 12.5, 850, 1.2k, 3.4M.
func fmtRate(r float64) string {
	switch {
	case r <= 0 || math.IsNaN(r):
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case r < 1000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return fmtSI(r)
}

// fmtCount renders a count compactly: 950, 45.2k, 1.3M.
func fmtCount(n uint64) string {
	if n < 10000 {
		return strconv.FormatUint(n, 10)
	}
	return fmtSI(float64(n))
}

func fmtSI(v float64) string {
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			x := v / u.div
			if x < 100 {
				return strconv.FormatFloat(x, 'f', 1, 64) + u.suffix
			}
			return strconv.FormatFloat(x, 'f', 0, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtThousands renders n with thousands separators: 45,210.
func fmtThousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// fmtBytes renders a byte count: 512 B, 1.4 MB.
func fmtBytes(n uint64) string {
	if n < 1000 {
		return strconv.FormatUint(n, 10) + " B"
	}
	return fmtSI(float64(n)) + "B"
}

// fmtShare renders part of whole as a percentage: 43%, <1%, 100%; "-" when
// whole is zero.
func fmtShare(part, whole float64) string {
	if whole <= 0 {
		return "-"
	}
	p := 100 * part / whole
	switch {
	case p <= 0:
		return "0%"
	case p < 1:
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", p)
}

// fmtDuration renders a window length: 42s, 5m12s, 2h03m.
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// sparkBlocks are the sparkline levels, lowest first.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline renders the last w values of history in w cells, right-aligned
// (newest at the right), scaled to the largest value shown. Zero renders as
// a space so quiet periods stand out from slow ones.
func sparkline(history []float64, w int) string {
	if w <= 0 {
		return ""
	}
	if len(history) > w {
		history = history[len(history)-w:]
	}
	var peak float64
	for _, v := range history {
		peak = max(peak, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", w-len(history)))
	for _, v := range history {
		if v <= 0 || peak <= 0 {
			b.WriteByte(' ')
			continue
		}
		i := int(math.Ceil(v/peak*float64(len(sparkBlocks)))) - 1
		b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
	}
	return b.String()
}

// barEighths are the partial blocks of a horizontal bar, one eighth to
// seven eighths of a cell.
var barEighths = []rune("▏▎▍▌▋▊▉")

// bar renders frac (0..1) of w cells as a horizontal bar with eighth-cell
// precision; any non-zero fraction shows at least a sliver.
func bar(frac float64, w int) string {
	if w <= 0 || frac <= 0 || math.IsNaN(frac) {
		return ""
	}
	eighths := int(math.Round(min(frac, 1) * float64(w*8)))
	eighths = max(eighths, 1)
	s := strings.Repeat("█", eighths/8)
	if r := eighths % 8; r > 0 {
		s += string(barEighths[r-1])
	}
	return s
}

// wrap breaks plain text into lines of at most w cells at spaces.
func wrap(text string, w int) []string {
	if w <= 0 {
		return nil
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case cellWidth(line)+1+cellWidth(word) <= w:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	return lines
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }
