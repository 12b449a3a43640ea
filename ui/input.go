package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// lineInput is the one-line text field of the symbol filter. It is a few
// lines of our own rather than bubbles/textinput, which pulls a clipboard
// module into the build for a field that only ever holds a function name.
// It edits at the end of the line: type, backspace, ctrl+w deletes a word,
// ctrl+u the line; pasted text is appended.
type lineInput struct {
	prompt      string
	placeholder string
	limit       int
	value       []rune
}

// SetValue replaces the text.
func (in *lineInput) SetValue(s string) {
	in.value = []rune(s)
	in.trim()
}

// Value returns the text.
func (in lineInput) Value() string { return string(in.value) }

func (in *lineInput) trim() {
	if in.limit > 0 && len(in.value) > in.limit {
		in.value = in.value[:in.limit]
	}
}

// Update edits the text for a key press or paste.
func (in *lineInput) Update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		in.value = append(in.value, []rune(strings.ReplaceAll(msg.Content, "\n", ""))...)
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			if n := len(in.value); n > 0 {
				in.value = in.value[:n-1]
			}
		case "ctrl+u":
			in.value = in.value[:0]
		case "ctrl+w", "alt+backspace":
			s := strings.TrimRight(string(in.value), " ")
			i := strings.LastIndexAny(s, " _.")
			in.value = []rune(s[:max(i, 0)])
		default:
			if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
				in.value = append(in.value, []rune(msg.Text)...)
			}
		}
	}
	in.trim()
}

// View renders the prompt and text with a block cursor, at most w cells,
// keeping the end of the text (where the cursor is) visible.
func (in lineInput) View(st *styles, w int) string {
	prompt := st.strong.Render(in.prompt)
	room := w - ansi.StringWidth(in.prompt) - 1
	if room <= 0 {
		return truncate(prompt, w)
	}
	text := string(in.value)
	if tw := ansi.StringWidth(text); tw > room {
		text = ellipsis + ansi.Cut(text, tw-room+1, tw)
	}
	cursor := st.selected.Render(" ")
	if len(in.value) == 0 && in.placeholder != "" {
		return prompt + cursor + st.muted.Render(truncate(in.placeholder, room-1))
	}
	return prompt + text + cursor
}
