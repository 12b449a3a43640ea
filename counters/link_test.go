package counters

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/drops"
)

// ipLink is the part of iproute2's `ip -s -s -j link show` the decoder is
// checked against.
type ipLink struct {
	Ifindex uint32 `json:"ifindex"`
	Ifname  string `json:"ifname"`
	Stats64 struct {
		RX struct {
			Packets   uint64 `json:"packets"`
			Errors    uint64 `json:"errors"`
			Dropped   uint64 `json:"dropped"`
			FIFO      uint64 `json:"fifo_errors"`
			Missed    uint64 `json:"missed_errors"`
			NoHandler uint64 `json:"nohandler"`
		} `json:"rx"`
		TX struct {
			Packets uint64 `json:"packets"`
			Errors  uint64 `json:"errors"`
			Dropped uint64 `json:"dropped"`
		} `json:"tx"`
	} `json:"stats64"`
}

// wantFromIP returns iproute2's view of the recorded namespace.
func wantFromIP(t *testing.T, stats64 bool) []Link {
	t.Helper()
	b, err := os.ReadFile("testdata/links-veth.ip.json")
	if err != nil {
		t.Fatal(err)
	}
	var ip []ipLink
	if err := json.Unmarshal(b, &ip); err != nil {
		t.Fatal(err)
	}
	var out []Link
	for _, l := range ip {
		s := l.Stats64
		out = append(out, Link{Name: l.Ifname, Index: l.Ifindex, Stats64: stats64, Counters: drops.LinkCountersOf(map[drops.LinkField]uint64{
			drops.RxPackets: s.RX.Packets, drops.TxPackets: s.TX.Packets,
			drops.RxDropped: s.RX.Dropped, drops.TxDropped: s.TX.Dropped,
			drops.RxMissed: s.RX.Missed, drops.RxFIFO: s.RX.FIFO, drops.RxNoHandler: s.RX.NoHandler,
			drops.RxErrors: s.RX.Errors, drops.TxErrors: s.TX.Errors,
		})})
	}
	return out
}

