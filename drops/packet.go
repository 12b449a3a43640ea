package drops

import (
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Packet is a sampled drop decoded for people: who sent what to whom.
type Packet struct {
	Time      time.Time `json:"time"`
	CPU       uint32    `json:"cpu"`
	Interface string    `json:"interface,omitempty"`
	// Len is the skb's length in bytes; Captured is how many of its bytes
	// the kernel copied from the network header on.
	Len      uint32 `json:"len"`
	Captured int    `json:"captured"`
	L3       string `json:"l3"`
	L4       string `json:"l4,omitempty"`
	Src      string `json:"src,omitempty"`
	Dst      string `json:"dst,omitempty"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	DstPort  uint16 `json:"dst_port,omitempty"`
	TCPFlags string `json:"tcp_flags,omitempty"`
	// Info is a short protocol-specific description (ICMP type, ARP
	// operation), "" when there is nothing more to say.
	Info string `json:"info,omitempty"`
	// Data are the captured bytes, from the network header on (pcap-ng
	// files are written from them).
	Data []byte `json:"-"`
}

// DecodePacket decodes a sample's bytes, which start at the network header,
// according to its ethertype. Bytes it cannot decode are left out; it never
// fails.
func DecodePacket(s Sample) Packet {
	p := Packet{
		Time:      s.Time,
		CPU:       s.CPU,
		Interface: s.Ifname,
		Len:       s.Len,
		Captured:  len(s.Data),
		Data:      s.Data,
		L3:        L3Name(s.L3),
		L4:        L4Name(s.L4),
	}
	var first gopacket.Decoder
	switch s.L3 {
	case 0x0800:
		first = layers.LayerTypeIPv4
	case 0x86dd:
		first = layers.LayerTypeIPv6
	case 0x0806:
		first = layers.LayerTypeARP
	default:
		return p
	}
	pkt := gopacket.NewPacket(s.Data, first, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			p.Src, p.Dst = l.SrcIP.String(), l.DstIP.String()
		case *layers.IPv6:
			p.Src, p.Dst = l.SrcIP.String(), l.DstIP.String()
		case *layers.ARP:
			p.Src, p.Dst = net.IP(l.SourceProtAddress).String(), net.IP(l.DstProtAddress).String()
			p.Info = "who-has"
			if l.Operation == layers.ARPReply {
				p.Info = "reply"
			}
		case *layers.TCP:
			p.SrcPort, p.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
			p.TCPFlags = tcpFlags(l)
		case *layers.UDP:
			p.SrcPort, p.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ICMPv4:
			p.Info = l.TypeCode.String()
		case *layers.ICMPv6:
			p.Info = l.TypeCode.String()
		}
	}
	return p
}

func tcpFlags(t *layers.TCP) string {
	var b strings.Builder
	for _, f := range []struct {
		set  bool
		name string
	}{{t.SYN, "S"}, {t.ACK, "."}, {t.FIN, "F"}, {t.RST, "R"}, {t.PSH, "P"}, {t.URG, "U"}, {t.ECE, "E"}, {t.CWR, "W"}} {
		if f.set {
			b.WriteString(f.name)
		}
	}
	return b.String()
}
