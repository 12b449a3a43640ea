package counters

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func parseFixture(t *testing.T, name string, parse func(f *os.File) (map[string]uint64, error)) map[string]uint64 {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return m
}

func TestParseSNMPRecorded(t *testing.T) {
	// The recorder sent recordUDP datagrams to a closed port: each counts in
	// UdpNoPorts and is answered with ICMP port unreachable.
	snmp := parseFixture(t, "proc-snmp", func(f *os.File) (map[string]uint64, error) { return ParseSNMP(f) })
	for name, want := range map[string]uint64{
		"UdpNoPorts":          recordUDP,
		"IcmpOutDestUnreachs": recordUDP,
		"IpInReceives":        recordUDP,
		"IpDefaultTTL":        64,
		"TcpRtoMax":           120000,
		"UdpLiteNoPorts":      0,
		"IcmpInErrors":        0,
	} {
		if got, ok := snmp[name]; !ok || got != want {
			t.Errorf("snmp[%q] = %d, %v; want %d", name, got, ok, want)
		}
	}
	if v, ok := snmp["TcpMaxConn"]; ok {
		t.Errorf("snmp has TcpMaxConn = %d, want the constant -1 left out", v)
	}

	netstat := parseFixture(t, "proc-netstat", func(f *os.File) (map[string]uint64, error) { return ParseSNMP(f) })
	for _, name := range []string{"TcpExtListenDrops", "TcpExtListenOverflows", "TcpExtTCPBacklogDrop", "IpExtInNoRoutes", "IpExtInTruncatedPkts", "TcpExtTCPOFODrop"} {
		if v, ok := netstat[name]; !ok || v != 0 {
			t.Errorf("netstat[%q] = %d, %v; want 0, present", name, v, ok)
		}
	}
	if len(netstat) < 100 {
		t.Errorf("netstat has %d counters, want the TcpExt, IpExt and MPTcpExt lines (>100)", len(netstat))
	}

	snmp6 := parseFixture(t, "proc-snmp6", func(f *os.File) (map[string]uint64, error) { return ParseSNMP6(f) })
	for _, name := range []string{"Udp6NoPorts", "Ip6InDiscards", "Icmp6InErrors"} {
		if v, ok := snmp6[name]; !ok || v != 0 {
			t.Errorf("snmp6[%q] = %d, %v; want 0, present", name, v, ok)
		}
	}

	// Every name skbtop shows exists on this kernel (6.18), so a typo in
	// stackNames cannot hide a counter.
	all := map[string]uint64{}
	for _, m := range []map[string]uint64{snmp, netstat, snmp6} {
		for k, v := range m {
			all[k] = v
		}
	}
	picked := map[string]uint64{}
	pickStack(picked, all)
	for _, name := range StackCounterNames() {
		if _, ok := picked[name]; !ok {
			t.Errorf("stack counter %q is not in the recorded /proc/net files", name)
		}
	}
	if picked["UdpNoPorts"] != recordUDP {
		t.Errorf("picked UdpNoPorts = %d, want %d", picked["UdpNoPorts"], recordUDP)
	}
	if _, ok := picked["IpInReceives"]; ok {
		t.Error("pickStack kept IpInReceives, which is not a drop counter")
	}
}

func TestParseSNMPMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"header without values", "Udp: InDatagrams NoPorts\n"},
		{"prefix mismatch", "Udp: InDatagrams NoPorts\nTcp: 1 2\n"},
		{"fewer values", "Udp: InDatagrams NoPorts\nUdp: 1\n"},
		{"more values", "Udp: InDatagrams NoPorts\nUdp: 1 2 3\n"},
		{"not a number", "Udp: InDatagrams NoPorts\nUdp: 1 x\n"},
		{"too large", "Udp: InDatagrams NoPorts\nUdp: 1 99999999999999999999999\n"},
		{"no colon", "Udp InDatagrams\nUdp 1\n"},
		{"binary", "\x00\x01\x02\n\xff\xfe\n"},
		{"long line", "Udp: " + strings.Repeat("x", 2<<20) + "\nUdp: 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseSNMP(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("ParseSNMP = %v, want an error", m)
			}
			if tc.name != "long line" && !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseSNMPBlankLines(t *testing.T) {
	m, err := ParseSNMP(strings.NewReader("\nUdp: NoPorts InErrors\nUdp: 5 6\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["UdpNoPorts"] != 5 || m["UdpInErrors"] != 6 || len(m) != 2 {
		t.Errorf("ParseSNMP = %v, want UdpNoPorts 5, UdpInErrors 6", m)
	}
}

func TestParseSNMP6Malformed(t *testing.T) {
	for _, in := range []string{
		"Udp6NoPorts\n",
		"Udp6NoPorts 1 2\n",
		"Udp6NoPorts -1\n",
		"Udp: NoPorts\nUdp: 1\n", // the snmp format given to the wrong parser
	} {
		if m, err := ParseSNMP6(strings.NewReader(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSNMP6(%q) = %v, %v; want ErrMalformed", in, m, err)
		}
	}
}

func FuzzParseSNMP(f *testing.F) {
	for _, name := range []string{"proc-snmp", "proc-netstat"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseSNMP(strings.NewReader(in))
		if err != nil && m != nil {
			t.Errorf("error %v with a non-nil map", err)
		}
	})
}
