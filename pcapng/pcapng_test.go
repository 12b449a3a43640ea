package pcapng

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skbtop/skbtop/drops"
	"github.com/skbtop/skbtop/internal/kerneltest"
)

// udpBytes builds a UDP datagram from its network header on, as the kernel
// program copies it.
func udpBytes(t *testing.T, v6 bool, src, dst string, sport, dport uint16, payload int) []byte {
	t.Helper()
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	var ip gopacket.SerializableLayer
	if v6 {
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		udp.SetNetworkLayerForChecksum(l)
		ip = l
	} else {
		l := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
		udp.SetNetworkLayerForChecksum(l)
		ip = l
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(make([]byte, payload))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWrite writes IPv4 and IPv6 datagrams on two interfaces and an ARP
// packet: pcapgo reads back each IP packet with its time, lengths, comment
// and interface block (raw IP), the ARP packet is left out and the section
// comment says so.
func TestWrite(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC)
	v4 := udpBytes(t, false, "198.18.0.1", "198.18.0.2", 40000, 7600, 16)
	v6 := udpBytes(t, true, "2001:db8::1", "2001:db8::2", 40001, 7601, 16)
	f := File{
		Comment: "three datagrams",
		OS:      "Linux 6.18",
		Packets: []Packet{
			{Packet: drops.Packet{Time: t0, L3: "IPv4", Len: uint32(len(v4)), Data: v4}, Interface: "eth0", Comment: "first"},
			// Captured short: the original length stays.
			{Packet: drops.Packet{Time: t0.Add(time.Millisecond), L3: "IPv4", Len: 1500, Data: v4}, Interface: "eth0", Comment: "second"},
			{Packet: drops.Packet{Time: t0.Add(2 * time.Millisecond), L3: "IPv6", Len: uint32(len(v6)), Data: v6}, Interface: "veth1@web", Comment: "third"},
			{Packet: drops.Packet{Time: t0, L3: "ARP", Len: 28, Data: make([]byte, 28)}, Interface: "eth0", Comment: "arp"},
		},
	}
	var buf bytes.Buffer
	n, err := Write(&buf, f)
	if err != nil || n != 3 {
		t.Fatalf("Write = %d, %v; want 3 packets", n, err)
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ts       time.Time
		iface    string
		cap, len int
		comment  string
	}{
		{t0, "eth0", len(v4), len(v4), "first"},
		{t0.Add(time.Millisecond), "eth0", len(v4), 1500, "second"},
		{t0.Add(2 * time.Millisecond), "veth1@web", len(v6), len(v6), "third"},
	}
	for i, w := range want {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		ifc, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		// IPv4 and IPv6: raw IP.
		if !ci.Timestamp.Equal(w.ts) || ifc.Name != w.iface || ifc.LinkType != layers.LinkTypeRaw || ci.CaptureLength != w.cap ||
			ci.Length != w.len || len(data) != w.cap || len(opts.Comments) != 1 || opts.Comments[0] != w.comment {
			t.Errorf("packet %d: %v on %q (%v), %d of %d bytes, comments %q; want %v on %q (RAW), %d of %d, %q",
				i, ci.Timestamp, ifc.Name, ifc.LinkType, ci.CaptureLength, ci.Length, opts.Comments, w.ts, w.iface, w.cap, w.len, w.comment)
		}
	}
	if _, _, err := r.ReadPacketData(); err == nil {
		t.Error("more packets than the three IP ones")
	}
	info := r.SectionInfo()
	if info.Application != "skbtop" || info.OS != "Linux 6.18" ||
		info.Comment != "three datagrams\n1 sampled packets are left out: not IP, so no link type fits them without the link-layer header the kernel did not copy." {
		t.Errorf("section %+v", info)
	}

}

// TestTcpdumpReads writes files of two interfaces as skbtop does, IPv4
// alone and IPv6 alone, and tcpdump lists their datagrams; a file of both,
// which is LINKTYPE_RAW, it reads when it has one interface (see LinkType
// for the libpcap that cannot read RAW with two).
func TestTcpdumpReads(t *testing.T) {
	kerneltest.NeedTool(t, "tcpdump")
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	v4 := udpBytes(t, false, "198.18.0.1", "198.18.0.2", 40000, 7600, 16)
	v6 := udpBytes(t, true, "2001:db8::1", "2001:db8::2", 40001, 7601, 16)
	p4 := drops.Packet{Time: t0, L3: "IPv4", Len: uint32(len(v4)), Data: v4}
	p6 := drops.Packet{Time: t0, L3: "IPv6", Len: uint32(len(v6)), Data: v6}
	line4 := "IP 198.18.0.1.40000 > 198.18.0.2.7600: UDP, length 16"
	line6 := "IP6 2001:db8::1.40001 > 2001:db8::2.7601: UDP, length 16"
	for _, tc := range []struct {
		name     string
		pkts     []Packet
		linkType string
		lines    []string
	}{
		{"ipv4", []Packet{{Packet: p4, Interface: "eth0"}, {Packet: p4, Interface: "veth1@web"}}, "IPV4 (Raw IPv4)", []string{line4, line4}},
		{"ipv6", []Packet{{Packet: p6, Interface: "eth0"}, {Packet: p6, Interface: "veth1@web"}}, "IPV6 (Raw IPv6)", []string{line6, line6}},
		{"both", []Packet{{Packet: p4, Interface: "eth0"}, {Packet: p6, Interface: "eth0"}}, "RAW (Raw IP)", []string{line4, line6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.pcapng")
			if _, err := WriteFile(path, File{Packets: tc.pkts}); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("tcpdump", "-n", "-r", path).CombinedOutput()
			if err != nil {
				t.Fatalf("tcpdump: %v\n%s", err, out)
			}
			var got []string
			for line := range strings.Lines(string(out)) {
				if _, rest, ok := strings.Cut(strings.TrimSpace(line), " "); ok && !strings.HasPrefix(line, "reading") {
					got = append(got, rest)
				}
			}
			if !strings.Contains(string(out), "link-type "+tc.linkType) || strings.Join(got, "\n") != strings.Join(tc.lines, "\n") {
				t.Errorf("tcpdump:\n%s\nwant link-type %s and %q", out, tc.linkType, tc.lines)
			}
		})
	}
}

// TestRow makes a row's file: its packets carry the row's interface label
// and drop comment, and the section comment its counts.
func TestRow(t *testing.T) {
	v4 := udpBytes(t, false, "198.18.0.1", "198.18.0.2", 40000, 7600, 16)
	site := drops.Site{Function: "__udp4_lib_rcv", Offset: "0x4bc", Reason: "NO_SOCKET", Interface: "veth1", Namespace: "web", Netns: 4026532245,
		Count: 1356, Sampled: 64, Samples: []drops.Packet{{L3: "IPv4", Interface: "veth1", Data: v4, Len: uint32(len(v4))}}}
	snap := drops.Snapshot{Host: "vm", Kernel: "6.18", WindowS: 12, Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	f := Row(site, snap)
	if len(f.Packets) != 1 || f.Packets[0].Interface != "veth1@web" ||
		f.Packets[0].Comment != "dropped at __udp4_lib_rcv+0x4bc, reason NO_SOCKET, netns 4026532245 (web)" {
		t.Errorf("packets %+v", f.Packets)
	}
	if want := "__udp4_lib_rcv+0x4bc NO_SOCKET on veth1@web: 1356 drops, 64 sampled, 1 in this file"; !strings.Contains(f.Comment, want) {
		t.Errorf("comment %q lacks %q", f.Comment, want)
	}
}

// TestWriteFile writes a file: private, and in the name FreeName gives,
// which does not take a name already there.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 9, 26, 52, 0, time.UTC)
	path, err := FreeName(dir, now, "__udp4_lib_rcv")
	if err != nil || path != filepath.Join(dir, "skbtop-20261123-092652-__udp4_lib_rcv.pcapng") {
		t.Fatalf("FreeName = %q, %v", path, err)
	}
	if _, err := WriteFile(path, File{Comment: "empty"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", path, fi.Mode(), err)
	}
	if next, err := FreeName(dir, now, "__udp4_lib_rcv"); err != nil || next != filepath.Join(dir, "skbtop-20261123-092652-2-__udp4_lib_rcv.pcapng") {
		t.Errorf("second FreeName = %q, %v", next, err)
	}
	if _, err := WriteFile(filepath.Join(dir, "no", "such", "dir.pcapng"), File{}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
