package symbols

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func parseFixture(t *testing.T, name string) *Table {
	t.Helper()
	tab, err := ParseKallsyms(openFixture(t, name))
	if err != nil {
		t.Fatalf("ParseKallsyms(%s): %v", name, err)
	}
	return tab
}

func TestTableLookup(t *testing.T) {
	tab := parseFixture(t, "kallsyms.txt")
	tests := []struct {
		name   string
		addr   uint64
		want   string // Symbol.At(offset), "" for a miss
		wantOK bool
	}{
		{"below first symbol", 0xffffffff80ffffff, "", false},
		{"zero", 0, "", false},
		{"aliases prefer fewer underscores", 0xffffffff81000000, "srso_alias_untrain_ret+0x0", true},
		{"inside first symbol", 0xffffffff81000005, "srso_alias_untrain_ret+0x5", true},
		{"exact global", 0xffffffff81e425c0, "sk_skb_reason_drop+0x0", true},
		{"inside global", 0xffffffff81e4262a, "sk_skb_reason_drop+0x6a", true},
		{"padding before function", 0xffffffff81e425b4, "__pfx_sk_skb_reason_drop+0x4", true},
		{"constprop suffix kept", 0xffffffff81e64760, "__netif_receive_skb_core.constprop.0+0x100", true},
		{"isra suffix kept", 0xffffffff81200118, "class_preempt_notrace_destructor.isra.0+0x8", true},
		{"aliases prefer global over weak over local", 0xffffffff81e70010, "tcp_alias_global+0x10", true},
		{"data symbols ignored", 0xffffffff820331d0, "tcp_v4_rcv+0x10", true},
		{"last vmlinux symbol within bound", 0xffffffff837f8920, "_einittext+0x10", true},
		{"past last vmlinux symbol", 0xffffffff837f8910 + MaxTailOffset + 1, "", false},
		{"module symbol", 0xffffffffc0a011c4, "nft_do_chain+0x1c4 [nf_tables]", true},
		{"module local with underscores", 0xffffffffc0a01810, "__nft_trace_packet+0x10 [nf_tables]", true},
		{"module data ignored", 0xffffffffc0a09010, "nft_chain_validate+0x7010 [nf_tables]", true},
		{"second module", 0xffffffffc0b00404, "nf_conntrack_in+0x4 [nf_conntrack]", true},
		{"last module symbol at bound", 0xffffffffc0b00400 + MaxTailOffset, "nf_conntrack_in+0x100000 [nf_conntrack]", true},
		{"past last module symbol", 0xffffffffc0b00400 + MaxTailOffset + 1, "", false},
		{"top of address space", ^uint64(0), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sym, off, ok := tab.Lookup(tt.addr)
			if ok != tt.wantOK {
				t.Fatalf("Lookup(%#x) ok = %v, want %v (got %v)", tt.addr, ok, tt.wantOK, sym.At(off))
			}
			if !ok {
				if sym != (Symbol{}) || off != 0 {
					t.Errorf("Lookup(%#x) miss returned %+v, %d", tt.addr, sym, off)
				}
				return
			}
			if got := sym.At(off); got != tt.want {
				t.Errorf("Lookup(%#x) = %q, want %q", tt.addr, got, tt.want)
			}
			if sym.Addr+off != tt.addr {
				t.Errorf("Lookup(%#x): Addr %#x + offset %#x does not add up", tt.addr, sym.Addr, off)
			}
		})
	}
}

func TestHasFunction(t *testing.T) {
	tab := parseFixture(t, "kallsyms.txt")
	for _, tc := range []struct {
		sub  string
		want bool
	}{
		{"skb_reason_drop", true}, {"SK_SKB", true}, {"nft_do", true}, {"no_such_function", false},
	} {
		if got := tab.HasFunction(tc.sub); got != tc.want {
			t.Errorf("HasFunction(%q) = %v, want %v", tc.sub, got, tc.want)
		}
	}
}