func TestDecodeLinksRecorded(t *testing.T) {
	got, err := DecodeLinks(readMessages(t, "links-veth.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := wantFromIP(t, true)
	// The recorded struct (Linux 6.18) ends with rx_otherhost_dropped,
	// which iproute2 6.1 does not print: nothing was sent to another
	// host's address, so it is 0.
	for i := range want {
		want[i].Counters.Set(drops.RxOtherhostDropped, 0)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeLinks(links-veth.bin) differs from iproute2 (-want +got):\n%s", diff)
	}
	// The recorder made recordFrames unhandled-ethertype drops on the veth:
	// make sure the fixture is the interesting one.
	if len(got) != 2 || got[1].Counters.Get(drops.RxDropped) != recordFrames {
		t.Errorf("fixture: want lo and a veth with rx_dropped %d, got %+v", recordFrames, got)
	}
}

func TestDecodeLinksStats32Fallback(t *testing.T) {
	got, err := DecodeLinks(readMessages(t, "links-stats32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := wantFromIP(t, false)[1:] // the veth only
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeLinks(links-stats32.bin) (-want +got):\n%s", diff)
	}
}

func TestDecodeLinksStats64WithoutNoHandler(t *testing.T) {
	got, err := DecodeLinks(readMessages(t, "links-stats64-184.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := wantFromIP(t, true)[1:]
	// A struct that ends before rx_nohandler: the counter is absent.
	want[0].Counters = without(want[0].Counters, drops.RxNoHandler)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeLinks(links-stats64-184.bin) (-want +got):\n%s", diff)
	}
}

func TestDecodeLinksMalformed(t *testing.T) {
	for _, tc := range []struct {
		file string
		// wantNames are the links that must still decode.
		wantNames []string
	}{
		{"links-short-stats.bin", []string{"lo"}},
		{"links-truncated.bin", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := DecodeLinks(readMessages(t, tc.file))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
			var names []string
			for _, l := range got {
				names = append(names, l.Name)
			}
			if diff := cmp.Diff(tc.wantNames, names); diff != "" {
				t.Errorf("decoded links (-want +got):\n%s", diff)
			}
		})
	}
}

// newLinkMessage builds an RTM_NEWLINK message with the given attributes.
func newLinkMessage(t *testing.T, index uint32, attrs func(ae *netlink.AttributeEncoder)) netlink.Message {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	attrs(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(hdr[4:], index)
	return netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: append(hdr, b...)}
}

// statsStruct returns an n-field stats struct of the given field size whose
// field i holds 1000+i, so that every field is told apart.
func statsStruct(fields, size int) []byte {
	b := make([]byte, fields*size)
	for i := range fields {
		if size == 8 {
			binary.NativeEndian.PutUint64(b[i*8:], uint64(1000+i))
		} else {
			binary.NativeEndian.PutUint32(b[i*4:], uint32(1000+i))
		}
	}
	return b
}

func TestDecodeLinksFieldOffsets(t *testing.T) {
	// Field numbers of struct rtnl_link_stats64 / rtnl_link_stats in
	// include/uapi/linux/if_link.h.
	want := drops.LinkCountersOf(map[drops.LinkField]uint64{
		drops.RxPackets: 1000, drops.TxPackets: 1001, drops.RxErrors: 1004, drops.TxErrors: 1005,
		drops.RxDropped: 1006, drops.TxDropped: 1007, drops.RxFIFO: 1014, drops.RxMissed: 1015, drops.RxNoHandler: 1023,
		drops.RxOtherhostDropped: 1024,
	})
	// Before Linux 6.0 the struct ends at rx_nohandler (24 fields), and
	// rtnl_link_stats never had rx_otherhost_dropped.
	want24 := without(want, drops.RxOtherhostDropped)
	for _, tc := range []struct {
		name    string
		attrs   func(ae *netlink.AttributeEncoder)
		want    drops.LinkCounters
		stats64 bool
	}{
		{"stats64 of 6.18 (25 fields)", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS64, statsStruct(25, 8))
		}, want, true},
		{"stats64 preferred over stats", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS, make([]byte, 24*4))
			ae.Bytes(unix.IFLA_STATS64, statsStruct(24, 8))
		}, want24, true},
		{"stats only", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS, statsStruct(24, 4))
		}, want24, false},
		{"before rx_nohandler", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS64, statsStruct(23, 8))
		}, without(want24, drops.RxNoHandler), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newLinkMessage(t, 42, func(ae *netlink.AttributeEncoder) {
				ae.String(unix.IFLA_IFNAME, "eth9")
				tc.attrs(ae)
			})
			got, err := DecodeLinks([]netlink.Message{m})
			if err != nil {
				t.Fatal(err)
			}
			wantLinks := []Link{{Name: "eth9", Index: 42, Counters: tc.want, Stats64: tc.stats64}}
			if diff := cmp.Diff(wantLinks, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeLinksFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  netlink.Message
	}{
		{"short ifinfomsg", netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: make([]byte, 10)}},
		{"no name", newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS64, statsStruct(25, 8))
		})},
		{"no stats", newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.String(unix.IFLA_IFNAME, "eth0")
		})},
		{"short stats64", newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.String(unix.IFLA_IFNAME, "eth0")
			ae.Bytes(unix.IFLA_STATS64, statsStruct(15, 8))
		})},
		{"short stats", newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.String(unix.IFLA_IFNAME, "eth0")
			ae.Bytes(unix.IFLA_STATS, statsStruct(10, 4))
		})},
		{"attribute longer than message", func() netlink.Message {
			m := newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) { ae.String(unix.IFLA_IFNAME, "eth0") })
			binary.NativeEndian.PutUint16(m.Data[unix.SizeofIfInfomsg:], 200)
			return m
		}()},
		{"attribute header cut", func() netlink.Message {
			m := newLinkMessage(t, 3, func(ae *netlink.AttributeEncoder) { ae.String(unix.IFLA_IFNAME, "eth0") })
			m.Data = append(m.Data, 8, 0)
			return m
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := newLinkMessage(t, 1, func(ae *netlink.AttributeEncoder) {
				ae.String(unix.IFLA_IFNAME, "lo")
				ae.Bytes(unix.IFLA_STATS64, statsStruct(25, 8))
			})
			got, err := DecodeLinks([]netlink.Message{good, tc.msg})
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
			if len(got) != 1 || got[0].Name != "lo" {
				t.Errorf("links = %+v, want the good one only", got)
			}
		})
	}
}

