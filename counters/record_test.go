package counters

import (
	"encoding/binary"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/internal/netlab"
)

var record = flag.Bool("record", false, "record netlink dumps and /proc/net files from a throw-away namespace into testdata (needs root)")

// Drops the recorder makes in the receiver namespace before recording, so
// that the fixtures hold distinct, non-zero counters.
const (
	recordFrames = 7 // unhandled ethertype: receiver rx_dropped
	recordUDP    = 3 // closed UDP port: UdpNoPorts, ICMP replies
)

// TestRecord refreshes the fixtures: go test ./counters -run TestRecord -record.
// It records a real RTM_GETLINK dump of a netlab receiver namespace
// (links-veth.bin, with iproute2's view of the same counters in
// links-veth.ip.json to test the decoder against), the namespace's
// /proc/net files, and messages derived from the real one for the fallback
// and fault cases.
func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("fixtures are refreshed with -record")
	}
	l, err := netlab.NewLink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.SendFrames(0x88b5, recordFrames); err != nil {
		t.Fatal(err)
	}
	if err := l.SendUDP(9, recordUDP, 16); err != nil {
		t.Fatal(err)
	}
	r, err := Open(l.Receiver.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	msgs, err := r.dumpLinks()
	if err != nil {
		t.Fatal(err)
	}
	// The namespace is quiet (no IPv6, permanent neighbours), so iproute2
	// reads the same counters right after.
	ipJSON, err := exec.Command("ip", "-n", l.Receiver.Name, "-s", "-s", "-j", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, "links-veth.bin", encodeMessages(t, msgs))
	writeFixture(t, "links-veth.ip.json", ipJSON)
	for _, name := range []string{"snmp", "netstat", "snmp6"} {
		var data []byte
		err := l.Receiver.Do(func() error {
			var err error
			data, err = os.ReadFile("/proc/thread-self/net/" + name)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		writeFixture(t, "proc-"+name, data)
	}

	veth := msgs[slices.IndexFunc(msgs, func(m netlink.Message) bool {
		return m.Header.Type == unix.RTM_NEWLINK && binary.NativeEndian.Uint32(m.Data[4:]) == uint32(l.ReceiverIndex)
	})]
	// Only the 32-bit IFLA_STATS, as a kernel before 2.6.35 sends.
	writeFixture(t, "links-stats32.bin", encodeMessages(t, []netlink.Message{
		editAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
			return a, a.Type != unix.IFLA_STATS64
		}),
	}))
	// IFLA_STATS64 of 184 bytes, as before rx_nohandler (Linux 4.6).
	writeFixture(t, "links-stats64-184.bin", encodeMessages(t, []netlink.Message{
		editAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
			if a.Type == unix.IFLA_STATS64 {
				a.Data = a.Data[:184]
			}
			return a, true
		}),
	}))
	// IFLA_STATS64 too short to hold rx_missed_errors, after a good
	// message: the good one must still decode.
	writeFixture(t, "links-short-stats.bin", encodeMessages(t, []netlink.Message{
		msgs[0],
		editAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
			if a.Type == unix.IFLA_STATS64 {
				a.Data = a.Data[:100]
			}
			return a, a.Type != unix.IFLA_STATS
		}),
	}))
	// The message cut in the middle of an attribute, its header length
	// adjusted so that only the attributes are broken.
	cut := veth
	cut.Data = slices.Clone(veth.Data[:len(veth.Data)/2+1])
	writeFixture(t, "links-truncated.bin", encodeMessages(t, []netlink.Message{cut}))
}

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