func TestTableCounts(t *testing.T) {
	tab := parseFixture(t, "kallsyms.txt")
	// 24 text lines, two groups of three aliases sharing an address.
	if got, want := tab.Len(), 24-2-2; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if got, want := tab.Malformed(), 1; got != want {
		t.Errorf("Malformed() = %d, want %d", got, want)
	}
}

func TestTableSortsUnorderedInput(t *testing.T) {
	// Module symbols are listed in module symtab order, not by address.
	in := "ffffffffc0a02000 T b_fn\t[m]\n" +
		"ffffffffc0a01000 t a_fn\t[m]\n" +
		"ffffffff81000000 T _stext\n" +
		"ffffffffc0a01000 T a_alias\t[m]\n"
	tab, err := ParseKallsyms(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr uint64
		want string
	}{
		{0xffffffff81000010, "_stext+0x10"},
		{0xffffffffc0a01010, "a_alias+0x10 [m]"},
		{0xffffffffc0a02010, "b_fn+0x10 [m]"},
	} {
		sym, off, ok := tab.Lookup(tt.addr)
		if got := sym.At(off); !ok || got != tt.want {
			t.Errorf("Lookup(%#x) = %q, %v; want %q", tt.addr, got, ok, tt.want)
		}
	}
}

func TestAliasChoiceIgnoresLineOrder(t *testing.T) {
	lines := []string{
		"ffffffff81000000 t __pfx_x",
		"ffffffff81000000 w weak_local",
		"ffffffff81000000 t local",
		"ffffffff81000000 W weak_global",
		"ffffffff81000000 T __global",
		"ffffffff81000000 T _global",
		"ffffffff81000000 T global_b",
		"ffffffff81000000 T global_a",
	}
	for shift := range lines {
		rotated := append(append([]string{}, lines[shift:]...), lines[:shift]...)
		tab, err := ParseKallsyms(strings.NewReader(strings.Join(rotated, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		if sym, _, _ := tab.Lookup(0xffffffff81000000); sym.Name != "global_a" {
			t.Errorf("rotation %d: chose %q, want global_a", shift, sym.Name)
		}
	}
}

func TestSplitLine(t *testing.T) {
	tests := []struct {
		line      string
		ok        bool
		addr      uint64
		typ       byte
		name, mod string
	}{
		{"ffffffff81e425c0 T sk_skb_reason_drop", true, 0xffffffff81e425c0, 'T', "sk_skb_reason_drop", ""},
		{"ffffffffc0a01000 t nft_do_chain\t[nf_tables]", true, 0xffffffffc0a01000, 't', "nft_do_chain", "nf_tables"},
		{"ffffffffc0a01000 t nft_do_chain\t[nf_tables]  ", true, 0xffffffffc0a01000, 't', "nft_do_chain", "nf_tables"},
		{"ffffffffc0a01000 t nft_do_chain [nf_tables]\r", true, 0xffffffffc0a01000, 't', "nft_do_chain", "nf_tables"},
		{"81000000 T short_address", true, 0x81000000, 'T', "short_address", ""},
		{"FFFFFFFF81000000  T  upper_hex", true, 0xffffffff81000000, 'T', "upper_hex", ""},
		{"1ffffffff81000000 T too_long", false, 0, 0, "", ""},
		{"ffffffff8100000g T not_hex", false, 0, 0, "", ""},
		{"ffffffff81000000 T", false, 0, 0, "", ""},
		{"ffffffff81000000 TT name", false, 0, 0, "", ""},
		{"ffffffff81000000", false, 0, 0, "", ""},
		{" T name", false, 0, 0, "", ""},
		{"ffffffff81000000 T name extra", false, 0, 0, "", ""},
		{"ffffffff81000000 T name\t[]", false, 0, 0, "", ""},
		{"ffffffff81000000 T name\t[unterminated", false, 0, 0, "", ""},
		{"ffffffff81000000 T name\t[two words]", false, 0, 0, "", ""},
	}
	for _, tt := range tests {
		addr, typ, name, mod, ok := splitLine([]byte(tt.line))
		if ok != tt.ok {
			t.Errorf("splitLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if addr != tt.addr || typ != tt.typ || string(name) != tt.name || string(mod) != tt.mod {
			t.Errorf("splitLine(%q) = %#x %q %q %q, want %#x %q %q %q",
				tt.line, addr, typ, name, mod, tt.addr, tt.typ, tt.name, tt.mod)
		}
	}
}

func TestParseKallsymsErrors(t *testing.T) {
	tests := []struct {
		fixture        string
		wantRestricted bool
	}{
		{"kallsyms_restricted.txt", true},
		{"kallsyms_garbage.txt", false},
		{"kfree_skb_format_6.18.txt", false},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			tab, err := ParseKallsyms(openFixture(t, tt.fixture))
			if err == nil {
				t.Fatalf("ParseKallsyms = %d symbols, want an error", tab.Len())
			}
			if got := errors.Is(err, ErrRestricted); got != tt.wantRestricted {
				t.Errorf("errors.Is(%v, ErrRestricted) = %v, want %v", err, got, tt.wantRestricted)
			}
		})
	}
	if _, err := ParseKallsyms(strings.NewReader("")); err == nil || errors.Is(err, ErrRestricted) {
		t.Errorf("ParseKallsyms(empty) error = %v, want a non-restricted error", err)
	}
}

func TestSymbolFormat(t *testing.T) {
	tests := []struct {
		sym     Symbol
		off     uint64
		at, str string
	}{
		{Symbol{Name: "tcp_v4_rcv"}, 0x2a, "tcp_v4_rcv+0x2a", "tcp_v4_rcv"},
		{Symbol{Name: "nft_do_chain", Module: "nf_tables"}, 0, "nft_do_chain+0x0 [nf_tables]", "nft_do_chain [nf_tables]"},
	}
	for _, tt := range tests {
		if got := tt.sym.At(tt.off); got != tt.at {
			t.Errorf("At(%#x) = %q, want %q", tt.off, got, tt.at)
		}
		if got := tt.sym.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
	}
}

// rawSymbol finds a symbol's address in a kallsyms file with the simplest
// possible code, to check the real parser against.
func rawSymbol(t *testing.T, data []byte, name string) (uint64, bool) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == name && strings.ContainsAny(f[1], "tT") {
			addr, err := strconv.ParseUint(f[0], 16, 64)
			return addr, err == nil
		}
	}
	return 0, false
}