func TestDecodeLinksSkipsOtherTypes(t *testing.T) {
	done := netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: []byte{0, 0, 0, 0}}
	got, err := DecodeLinks([]netlink.Message{done})
	if err != nil || len(got) != 0 {
		t.Errorf("DecodeLinks(done) = %v, %v; want no links, no error", got, err)
	}
}

func FuzzDecodeLinks(f *testing.F) {
	for _, name := range []string{"links-veth.bin", "links-stats32.bin", "links-truncated.bin"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[16:]) // the first message's payload
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		links, err := DecodeLinks([]netlink.Message{{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: data}})
		if err == nil && len(links) != 1 {
			t.Errorf("no error but %d links", len(links))
		}
	})
}

// without returns c with field f absent.
func without(c drops.LinkCounters, f drops.LinkField) drops.LinkCounters {
	var out drops.LinkCounters
	for g := range drops.NumLinkFields {
		if g != f && c.Has(g) {
			out.Set(g, c.Get(g))
		}
	}
	return out
}

// TestStatIndexDistinct guards the offsets table: a counter added to
// drops.LinkFields without its own index here would read rx_packets.
func TestStatIndexDistinct(t *testing.T) {
	seen := map[int]drops.LinkField{}
	for f := range drops.NumLinkFields {
		i := statIndex[f]
		if g, ok := seen[i]; ok {
			t.Errorf("%s and %s both read field %d of rtnl_link_stats64", g, f, i)
		}
		seen[i] = f
	}
}

