package tracer

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// TestUserStories reproduces the problems skbtop's users hunt and checks
// that each shows up as its own site with the exact number of drops. Each
// story runs in its own namespaces and traces all of them, since some drops
// happen on the sending side.
func TestUserStories(t *testing.T) {
	tests := []struct {
		name string
		// functions are the sites the story may show up at, by kernel.
		functions []string
		// reasons likewise; empty accepts any.
		reasons []string
		sender  bool // the drops happen in the sender's namespace
		l3, l4  string
		run     func(t *testing.T, l *netlab.Link) uint64
	}{
		{
			// A multicast group joined on the wrong interface: datagrams
			// arriving on the veth find no membership there.
			name: "multicast joined on the wrong interface", functions: []string{"ip_rcv_finish_core", "ip_rcv_finish", "ip_route_input_mc"},
			l3: "IPv4", l4: "UDP",
			run: func(t *testing.T, l *netlab.Link) uint64 {
				group := netip.MustParseAddr("239.18.0.1")
				member, err := l.Receiver.JoinGroup(group, 5000, "lo")
				if err != nil {
					t.Fatal(err)
				}
				defer member.Close()
				if err := l.SendUDPTo(netip.AddrPortFrom(group, 5000), 17, 32); err != nil {
					t.Fatal(err)
				}
				return 17
			},
		},
		{
			// rx_dropped that is no error: LLDP frames from a switch that
			// nothing on the host listens to.
			name: "LLDP nobody handles", functions: []string{"__netif_receive_skb_core"}, reasons: []string{"UNHANDLED_PROTO"},
			l3: "LLDP", l4: "",
			run: func(t *testing.T, l *netlab.Link) uint64 {
				lldp := net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}
				if err := l.SendRaw(lldp, 0x88cc, []byte{0x02, 0x07, 0x04}, 11); err != nil {
					t.Fatal(err)
				}
				return 11
			},
		},
		{
			// STP BPDUs (802.2 LLC): dropped unhandled in
			// __netif_receive_skb_core, or by the STP code when the kernel
			// has LLC and STP built in but the interface is no bridge port.
			name: "STP BPDUs on a host", functions: []string{"__netif_receive_skb_core", "stp_pdu_rcv", "llc_rcv", "br_stp_rcv"},
			l3: "802.2", l4: "",
			run: func(t *testing.T, l *netlab.Link) uint64 {
				stp := net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}
				// 802.3 length 38, then LLC DSAP/SSAP 0x42 (STP), UI.
				if err := l.SendRaw(stp, 38, []byte{0x42, 0x42, 0x03, 0x00, 0x00, 0x00}, 6); err != nil {
					t.Fatal(err)
				}
				return 6
			},
		},
		{
			// 3-second connects: the queue of packets waiting for an
			// unresolved neighbour overflows. With a zero-byte queue it
			// holds only the newest packet, so each later one pushes out
			// its predecessor.
			name: "ARP queue of an unresolved neighbour", functions: []string{"__neigh_event_send"}, reasons: []string{"NEIGH_QUEUEFULL"},
			sender: true, l3: "IPv4", l4: "UDP",
			run: func(t *testing.T, l *netlab.Link) uint64 {
				if err := l.Sender.Sysctl("net/ipv4/neigh/"+l.SenderIf+"/unres_qlen_bytes", "0"); err != nil {
					t.Fatal(err)
				}
				if err := l.SendUDPTo(netip.MustParseAddrPort("198.18.0.5:9"), 10, 32); err != nil {
					t.Fatal(err)
				}
				return 9
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := kerneltest.NewLink(t)
			tr := openTracer(t, Config{})
			want := tt.run(t, l)
			ns, nsName, ifname := l.Receiver.Inode, l.Receiver.Name, l.ReceiverIf
			if tt.sender {
				ns, nsName, ifname = l.Sender.Inode, l.Sender.Name, l.SenderIf
			}
			snap := snapshot(t, tr)
			var got []drops.Site
			for _, s := range snap.Sites {
				fn, _, _ := strings.Cut(s.Function, ".")
				if s.Netns == ns && s.L3 == tt.l3 && s.L4 == tt.l4 && slices.Contains(tt.functions, fn) &&
					(len(tt.reasons) == 0 || slices.Contains(tt.reasons, s.Reason) || !kerneltest.DropReasons(t) && s.Reason == "") {
					got = append(got, s)
				}
			}
			if len(got) != 1 {
				t.Fatalf("want one site at %s for %s/%s, got %d; sites:%s", strings.Join(tt.functions, " or "), tt.l3, tt.l4, len(got), describe(snap.Sites))
			}
			if s := got[0]; s.Count != want || s.InterfaceLabel() != ifname+"@"+nsName {
				t.Errorf("%s %s on %s: %d drops, want %d on %s@%s", s.Symbol(), s.Reason, s.InterfaceLabel(), s.Count, want, ifname, nsName)
			}
		})
	}
}
