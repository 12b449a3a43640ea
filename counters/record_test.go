package counters_test

import (
	"encoding/binary"
	"flag"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/internal/netlab"
)

var record = flag.Bool("record", false, "record netlink dumps and /proc/net files from a throw-away namespace into testdata (needs root)")

// TestRecord refreshes the fixtures: go test ./counters -run TestRecord -record.
// It records a real RTM_GETLINK dump of a netlab receiver namespace
// (links-veth.bin) and a real RTM_GETSTATS dump of it (stats-veth.bin),
// with iproute2's view of the same counters in links-veth.ip.json to test
// both decoders against, the namespace's
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
	if err := l.SendFrames(0x88b5, counters.RecordFrames); err != nil {
		t.Fatal(err)
	}
	if err := l.SendUDP(9, counters.RecordUDP, 16); err != nil {
		t.Fatal(err)
	}
	r, err := counters.OpenPath(l.Receiver.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	msgs, err := counters.DumpLinks(r)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := counters.DumpStats(r)
	if err != nil {
		t.Fatal(err)
	}
	// The namespace is quiet (no IPv6, permanent neighbours), so the
	// RTM_GETSTATS dump and iproute2 read the same counters right after.
	ipJSON, err := exec.Command("ip", "-n", l.Receiver.Name, "-s", "-s", "-j", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	counters.WriteFixture(t, "links-veth.bin", counters.EncodeMessages(t, msgs))
	counters.WriteFixture(t, "links-veth.ip.json", ipJSON)
	counters.WriteFixture(t, "stats-veth.bin", counters.EncodeMessages(t, stats))
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
		counters.WriteFixture(t, "proc-"+name, data)
	}

	veth := msgs[slices.IndexFunc(msgs, func(m netlink.Message) bool {
		return m.Header.Type == unix.RTM_NEWLINK && binary.NativeEndian.Uint32(m.Data[4:]) == uint32(l.ReceiverIndex)
	})]
	// Only the 32-bit IFLA_STATS, as a kernel before 2.6.35 sends.
	counters.WriteFixture(t, "links-stats32.bin", counters.EncodeMessages(t, []netlink.Message{
		counters.EditAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
			return a, a.Type != unix.IFLA_STATS64
		}),
	}))
	// IFLA_STATS64 of 184 bytes, as before rx_nohandler (Linux 4.6).
	counters.WriteFixture(t, "links-stats64-184.bin", counters.EncodeMessages(t, []netlink.Message{
		counters.EditAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
			if a.Type == unix.IFLA_STATS64 {
				a.Data = a.Data[:184]
			}
			return a, true
		}),
	}))
	// IFLA_STATS64 too short to hold rx_missed_errors, after a good
	// message: the good one must still decode.
	counters.WriteFixture(t, "links-short-stats.bin", counters.EncodeMessages(t, []netlink.Message{
		msgs[0],
		counters.EditAttrs(t, veth, func(a netlink.Attribute) (netlink.Attribute, bool) {
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
	counters.WriteFixture(t, "links-truncated.bin", counters.EncodeMessages(t, []netlink.Message{cut}))
}