func TestDecodeStatsRecorded(t *testing.T) {
	got, err := DecodeStats(readMessages(t, "stats-veth.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// The dump was made between the RTM_GETLINK dump and iproute2's, in a
	// quiet namespace: the same counters, without names.
	var want []LinkStats
	for _, l := range wantFromIP(t, true) {
		// As in TestDecodeLinksRecorded: iproute2 6.1 does not print
		// rx_otherhost_dropped, which is 0.
		l.Counters.Set(drops.RxOtherhostDropped, 0)
		want = append(want, LinkStats{Index: l.Index, Counters: l.Counters})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeStats(stats-veth.bin) differs from iproute2 (-want +got):\n%s", diff)
	}
	if len(got) != 2 || got[1].Counters.Get(drops.RxDropped) != recordFrames {
		t.Errorf("fixture: want lo and a veth with rx_dropped %d, got %+v", recordFrames, got)
	}
	links, err := DecodeLinks(readMessages(t, "links-veth.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range links {
		if i < len(got) && (got[i].Index != l.Index || !got[i].Counters.Equal(l.Counters)) {
			t.Errorf("stats %+v differ from the RTM_GETLINK dump's %+v", got[i], l)
		}
	}
}

// newStatsMessage builds an RTM_NEWSTATS message with the given attributes.
func newStatsMessage(t *testing.T, index uint32, attrs func(ae *netlink.AttributeEncoder)) netlink.Message {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	attrs(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, sizeofIfStatsMsg)
	binary.NativeEndian.PutUint32(hdr[4:], index)
	binary.NativeEndian.PutUint32(hdr[8:], statsFilterLink64)
	return netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWSTATS}, Data: append(hdr, b...)}
}

func TestDecodeStatsFieldOffsets(t *testing.T) {
	// The same struct rtnl_link_stats64 as IFLA_STATS64: field i holds
	// 1000+i (statsStruct), so a wrong offset shows as a wrong number.
	want := drops.LinkCountersOf(map[drops.LinkField]uint64{
		drops.RxPackets: 1000, drops.TxPackets: 1001, drops.RxErrors: 1004, drops.TxErrors: 1005,
		drops.RxDropped: 1006, drops.TxDropped: 1007, drops.RxFIFO: 1014, drops.RxMissed: 1015, drops.RxNoHandler: 1023,
		drops.RxOtherhostDropped: 1024,
	})
	want24 := without(want, drops.RxOtherhostDropped)
	for _, tc := range []struct {
		name  string
		attrs func(ae *netlink.AttributeEncoder)
		want  drops.LinkCounters
	}{
		{"6.18 (25 fields)", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
		}, want},
		{"before rx_otherhost_dropped (24 fields)", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(24, 8))
		}, want24},
		{"before rx_nohandler (23 fields)", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(23, 8))
		}, without(want24, drops.RxNoHandler)},
		{"other attributes around it", func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_XSTATS, make([]byte, 16))
			ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
			ae.Bytes(unix.IFLA_STATS_AF_SPEC, make([]byte, 8))
		}, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeStats([]netlink.Message{newStatsMessage(t, 42, tc.attrs)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]LinkStats{{Index: 42, Counters: tc.want}}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStatsFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  netlink.Message
	}{
		{"short if_stats_msg", netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWSTATS}, Data: make([]byte, sizeofIfStatsMsg-1)}},
		{"no IFLA_STATS_LINK_64", newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_XSTATS, make([]byte, 16))
		})},
		{"no attributes", newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {})},
		{"struct without rx_missed_errors", newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(15, 8))
		})},
		{"attribute longer than message", func() netlink.Message {
			m := newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {
				ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
			})
			binary.NativeEndian.PutUint16(m.Data[sizeofIfStatsMsg:], 300)
			return m
		}()},
		{"attribute header cut", func() netlink.Message {
			m := newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {
				ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
			})
			m.Data = append(m.Data, 8, 0)
			return m
		}()},
		{"message cut inside the struct", func() netlink.Message {
			m := newStatsMessage(t, 3, func(ae *netlink.AttributeEncoder) {
				ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
			})
			m.Data = m.Data[:sizeofIfStatsMsg+100]
			return m
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := newStatsMessage(t, 1, func(ae *netlink.AttributeEncoder) {
				ae.Bytes(unix.IFLA_STATS_LINK_64, statsStruct(25, 8))
			})
			got, err := DecodeStats([]netlink.Message{good, tc.msg})
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
			if len(got) != 1 || got[0].Index != 1 {
				t.Errorf("stats = %+v, want the good one only", got)
			}
		})
	}
}

func TestDecodeStatsSkipsOtherTypes(t *testing.T) {
	done := netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: []byte{0, 0, 0, 0}}
	// An RTM_NEWLINK message is not read as stats even though its
	// ifinfomsg is long enough.
	link := newLinkMessage(t, 1, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.IFLA_IFNAME, "lo")
		ae.Bytes(unix.IFLA_STATS64, statsStruct(25, 8))
	})
	got, err := DecodeStats([]netlink.Message{link, done})
	if err != nil || len(got) != 0 {
		t.Errorf("DecodeStats(newlink, done) = %v, %v; want no stats, no error", got, err)
	}
}

func FuzzDecodeStats(f *testing.F) {
	b, err := os.ReadFile("testdata/stats-veth.bin")
	if err != nil {
		f.Fatal(err)
	}
	n := binary.NativeEndian.Uint32(b)
	f.Add(b[16:n])       // the first message's payload
	f.Add(b[16 : n/2])   // cut in the struct
	f.Add(b[16 : 16+14]) // cut in the attribute header
	f.Fuzz(func(t *testing.T, data []byte) {
		stats, err := DecodeStats([]netlink.Message{{Header: netlink.Header{Type: unix.RTM_NEWSTATS}, Data: data}})
		if err == nil && len(stats) != 1 {
			t.Errorf("no error but %d stats", len(stats))
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v does not wrap ErrMalformed", err)
		}
	})
}
