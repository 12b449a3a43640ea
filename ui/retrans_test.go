package ui

import (
	"strings"
	"testing"

	"github.com/skbtop/skbtop/drops"
)

// TestRetransmitsPane checks that the retransmits pane is in the tab order
// only while retransmits are traced, that it lists the peers busiest first
// with the kernel's counter under them, and that the header says the loss
// outside the host in drops' own words whatever pane has the focus.
func TestRetransmitsPane(t *testing.T) {
	hs := newHarness(t, &fakeSource{snap: retransSnapshot()}, 80, 24, Options{})
	hs.tick()
	note := drops.OutsideNote("198.18.0.7:6300")
	if v := hs.view(); !strings.Contains(prose(v), "⚠ "+note[:60]) {
		t.Errorf("the header lacks the note %q:\n%s", note, v)
	}
	hs.press("shift+tab")
	v := hs.view()
	rows := siteRows(v, "198.18.0.7:6300", "[2001:db8::9]:443", "10.20.30.40:5432")
	if len(rows) != 3 || rows[0] != "198.18.0.7:6300" || rows[2] != "10.20.30.40:5432" {
		t.Errorf("back-tab from the sites should show the retransmits, busiest first; rows %q:\n%s", rows, v)
	}
	for _, want := range []string{"ESTABLISHED", "FIN_WAIT1", "41234", "1204", "TcpRetransSegs +1431 (traced here 1431)"} {
		if !strings.Contains(v, want) {
			t.Errorf("retransmits pane lacks %q:\n%s", want, v)
		}
	}
	hs.press("tab")
	if !strings.Contains(hs.view(), "DROP SITE") {
		t.Error("tab from the retransmits should cycle back to the sites")
	}

	// Not traced (a kernel without the tracepoint): no such pane, and the
	// focus never lands on one.
	snap := retransSnapshot()
	snap.Retransmits = nil
	hs = newHarness(t, &fakeSource{snap: snap}, 80, 24, Options{})
	hs.tick()
	if v := hs.view(); strings.Contains(v, "Retransmits") || strings.Contains(v, "loss is outside") {
		t.Errorf("retransmits shown though not traced:\n%s", v)
	}
	hs.press("shift+tab")
	if v := hs.view(); !strings.Contains(v, "KERNEL COUNTER") {
		t.Errorf("back-tab from the sites should go to the protocols when retransmits are not traced:\n%s", v)
	}
}
