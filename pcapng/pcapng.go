// Package pcapng writes sampled drops as pcap-ng files that Wireshark and
// tcpdump open as they are: each packet from its network header on, as raw
// IP (see LinkType), with its capture time, an
// interface block per interface named as skbtop names it, and a comment
// saying where and why the kernel dropped it. The blocks are written by
// gopacket's pcapgo; this package decides what goes in them.
package pcapng

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skbtop/skbtop/drops"
)

// LinkType returns the link type of a file's interfaces, all alike: the
// packets start at their network header, so there is no link-layer header
// to write. Files of IPv4 packets alone are LINKTYPE_IPV4 (228), of IPv6
// alone LINKTYPE_IPV6 (229), of both LINKTYPE_RAW (101, the version read
// from each packet's first nibble). Not always RAW: libpcap up to at least
// 1.10.3 (tcpdump on Debian 12) maps the first interface's 101 to its
// DLT_RAW, 12, then refuses the second interface's 101 as "a type different
// from the type of the first interface", so a RAW file of two interfaces
// cannot be read there; 228 and 229 map to themselves. A row of the drop
// sites is one protocol, so only a file of several sites mixes them.
// libpcap reads one link type per file in any case.
func LinkType(pkts []Packet) layers.LinkType {
	var v4, v6 bool
	for _, p := range pkts {
		v4 = v4 || p.L3 == "IPv4"
		v6 = v6 || p.L3 == "IPv6"
	}
	switch {
	case v4 && v6:
		return layers.LinkTypeRaw
	case v6:
		return layers.LinkTypeIPv6
	}
	return layers.LinkTypeIPv4
}

// Packet is one sampled packet with what the file says about it.
type Packet struct {
	drops.Packet
	// Interface names the interface as skbtop does (eth0, veth1@web):
	// the name of the packet's interface block.
	Interface string
	// Comment says where and why the kernel dropped it.
	Comment string
}

// File is what one pcap-ng file holds.
type File struct {
	// Comment is the section header's comment: what the packets are a
	// sample of, with how many drops there were and how many were
	// sampled.
	Comment string
	// OS names the system in the section header (Linux and its release).
	OS      string
	Packets []Packet
}

// Writable says whether a packet can be written as raw IP: an IPv4 or IPv6
// header at its start. Samples of other protocols (ARP, LLDP, ...) have no
// link type without a link-layer header, which the kernel did not copy.
func Writable(p drops.Packet) bool {
	if len(p.Data) == 0 {
		return false
	}
	v := p.Data[0] >> 4
	return (v == 4 && p.L3 == "IPv4") || (v == 6 && p.L3 == "IPv6")
}

// Write writes f to w and returns how many packets it wrote; the others
// were not IP (see Writable), which the section comment then says.
func Write(w io.Writer, f File) (written int, err error) {
	var ok []Packet
	for _, p := range f.Packets {
		if Writable(p.Packet) {
			ok = append(ok, p)
		}
	}
	comment := f.Comment
	if n := len(f.Packets) - len(ok); n > 0 {
		comment += fmt.Sprintf("\n%d sampled packets are left out: not IP, so no link type fits them without the link-layer header the kernel did not copy.", n)
	}
	ifaces := map[string]int{}
	var names []string
	for _, p := range ok {
		if _, seen := ifaces[p.Interface]; !seen {
			ifaces[p.Interface] = len(names)
			names = append(names, p.Interface)
		}
	}
	if len(names) == 0 {
		// A section needs no interface, but pcapgo writes one.
		names = []string{"none"}
	}
	lt := LinkType(ok)
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "skbtop", OS: f.OS, Comment: comment}}
	nw, err := pcapgo.NewNgWriterInterface(w, iface(names[0], lt), opts)
	if err != nil {
		return 0, err
	}
	for _, name := range names[1:] {
		if _, err := nw.AddInterface(iface(name, lt)); err != nil {
			return 0, err
		}
	}
	for _, p := range ok {
		// The packet's length on the wire is skb->len, counted from
		// the network header where the kernel dropped it: what raw IP
		// frames are; never less than what was captured.
		length := max(int(p.Len), len(p.Data))
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: length, InterfaceIndex: ifaces[p.Interface]}
		if err := nw.WritePacketWithOptions(ci, p.Data, pcapgo.NgPacketOptions{Comments: []string{p.Comment}}); err != nil {
			return written, err
		}
		written++
	}
	return written, nw.Flush()
}

func iface(name string, lt layers.LinkType) pcapgo.NgInterface {
	return pcapgo.NgInterface{Name: name, LinkType: lt, SnapLength: 0}
}

// DropComment says where and why a site's packets were dropped, for the
// comment of each: the site, its reason and its namespace (by name where
// it has one).
func DropComment(s drops.Site, snap drops.Snapshot) string {
	var b strings.Builder
	b.WriteString("dropped at ")
	b.WriteString(s.Symbol())
	b.WriteString(", reason ")
	b.WriteString(drops.OrDash(s.ReasonLabel()))
	if s.Netns != 0 {
		b.WriteString(", netns ")
		b.WriteString(strconv.FormatUint(uint64(s.Netns), 10))
		switch {
		case s.Namespace != "":
			b.WriteString(" (" + s.Namespace + ")")
		case snap.Namespace != nil:
			b.WriteString(" (" + snap.Namespace.Label() + ")")
		}
	}
	return b.String()
}

