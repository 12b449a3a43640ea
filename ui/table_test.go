package ui

import "testing"

// TestFitMemo: the same labels in another order, or with rows sharing them
// differently, keep a layout; a label added, gone or changed, or another
// width or flag, does not.
func TestFitMemo(t *testing.T) {
	var m fitMemo
	steps := []struct {
		w      int
		flag   bool
		labels [][]string
		same   bool
	}{
		{80, false, [][]string{{"a", "b", "c"}, {"x"}}, false},
		{80, false, [][]string{{"a", "b", "c"}, {"x"}}, true},
		{80, false, [][]string{{"c", "a", "b"}, {"x"}}, true},
		{80, false, [][]string{{"c", "a", "a", "b"}, {"x", "x"}}, true},
		{80, false, [][]string{{"c", "a"}, {"x"}}, false},
		{80, false, [][]string{{"c", "a"}, {"x"}}, true},
		{80, false, [][]string{{"c", "a", "d"}, {"x"}}, false},
		{80, false, [][]string{{"c", "a", "e"}, {"x"}}, false},
		{80, false, [][]string{{"c", "a", "e"}, {"y"}}, false},
		{80, false, [][]string{{"c", "a", "e"}, {"y"}}, true},
		{81, false, [][]string{{"c", "a", "e"}, {"y"}}, false},
		{81, true, [][]string{{"c", "a", "e"}, {"y"}}, false},
		{81, true, [][]string{{"c", "a", "e"}}, false},
		{81, true, [][]string{{"c", "a", "e"}}, true},
		{81, true, [][]string{{}}, false},
		{81, true, [][]string{{}}, true},
	}
	for i, s := range steps {
		if got := m.same(s.w, s.flag, s.labels...); got != s.same {
			t.Fatalf("step %d (%d %v %q): same = %v, want %v", i, s.w, s.flag, s.labels, got, s.same)
		}
	}
	m.forget()
	if m.same(81, true, []string{}) {
		t.Error("same after forget")
	}
}
