package netlab

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParsePtype(t *testing.T) {
	f, err := os.Open("testdata/ptype.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parsePtype(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{0x0004, 0x0800, 0x0806, 0x86dd, 0x8847}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("handled = %#x, want %#x", keys, want)
	}
}

func TestParsePtypeBad(t *testing.T) {
	if _, err := parsePtype(strings.NewReader("Type Device Function\nzz ip_rcv\n")); err == nil {
		t.Error("parsePtype accepted a type that is not hex")
	}
}
