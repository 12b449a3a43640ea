package main

// Kernel tests of the metrics endpoint: the built binary runs headless
// with --listen, as under systemd, and a real Prometheus server (Debian's
// prometheus package) scrapes it.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// startExporter runs the skbtop binary with --listen 127.0.0.1:0 and args,
// with no terminal, and returns the address it serves metrics on, once it
// says so: it has taken its baseline then, so every drop made afterwards
// is counted. skbtop is stopped with SIGTERM when the test ends and must
// exit 0.
func startExporter(t *testing.T, args ...string) string {
	t.Helper()
	bin := buildSkbtop(t)
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("skbtop --listen exited with %v after SIGTERM, want status 0", err)
			}
		case <-time.After(settleTimeout):
			cmd.Process.Kill()
			t.Error("skbtop --listen did not exit after SIGTERM")
		}
	})
	lines := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`serving metrics on http://(127\.0\.0\.1:\d+)/metrics`)
	var addr string
	for addr == "" && lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		} else {
			t.Logf("skbtop: %s", lines.Text())
		}
	}
	go func() {
		io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	if addr == "" {
		t.Fatalf("skbtop --listen never said where it serves metrics")
	}
	return addr
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// promServer is a Prometheus server of the test's own, scraping one
// target every second.
type promServer struct {
	t    *testing.T
	base string
}

// startPrometheus runs Debian's prometheus binary on a free loopback port
// with a fresh TSDB, scraping target (host:port) as job skbtop. The
// package's own systemd service is not used; this one is killed when the
// test ends.
func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	kerneltest.NeedTool(t, "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: skbtop\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + freePort(t)
	cmd := exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	return &promServer{t: t, base: "http://" + listen}
}

// query evaluates an instant PromQL query and returns its single sample's
// value; ok is false when the result is empty or Prometheus does not
// answer yet.
func (p *promServer) query(q string) (v float64, ok bool) {
	p.t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		if r.Error != "" {
			p.t.Fatalf("query %s: %s", q, r.Error)
		}
		return 0, false
	}
	if len(r.Data.Result) != 1 {
		if len(r.Data.Result) > 1 {
			p.t.Fatalf("query %s: %d samples, want one", q, len(r.Data.Result))
		}
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		p.t.Fatalf("query %s: value %v", q, r.Data.Result[0].Value)
	}
	return v, true
}

// waitQuery polls q until it equals want, failing if it goes above or the
// deadline passes.
func (p *promServer) waitQuery(q string, want float64) {
	p.t.Helper()
	deadline := time.Now().Add(settleTimeout)
	var last float64
	var seen bool
	for time.Now().Before(deadline) {
		v, ok := p.query(q)
		if ok && v == want {
			return
		}
		if ok && v > want {
			p.t.Fatalf("%s = %v, more than %v", q, v, want)
		}
		last, seen = v, ok
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s = %v (answered: %v) after %s, want %v", q, last, seen, settleTimeout, want)
}

// TestPrometheusScrapesDrops: a real Prometheus server scrapes skbtop
// --listen, headless, while 500 datagrams go to a closed port in a test
// namespace; Prometheus then holds exactly 500 NO_SOCKET drops for that
// interface.
func TestPrometheusScrapesDrops(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "prometheus")
	l := kerneltest.NewLink(t)
	addr := startExporter(t, "--interval", "200ms", "--netns", l.Receiver.Path)
	prom := startPrometheus(t, addr)
	// Scraped at least once before the drops: the series is then new in
	// Prometheus as it is in skbtop.
	prom.waitQuery(`up{job="skbtop"}`, 1)

	const n = 500
	base := readTruth(t, l)
	if err := l.SendUDP(7901, n, 16); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, l, base, groundTruth{"UdpNoPorts": n}, nil)
	series := fmt.Sprintf(`skbtop_drops_total{job="skbtop",reason=%q,interface=%q,namespace="",protocol="IPv4/UDP",function=~"__udp4_lib_rcv.*"}`, kerneltest.Reason(t, "NO_SOCKET"), l.ReceiverIf)
	prom.waitQuery("sum("+series+")", n)
	prom.waitQuery(fmt.Sprintf(`sum(skbtop_interface_traced_drops_total{interface=%q,counter="none"})`, l.ReceiverIf), n)
	prom.waitQuery(`skbtop_build_info{attach="tp_btf"}`, 1)
}

