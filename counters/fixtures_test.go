package counters

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Drops the recorder (TestRecord in record_test.go) makes in the receiver
// namespace before recording, so that the fixtures hold distinct, non-zero
// counters.
const (
	recordFrames = 7 // unhandled ethertype: receiver rx_dropped
	recordUDP    = 3 // closed UDP port: UdpNoPorts, ICMP replies
)

// encodeMessages concatenates messages as the kernel sends them, each
// header length fixed to its (aligned) size.
func encodeMessages(t *testing.T, msgs []netlink.Message) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		m.Header.Length = uint32(align4(16 + len(m.Data)))
		m.Data = append(slices.Clone(m.Data), make([]byte, align4(len(m.Data))-len(m.Data))...)
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func align4(n int) int { return (n + 3) &^ 3 }

// editAttrs returns a copy of an RTM_NEWLINK message with its attributes
// passed through fn, which may change one or drop it (keep false).
func editAttrs(t *testing.T, m netlink.Message, fn func(netlink.Attribute) (netlink.Attribute, bool)) netlink.Message {
	t.Helper()
	attrs, err := netlink.UnmarshalAttributes(m.Data[unix.SizeofIfInfomsg:])
	if err != nil {
		t.Fatal(err)
	}
	var kept []netlink.Attribute
	for _, a := range attrs {
		if a, keep := fn(a); keep {
			a.Length = 0 // recomputed by MarshalAttributes
			kept = append(kept, a)
		}
	}
	b, err := netlink.MarshalAttributes(kept)
	if err != nil {
		t.Fatal(err)
	}
	m.Data = append(slices.Clone(m.Data[:unix.SizeofIfInfomsg]), b...)
	return m
}

func writeFixture(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readMessages splits a fixture into netlink messages.
func readMessages(t *testing.T, name string) []netlink.Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []netlink.Message
	for len(b) > 0 {
		if len(b) < 16 {
			t.Fatalf("%s: %d trailing bytes", name, len(b))
		}
		n := align4(int(binary.NativeEndian.Uint32(b)))
		if n < 16 || n > len(b) {
			t.Fatalf("%s: message length %d with %d bytes left", name, n, len(b))
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:n]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msgs = append(msgs, m)
		b = b[n:]
	}
	return msgs
}
