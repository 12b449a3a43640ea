package tracer

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
)

// TestDevicesNamedOnceAndOnRename checks that Read names an interface the
// first time its drops are read, not again (nor reads the names) while its
// name stays, and again once it is renamed: looking each device up, and
// reading the whole map as it does when many interfaces drop at once.
func TestDevicesNamedOnceAndOnRename(t *testing.T) {
	for _, dump := range []bool{false, true} {
		t.Run(map[bool]string{false: "lookups", true: "dump"}[dump], func(t *testing.T) {
			testDevicesNamed(t, dump)
		})
	}
}

func testDevicesNamed(t *testing.T, dump bool) {
	l := kerneltest.NewLink(t)
	tr := openTracer(t, Config{Netns: l.Receiver.Inode})
	if dump {
		tr.dumpAbove = 0
	}
	want := drops.Device{Netns: l.Receiver.Inode, NetnsCookie: cookieOf(t, l.Receiver), Ifindex: uint32(l.ReceiverIndex)}
	// devices sends datagrams to a closed port, reads twice (the first
	// read retires them, the second finds nothing more) and returns the
	// devices named.
	devices := func() []drops.Device {
		t.Helper()
		if err := l.SendUDP(9, 3, 32); err != nil {
			t.Fatal(err)
		}
		var out []drops.Device
		for range 2 {
			r, err := tr.Read()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Devices...)
		}
		return out
	}
	want.Name = l.ReceiverIf
	if got := devices(); len(got) != 1 || got[0] != want {
		t.Errorf("first drops named %+v, want %+v", got, want)
	}
	reads := tr.deviceReads
	if got := devices(); len(got) != 0 {
		t.Errorf("drops again under the same name named %+v, want nothing", got)
	}
	// The program wrote no name for them (the one stored is the same),
	// so the names were not read either.
	if tr.deviceReads != reads {
		t.Errorf("drops again under the same name read the names %d more times, want none", tr.deviceReads-reads)
	}
	want.Name = fmt.Sprintf("%.8s-renamed", l.ReceiverIf)
	for _, args := range [][]string{
		{"-n", l.Receiver.Name, "link", "set", l.ReceiverIf, "down"},
		{"-n", l.Receiver.Name, "link", "set", l.ReceiverIf, "name", want.Name},
		{"-n", l.Receiver.Name, "link", "set", want.Name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if got := devices(); len(got) != 1 || got[0] != want {
		t.Errorf("drops after the rename named %+v, want %+v", got, want)
	}
	if tr.deviceReads == reads {
		t.Error("the rename was found without reading the names")
	}
}

// TestSameName compares names as the program stores them (IFNAMSIZ bytes,
// NUL-padded unless the name fills them) with the names reported.
func TestSameName(t *testing.T) {
	stored := func(s string) []int8 {
		b := make([]int8, 16)
		for i := range min(len(s), len(b)) {
			b[i] = int8(s[i])
		}
		return b
	}
	for _, c := range []struct {
		name, stored string
		same         bool
	}{
		{"eth0", "eth0", true},
		{"eth0", "eth01", false},
		{"eth01", "eth0", false},
		{"eth0", "eth1", false},
		{"", "", true},
		{"", "eth0", false},
		{unnamed, "", false},
		{unnamed, "eth0", false},
		{"abcdefghijklmnop", "abcdefghijklmnop", true}, // 16 bytes, no NUL
		{"abcdefghijklmno", "abcdefghijklmnop", false},
	} {
		if got := sameName(c.name, stored(c.stored)); got != c.same {
			t.Errorf("sameName(%q, stored %q) = %v, want %v", c.name, c.stored, got, c.same)
		}
	}
}