func readProcKallsyms(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		kerneltest.SkipOrFail(tb, "cannot read /proc/kallsyms: %v", err)
	}
	return data
}

func TestParseProcKallsyms(t *testing.T) {
	data := readProcKallsyms(t)
	tab, err := ParseKallsyms(bytes.NewReader(data))
	if errors.Is(err, ErrRestricted) {
		kerneltest.SkipOrFail(t, "the kernel hides symbol addresses (kernel.kptr_restrict)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if tab.Malformed() != 0 {
		t.Errorf("Malformed() = %d on the kernel's own file", tab.Malformed())
	}
	for _, name := range []string{"sk_skb_reason_drop", "tcp_v4_rcv", "ip_rcv"} {
		addr, ok := rawSymbol(t, data, name)
		if !ok {
			t.Logf("%s not in this kernel", name)
			continue
		}
		sym, off, ok := tab.Lookup(addr + 1)
		if !ok || sym.Name != name || off != 1 || sym.Module != "" {
			t.Errorf("Lookup(%s+1) = %q, %v", name, sym.At(off), ok)
		}
	}
}

// BenchmarkParseKallsyms parses the running kernel's kallsyms from memory,
// so that it measures skbtop rather than the kernel generating the file.
func BenchmarkParseKallsyms(b *testing.B) {
	data := readProcKallsyms(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseKallsyms(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenKallsyms includes the kernel's cost of generating
// /proc/kallsyms, which is what skbtop pays at start.
func BenchmarkOpenKallsyms(b *testing.B) {
	readProcKallsyms(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenKallsyms("/proc/kallsyms"); err != nil {
			b.Fatal(err)
		}
	}
}

// fakeClock is a clock for Kallsyms that only moves when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// fixtureLines returns the lines of testdata/kallsyms.txt for which keep
// returns true.
func fixtureLines(t *testing.T, keep func(line string) bool) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "kallsyms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for line := range strings.Lines(string(data)) {
		if keep(line) {
			b.WriteString(line)
		}
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openLive opens a Kallsyms on a temporary file holding content, with a
// fake clock set before the file is read.
func openLive(t *testing.T, content string) (*Kallsyms, *fakeClock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kallsyms")
	writeFile(t, path, content)
	k, err := OpenKallsyms(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	k.now = clock.now
	k.loaded, k.tried = clock.now(), clock.now()
	return k, clock, path
}

func lookupString(k *Kallsyms, addr uint64) string {
	sym, off, ok := k.Lookup(addr)
	if !ok {
		return "miss"
	}
	return sym.At(off)
}

func TestKallsymsReloadsOnMiss(t *testing.T) {
	vmlinux := func(line string) bool { return !strings.Contains(line, "[") }
	k, clock, path := openLive(t, fixtureLines(t, vmlinux))
	const nftDoChain = 0xffffffffc0a011c4

	steps := []struct {
		name    string
		advance time.Duration
		load    bool // nf_tables is loaded before this step
		want    string
	}{
		{"unknown module", time.Second, false, "miss"},
		{"module loaded, reload not yet due", time.Second, true, "miss"},
		{"reload due", DefaultMinReload, false, "nft_do_chain+0x1c4 [nf_tables]"},
	}
	for _, s := range steps {
		clock.advance(s.advance)
		if s.load {
			writeFile(t, path, fixtureLines(t, func(string) bool { return true }))
		}
		if got := lookupString(k, nftDoChain); got != s.want {
			t.Errorf("%s: Lookup = %q, want %q", s.name, got, s.want)
		}
	}
}

func TestKallsymsReloadsAfterLastSymbolOfRegion(t *testing.T) {
	// nf_conntrack gets loaded right after nf_tables, well within
	// MaxTailOffset of nf_tables' last function.
	noConntrack := func(line string) bool { return !strings.Contains(line, "[nf_conntrack]") }
	k, clock, path := openLive(t, fixtureLines(t, noConntrack))
	const conntrackIn = 0xffffffffc0b00410

	clock.advance(time.Second)
	if got, want := lookupString(k, conntrackIn), "nft_chain_validate+0xfe410 [nf_tables]"; got != want {
		t.Fatalf("before load: Lookup = %q, want %q", got, want)
	}
	writeFile(t, path, fixtureLines(t, func(string) bool { return true }))
	clock.advance(DefaultMinReload)
	if got, want := lookupString(k, conntrackIn), "nf_conntrack_in+0x10 [nf_conntrack]"; got != want {
		t.Fatalf("after load: Lookup = %q, want %q", got, want)
	}

	// The answer now comes from a table read after the address was first
	// seen, so it is final: changing the file must not be noticed.
	writeFile(t, path, fixtureLines(t, noConntrack))
	clock.advance(10 * DefaultMinReload)
	if got, want := lookupString(k, conntrackIn), "nf_conntrack_in+0x10 [nf_conntrack]"; got != want {
		t.Errorf("settled: Lookup = %q, want %q", got, want)
	}
}

func TestKallsymsTrustsHitsInsideRegion(t *testing.T) {
	all := fixtureLines(t, func(string) bool { return true })
	k, clock, path := openLive(t, all)
	writeFile(t, path, strings.ReplaceAll(all, "nft_do_chain", "renamed"))
	clock.advance(10 * DefaultMinReload)
	if got, want := lookupString(k, 0xffffffffc0a011c4), "nft_do_chain+0x1c4 [nf_tables]"; got != want {
		t.Errorf("Lookup = %q, want %q (no reload for a hit inside a region)", got, want)
	}
}

func TestKallsymsKeepsTableWhenReloadFails(t *testing.T) {
	k, clock, path := openLive(t, fixtureLines(t, func(string) bool { return true }))
	garbage, err := os.ReadFile(filepath.Join("testdata", "kallsyms_garbage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(garbage))
	clock.advance(DefaultMinReload)
	if got := lookupString(k, 0x1000); got != "miss" {
		t.Errorf("Lookup(0x1000) = %q, want miss", got)
	}
	if k.reloadErr == nil {
		t.Error("reloading a garbage file did not fail")
	}
	if got, want := lookupString(k, 0xffffffff820331c4), "tcp_v4_rcv+0x4"; got != want {
		t.Errorf("Lookup after failed reload = %q, want %q", got, want)
	}
}

func TestOpenKallsyms(t *testing.T) {
	k, err := OpenKallsyms(filepath.Join("testdata", "kallsyms_restricted.txt"))
	if err != nil {
		t.Fatalf("OpenKallsyms(restricted) = %v, want a usable resolver", err)
	}
	if !k.Restricted() {
		t.Error("Restricted() = false for an all-zero file")
	}
	if _, _, ok := k.Lookup(0xffffffff81e425c0); ok {
		t.Error("Lookup succeeded on a restricted file")
	}

	k, err = OpenKallsyms(filepath.Join("testdata", "kallsyms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Restricted() {
		t.Error("Restricted() = true for a normal file")
	}

	if _, err := OpenKallsyms(filepath.Join("testdata", "kallsyms_garbage.txt")); err == nil {
		t.Error("OpenKallsyms(garbage) succeeded")
	}
	if _, err := OpenKallsyms(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenKallsyms(missing) = %v, want fs.ErrNotExist", err)
	}
}

// TestKallsymsConcurrent is meant for go test -race: lookups that hit,
// miss and reload run at once.
func TestKallsymsConcurrent(t *testing.T) {
	k, clock, _ := openLive(t, fixtureLines(t, func(string) bool { return true }))
	addrs := []uint64{0xffffffff81e4262a, 0x1000, 0xffffffffc0b00410, 0xffffffffc0a011c4}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 && i%10 == 0 {
					clock.advance(DefaultMinReload)
				}
				addr := addrs[(g+i)%len(addrs)]
				sym, off, ok := k.Lookup(addr)
				if ok && sym.Addr+off != addr {
					t.Errorf("Lookup(%#x) = %#x+%#x", addr, sym.Addr, off)
				}
			}
		})
	}
	wg.Wait()
}

func TestFunction(t *testing.T) {
	tab := parseFixture(t, "kallsyms.txt")
	for _, tc := range []struct {
		name string
		want []Range
	}{
		// Ends where the next text symbol starts.
		{"sk_skb_reason_drop", []Range{{0xffffffff81e425c0, 0xffffffff81e426f0, ""}}},
		{"nft_do_chain", []Range{{0xffffffffc0a01000, 0xffffffffc0a01800, "nf_tables"}}},
		// The last of its module: as far as Lookup resolves.
		{"nf_conntrack_in", []Range{{0xffffffffc0b00400, 0xffffffffc0b00400 + MaxTailOffset, "nf_conntrack"}}},
		// Names match whole, not as substrings, and data is not text.
		{"nft_do", nil}, {"tcp_hashinfo_bss", nil},
	} {
		if got := tab.Function(tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("Function(%q) = %x, want %x", tc.name, got, tc.want)
		}
	}
}