// siteLine is one site's line of a section comment: how many drops it had
// and how many of them were sampled.
func siteLine(s drops.Site, written int) string {
	return fmt.Sprintf("%s %s on %s: %d drops, %d sampled, %d in this file", s.Symbol(), drops.OrDash(s.Reason),
		drops.OrDash(s.InterfacesLabel()), s.Count, s.Sampled, written)
}

// packets turns a site's samples into the file's packets.
func packets(s drops.Site, samples []drops.Packet, snap drops.Snapshot) []Packet {
	comment := DropComment(s, snap)
	out := make([]Packet, 0, len(samples))
	for _, p := range samples {
		name := s.InterfaceLabel()
		if name == "" || s.Ifaces > 1 {
			// A row over several interfaces: the packet's own.
			name = p.Interface
		}
		out = append(out, Packet{Packet: p, Interface: name, Comment: comment})
	}
	return out
}

// Row is the file of one row of the drop sites, with the samples the row
// keeps (the last drops.SamplesPerSite).
func Row(s drops.Site, snap drops.Snapshot) File {
	return File{
		Comment: fmt.Sprintf("skbtop on %s: the sampled drops of one row over a %.1fs window (%s)\n%s\nskbtop keeps the last %d samples of a row.",
			snap.Host, snap.WindowS, snap.Time.Format(time.RFC3339), siteLine(s, len(s.Samples)), drops.SamplesPerSite),
		OS:      "Linux " + snap.Kernel,
		Packets: packets(s, s.Samples, snap),
	}
}

// Window is the file of every sample of the snapshot's sites (filtered
// and hidden as shown): samples holds them by kernel key, in the order
// they came; samples of keys not among the sites are left out. lost
// counts samples that were not kept (see Collector).
func Window(snap drops.Snapshot, samples map[drops.Key][]drops.Packet, lost uint64) File {
	var b strings.Builder
	fmt.Fprintf(&b, "skbtop on %s: every drop sampled over a %.1fs window (%s)", snap.Host, snap.WindowS, snap.Time.Format(time.RFC3339))
	if !snap.Filter.IsZero() {
		fmt.Fprintf(&b, ", filter %s", snap.Filter)
	}
	if snap.Namespace != nil {
		fmt.Fprintf(&b, ", netns %s", snap.Namespace.Label())
	}
	var total, sampled uint64
	var lines []string
	var pkts []Packet
	for _, s := range snap.Sites {
		list := samples[s.Key]
		total += s.Count
		sampled += s.Sampled
		lines = append(lines, siteLine(s, len(list)))
		pkts = append(pkts, packets(s, list, snap)...)
	}
	// In the order they came, as a capture would have them.
	slices.SortStableFunc(pkts, func(a, b Packet) int { return a.Time.Compare(b.Time) })
	fmt.Fprintf(&b, "\n%d drops at %d sites, %d sampled, %d in this file", total, len(snap.Sites), sampled, len(pkts))
	if lost > 0 {
		fmt.Fprintf(&b, "; %d samples not kept (skbtop keeps at most %d)", lost, MaxPackets)
	}
	for _, l := range lines {
		b.WriteString("\n" + l)
	}
	return File{Comment: b.String(), OS: "Linux " + snap.Kernel, Packets: pkts}
}

// MaxPackets bounds the samples a headless run keeps for its file: at the
// default rate two CPUs sample 128 drops a second, so this is over eight
// minutes of them.
const MaxPackets = 1 << 16

// WriteFile writes f to path atomically, readable by its owner alone (it
// holds addresses and ports of real traffic): to a temporary file beside
// it, synced, then renamed over path. It returns how many packets it wrote.
func WriteFile(path string, f File) (written int, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+"-*.tmp")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if written, err = Write(tmp, f); err != nil {
		return 0, err
	}
	if err = tmp.Sync(); err != nil {
		return 0, err
	}
	if err = tmp.Close(); err != nil {
		return 0, err
	}
	return written, os.Rename(tmp.Name(), path)
}

// CheckWritable makes sure a file can be created at path, before a run
// that would write it at its end: it creates a temporary file beside it
// and removes it.
func CheckWritable(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	tmp, err := os.CreateTemp(dir, "."+base+"-*.tmp")
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// FreeName returns a path in dir for a row's file, skbtop-YYYYMMDD-HHMMSS-
// FUNCTION.pcapng after now, or with -N after the time when that is taken.
func FreeName(dir string, now time.Time, function string) (string, error) {
	if dir == "" {
		dir = "."
	}
	fn := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '[' || r == ']' {
			return '_'
		}
		return r
	}, function)
	if fn == "" {
		fn = "row"
	}
	base := "skbtop-" + now.Format(drops.FileTimeFormat)
	for n := 1; n < 1000; n++ {
		name := base + "-" + fn + ".pcapng"
		if n > 1 {
			name = base + "-" + strconv.Itoa(n) + "-" + fn + ".pcapng"
		}
		path := filepath.Join(dir, name)
		_, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("too many files named %s*.pcapng in %s", base, dir)
}
