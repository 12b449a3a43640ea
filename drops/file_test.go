package drops

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fileSnapshot() Snapshot {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	return Snapshot{
		Schema: SchemaV1, Host: "edge-01", Kernel: "6.8.0-45-generic", Time: at, WindowS: 12, IntervalS: 1,
		Totals: Totals{Drops: 150, Rate: 12.5, SamplesLost: 3},
		Sites: []Site{
			{Function: "__udp4_lib_rcv", Offset: "0x3f2", Reason: "NO_SOCKET", Interface: "veth0", Ifindex: 7, L3: "IPv4", L4: "UDP", Count: 100, Rate: 10},
			{Function: "nf_hook_slow", Offset: "0x9c", Reason: "NETFILTER_DROP", Interface: "eth0", Ifindex: 2, L3: "IPv4", L4: "TCP", Count: 50, Rate: 2.5},
		},
		Protocols:  []Protocol{{L3: "IPv4", L4: "UDP", Count: 100, Rate: 10}, {L3: "IPv4", L4: "TCP", Count: 50, Rate: 2.5}},
		Interfaces: []Interface{{Name: "veth0", Ifindex: 7, TracedDrops: 100, TracedRate: 10}, {Name: "eth0", Ifindex: 2, TracedDrops: 50, TracedRate: 2.5}},
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	snap := fileSnapshot().Filtered(Filter{Interface: "veth0"})
	now := time.Date(2025, 3, 14, 9, 27, 1, 0, time.UTC)
	path, err := WriteFile(dir, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "skbtop-20250314-092701.json"); path != want {
		t.Errorf("path = %q, want %q", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\n  \"schema\": \"skbtop.snapshot/v1\",\n") {
		t.Errorf("file is not indented JSON:\n%s", data)
	}
	var got Snapshot
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Filter.Interface != "veth0" || len(got.Sites) != 1 || got.Sites[0].Function != "__udp4_lib_rcv" || got.Totals.Drops != 100 {
		t.Errorf("read back filter %+v, sites %+v, totals %+v; want the veth0 site only", got.Filter, got.Sites, got.Totals)
	}
	assertOnly(t, dir, "skbtop-20250314-092701.json")
	// Samples hold addresses and ports: the file is its owner's alone.
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestWriteFileSameSecond(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2025, 3, 14, 9, 27, 1, 0, time.UTC)
	first, err := WriteFile(dir, fileSnapshot(), now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := WriteFile(dir, fileSnapshot(), now)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || filepath.Base(second) != "skbtop-20250314-092701-2.json" {
		t.Errorf("second path = %q (first %q), want a numbered name", second, first)
	}
	assertOnly(t, dir, "skbtop-20250314-092701-2.json", "skbtop-20250314-092701.json")
}

func TestWriteFileEmptyFilterKeepsSitesArray(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteFile(dir, fileSnapshot().Filtered(Filter{Symbol: "nothing_matches"}), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"sites": []`) {
		t.Errorf("a filter matching nothing should write \"sites\": [], got:\n%s", data)
	}
}

func TestWriteFileErrors(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(parent, "missing"), file} {
		if path, err := WriteFile(dir, fileSnapshot(), time.Now()); err == nil {
			t.Errorf("WriteFile(%q) = %q, want an error", dir, path)
		}
	}
	assertOnly(t, parent, "plain-file")
}

func TestWriteFileUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories; TestWriteFileErrors covers the error path")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if _, err := WriteFile(dir, fileSnapshot(), time.Now()); err == nil {
		t.Error("WriteFile to a read-only directory succeeded, want an error")
	}
	assertOnly(t, dir)
}

func TestWriteFileNoTempLeftBehind(t *testing.T) {
	// Every name is taken, so the write fails after the temporary file was
	// created: it must be removed.
	dir := t.TempDir()
	now := time.Date(2025, 3, 14, 9, 27, 1, 0, time.UTC)
	names := []string{"skbtop-20250314-092701.json"}
	for n := 2; n < 1000; n++ {
		names = append(names, fmt.Sprintf("skbtop-20250314-092701-%d.json", n))
	}
	for _, name := range names {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if path, err := WriteFile(dir, fileSnapshot(), now); err == nil {
		t.Fatalf("WriteFile = %q, want an error when every name is taken", path)
	}
	assertOnly(t, dir, names...)
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("unexpected file %s left in %s", e.Name(), dir)
		}
		delete(want, e.Name())
	}
	for n := range want {
		t.Errorf("missing %s in %s", n, dir)
	}
}
