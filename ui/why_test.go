package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skbtop/skbtop/drops"
)

// stackSource is the fixture source with stacks to give: what 't' shows.
type stackSource struct {
	*fakeSource
	rep   drops.StackReport
	asked []drops.Site
}

func (s *stackSource) Stacks(_ context.Context, site drops.Site, d time.Duration) (drops.StackReport, error) {
	s.asked = append(s.asked, site)
	return s.rep, nil
}

// TestStacksKey opens a site's detail and presses t: the source is asked
// for that site's stacks, and the detail lists them, most frequent first,
// with the drops whose stack was not counted; a source that cannot collect
// stacks says so.
func TestStacksKey(t *testing.T) {
	hs := newHarness(t, fixtureSource(), 120, 40, Options{})
	hs.tick()
	hs.press("enter", "t")
	if v := hs.view(); !strings.Contains(v, "kernel stacks cannot be collected here") {
		t.Errorf("without a stack source, t should say so:\n%s", v)
	}

	src := &stackSource{fakeSource: fixtureSource()}
	key := src.snap.Sites[0].Key
	src.rep = drops.StackReport{
		Stacks: map[drops.Key][]drops.KernelStack{key: {
			{Count: 40, Frames: []string{"sk_skb_reason_drop+0x90", "__udp4_lib_rcv+0x3f2", "ip_local_deliver_finish+0x81"}},
			{Count: 2, Frames: []string{"sk_skb_reason_drop+0x90", "__udp4_lib_rcv+0x3f2", "udp_rcv+0x1d"}},
		}},
		Trace: drops.StackTrace{Request: "__udp4_lib_rcv+0x3f2", Seconds: 3, Recorded: 42, StackFailures: drops.StackFailures{Collisions: 1}},
	}
	hs = newHarness(t, src.fakeSource, 120, 40, Options{})
	hs.m.src = src
	hs.tick()
	hs.press("enter", "t")
	if len(src.asked) != 1 || src.asked[0].Key != key {
		t.Fatalf("t asked for %v, want the site in the detail", src.asked)
	}
	var trimmed []string
	for _, l := range strings.Split(hs.view(), "\n") {
		trimmed = append(trimmed, strings.TrimRight(l, " "))
	}
	v := strings.Join(trimmed, "\n")
	for _, want := range []string{
		"Kernel stacks · 42 drops over 3.0s, 2 distinct · 1 not counted: 0 over the rate limit, 1 collisions",
		"      40  sk_skb_reason_drop+0x90\n          __udp4_lib_rcv+0x3f2\n          ip_local_deliver_finish+0x81",
		"       2  sk_skb_reason_drop+0x90",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("the detail lacks %q:\n%s", want, v)
		}
	}
	// Another site's detail does not show them.
	hs.press("down")
	if v := hs.view(); strings.Contains(v, "Kernel stacks") {
		t.Errorf("stacks shown under another site:\n%s", v)
	}
}

// ipv4UDP is a UDP datagram from its IPv4 header on, as the kernel copies
// it: 10.0.0.53:53 to 10.0.0.12:port, no payload.
func ipv4UDP(port uint16) []byte {
	return []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 53, 10, 0, 0, 12,
		0, 53, byte(port >> 8), byte(port), 0, 8, 0, 0}
}

// TestPcapKey writes the selected row's samples with w, in the list and in
// the detail: a private pcap-ng file beside the snapshots, each packet
// commented with its site; a row without samples writes nothing.
func TestPcapKey(t *testing.T) {
	dir := t.TempDir()
	src := fixtureSource()
	for i := range src.snap.Sites[0].Samples {
		p := &src.snap.Sites[0].Samples[i]
		p.Data = ipv4UDP(p.DstPort)
	}
	hs := newHarness(t, src, 120, 40, Options{SnapshotDir: dir})
	hs.tick()
	hs.press("w")
	path := filepath.Join(dir, "skbtop-"+hs.clock.Now().Format("20060102-150405")+"-__udp4_lib_rcv.pcapng")
	// The status line, whole: the screen cuts it at its width.
	if want := "wrote 3 sampled packets of __udp4_lib_rcv+0x3f2 to " + path; hs.m.status != want {
		t.Errorf("status %q, want %q", hs.m.status, want)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", path, fi.Mode(), err)
	}
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for {
		_, _, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			break
		}
		n++
		if len(opts.Comments) != 1 || opts.Comments[0] != "dropped at __udp4_lib_rcv+0x3f2, reason NO_SOCKET, netns 4026531840" {
			t.Errorf("packet %d: comments %q", n, opts.Comments)
		}
	}
	if n != 3 || !strings.Contains(r.SectionInfo().Comment, "24718 drops, 0 sampled, 3 in this file") {
		t.Errorf("%d packets, section %q; want 3", n, r.SectionInfo().Comment)
	}

	// In the detail, w writes the site shown: a second file.
	hs.press("enter", "w")
	if files, _ := filepath.Glob(filepath.Join(dir, "*.pcapng")); len(files) != 2 {
		t.Errorf("w in the detail: files %v, want 2", files)
	}
	// __neigh_event_send has no samples.
	hs.press("esc", "down", "down", "down", "w")
	if v := hs.view(); !strings.Contains(v, "no sampled packets in this row yet") {
		t.Errorf("w on a row without samples should say so:\n%s", v)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.pcapng")); len(files) != 2 {
		t.Errorf("files %v, want still 2", files)
	}
}