// scrapeDrops returns skbtop_drops_total's samples from a scrape of addr.
func scrapeDrops(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "skbtop_drops_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsBudget: frames of 12 unhandled ethertypes make 12 keys, each
// its own label set (the protocol differs), against a budget of 3 series:
// the series stay within it and add up to every drop.
func TestMetricsBudget(t *testing.T) {
	kerneltest.NeedRoot(t)
	l := kerneltest.NewLink(t)
	types, err := netlab.UnhandledEthertypes()
	if err != nil || len(types) < 12 {
		t.Fatalf("unhandled ethertypes: %d, %v", len(types), err)
	}
	addr := startExporter(t, "--interval", "100ms", "--netns", l.Receiver.Path, "--metrics-max-series", "3")
	const each = 7
	base := readTruth(t, l)
	for _, et := range types[:12] {
		if err := l.SendFrames(et, each); err != nil {
			t.Fatal(err)
		}
	}
	waitTruth(t, l, base, groundTruth{"rx_dropped": 12 * each}, nil)
	deadline := time.Now().Add(settleTimeout)
	for {
		got := scrapeDrops(t, addr)
		if len(got) > 3 {
			t.Fatalf("%d series, budget 3: %v", len(got), got)
		}
		var sum float64
		for _, v := range got {
			sum += v
		}
		if sum == 12*each {
			return
		}
		if sum > 12*each || time.Now().After(deadline) {
			t.Fatalf("series add up to %v, want %d: %v", sum, 12*each, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// udpRow reports whether the live view's screen lists the UDP drop site of
// link l with count n.
func udpRow(t testing.TB, s string, l *netlab.Link, n int) bool {
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) > 5 && strings.HasPrefix(f[0], "__udp4_lib_rcv+0x") && f[1] == reasonLabel(t, "NO_SOCKET") &&
			f[2] == l.ReceiverIf && f[5] == strconv.Itoa(n) {
			return true
		}
	}
	return false
}

// TestLiveViewWithMetrics runs the live view with --listen beside it, in
// tmux: the endpoint serves while the view draws, and the view's reset
// ('c'), which starts its counts again, leaves the exported counter going
// on from its total.
func TestLiveViewWithMetrics(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "tmux")
	bin := buildSkbtop(t)
	l := kerneltest.NewLink(t)
	addr := "127.0.0.1:" + freePort(t)
	p := &tmuxPane{t: t, socket: fmt.Sprintf("skbtop-metrics-%d", os.Getpid()), session: "skbtop"}
	cmd := fmt.Sprintf("%s --netns %s --interval 250ms --listen %s", bin, l.Receiver.Path, addr)
	if out, err := p.tmux("new-session", "-d", "-s", p.session, "-x", "120", "-y", "40", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { p.tmux("kill-server") })
	p.waitFor("the live view", func(s string) bool { return strings.Contains(s, "samples lost") })

	series := fmt.Sprintf(`skbtop_drops_total{function="__udp4_lib_rcv",interface=%q,namespace="",protocol="IPv4/UDP",reason=%q}`, l.ReceiverIf, kerneltest.Reason(t, "NO_SOCKET"))
	waitExported := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(settleTimeout)
		for {
			got := scrapeDrops(t, addr)[series]
			if got == want {
				return
			}
			if got > want || time.Now().After(deadline) {
				t.Fatalf("%s = %v, want %v; screen:\n%s", series, got, want, p.screen())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := l.SendUDP(9, 37, 16); err != nil {
		t.Fatal(err)
	}
	p.waitFor("37 UDP drops", func(s string) bool { return udpRow(t, s, l, 37) })
	waitExported(37)
	p.keys("c")
	p.waitFor("the reset", func(s string) bool { return !udpRow(t, s, l, 37) })
	if err := l.SendUDP(9, 20, 16); err != nil {
		t.Fatal(err)
	}
	p.waitFor("20 UDP drops since the reset", func(s string) bool { return udpRow(t, s, l, 20) })
	waitExported(57)
}
