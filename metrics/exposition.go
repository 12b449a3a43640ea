package metrics

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics, named by Prometheus's conventions: skbtop_ prefix, counters
// ending in _total, base units, one meaning per name.
var (
	dropsDesc = prometheus.NewDesc("skbtop_drops_total",
		"Packets the kernel dropped (kfree_skb with a drop reason), by reason, function, interface (as named in its own namespace), namespace (empty for the one skbtop reports on) and protocol. Label sets beyond --metrics-max-series fold into \"other\".",
		[]string{"reason", "function", "interface", "namespace", "protocol"}, nil)
	tracedDesc = prometheus.NewDesc("skbtop_interface_traced_drops_total",
		"Drops traced on each interface of the namespace skbtop reports on, by the interface counters that also count them (rx_dropped+rx_nohandler, rx_otherhost_dropped) or none: set against skbtop_interface_counted_drops_total to see what the traced drops explain.",
		[]string{"interface", "counter"}, nil)
	explainedDesc = prometheus.NewDesc("skbtop_interface_explained_ratio",
		"Part of an interface's counted drops (by counter) that traced drops account for, over skbtop's window (since it started, or the live view's last reset); absent while nothing was counted.",
		[]string{"interface", "counter"}, nil)
	countedDesc = prometheus.NewDesc("skbtop_interface_counted_drops_total",
		"Drops an interface of the namespace skbtop reports on counted itself, by the counters traced drops can explain (rx_dropped+rx_nohandler; rx_otherhost_dropped, Linux 6.0+): the other side of skbtop_interface_traced_drops_total. node_exporter's receive_drop adds rx_missed, which no trace can explain.",
		[]string{"interface", "counter"}, nil)
	protocolDesc = prometheus.NewDesc("skbtop_protocol_drops_total",
		"Drop-related protocol counters of the namespace skbtop reports on (/proc/net/snmp, netstat, snmp6), by nstat name, where node_exporter's netstat collector does not export them by default. Each counts something else: do not sum them.",
		[]string{"counter"}, nil)
	samplesLostDesc = prometheus.NewDesc("skbtop_samples_lost_total",
		"Packet samples the ring buffer had no room for (the counts stay exact).", nil, nil)
	overflowDesc = prometheus.NewDesc("skbtop_keys_overflowed_total",
		"Drops that found the kernel's aggregate map full: counted in skbtop_drops_total under function=\"[map full]\" without their site, reason, interface or protocol. Raise --max-keys.", nil, nil)
	recursionDesc = prometheus.NewDesc("skbtop_recursion_misses_total",
		"Drops the kernel did not let skbtop's program see because another BPF program was running on the same CPU: missing from every count.", nil, nil)
	keysDesc = prometheus.NewDesc("skbtop_map_keys",
		"Keys in the kernel's aggregate map at the last read (keys idle for a refresh are taken out).", nil, nil)
	maxKeysDesc = prometheus.NewDesc("skbtop_map_max_keys",
		"Size of the kernel's aggregate map (--max-keys).", nil, nil)
	readErrorsDesc = prometheus.NewDesc("skbtop_read_errors_total",
		"Readings in which a source failed (the tracer, interface or protocol counters).", nil, nil)
	lastErrorDesc = prometheus.NewDesc("skbtop_last_read_error_timestamp_seconds",
		"When a reading last failed, in seconds since the epoch; 0 if none has.", nil, nil)
	lastReadDesc = prometheus.NewDesc("skbtop_last_read_timestamp_seconds",
		"When skbtop last read the kernel, in seconds since the epoch: the time of the counts exported.", nil, nil)
	seriesDesc = prometheus.NewDesc("skbtop_series",
		"Series skbtop exports now for a labelled counter.", []string{"metric"}, nil)
	seriesMaxDesc = prometheus.NewDesc("skbtop_series_max",
		"The budget of series of each labelled counter (--metrics-max-series).", nil, nil)
	foldedDesc = prometheus.NewDesc("skbtop_series_folded_total",
		"Label sets folded into \"other\" to keep a labelled counter within --metrics-max-series.", []string{"metric"}, nil)
	buildDesc = prometheus.NewDesc("skbtop_build_info",
		"skbtop's version, the Go version it was built with, the running kernel and how the program is attached; always 1.",
		[]string{"version", "goversion", "kernel", "attach"}, nil)
)

// Describe sends the descriptors of every metric the sink exports.
func (k *Sink) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dropsDesc, tracedDesc, countedDesc, explainedDesc, protocolDesc,
		samplesLostDesc, overflowDesc, recursionDesc, keysDesc, maxKeysDesc, readErrorsDesc, lastErrorDesc,
		lastReadDesc, seriesDesc, seriesMaxDesc, foldedDesc, buildDesc, retransDesc} {
		ch <- d
	}
}

// Collect sends the current value of every metric.
func (k *Sink) Collect(ch chan<- prometheus.Metric) {
	k.mu.Lock()
	defer k.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	k.sites.each(func(s *series) {
		v := s.values
		counter(dropsDesc, s.total, v[lReason], v[lFunction], v[lInterface], v[lNamespace], v[lProtocol])
	})
	k.traced.each(func(s *series) { counter(tracedDesc, s.total, s.values[lIface], s.values[lCounter]) })
	for _, e := range k.explained {
		gauge(explainedDesc, e.ratio, e.iface, e.counters)
	}
	k.counted.each(func(s *series) { counter(countedDesc, s.total, s.values[lIface], s.values[lCounter]) })
	for _, c := range k.stack {
		counter(protocolDesc, c.Value, c.Name)
	}
	counter(samplesLostDesc, k.samplesLost)
	counter(overflowDesc, k.keysOverflowed)
	counter(recursionDesc, k.recursionMisses)
	counter(readErrorsDesc, k.readErrors)
	var lastError float64
	if !k.lastError.IsZero() {
		lastError = seconds(k.lastError)
	}
	gauge(lastErrorDesc, lastError)
	if !k.last.IsZero() {
		// Levels only once something was read.
		gauge(keysDesc, float64(k.keys))
		gauge(maxKeysDesc, float64(k.maxKeys))
		gauge(lastReadDesc, seconds(k.last))
	}
	for name, f := range map[string]*family{"skbtop_drops_total": k.sites, "skbtop_interface_traced_drops_total": k.traced,
		"skbtop_interface_counted_drops_total": k.counted} {
		gauge(seriesDesc, float64(f.live), name)
		counter(foldedDesc, f.folds, name)
	}
	k.retrans.collect(ch)
	gauge(seriesMaxDesc, float64(k.cfg.MaxSeries))
	gauge(buildDesc, 1, k.cfg.Version, runtime.Version(), k.kernel, k.cfg.Attach)
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Handler serves the sink, and skbtop's own process metrics (CPU, memory,
// file descriptors), at /metrics; every other path is 404.
func Handler(k *Sink) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(k, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A scrape is cheap (BENCHMARKS.md); a few at once is already
		// more than a sane setup sends.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	return mux
}

// ListenAddress turns --listen's value into an address to listen on. A
// bare port ("9979" or ":9979") binds loopback only, so that the endpoint,
// which tells who drops what where, is not published by accident; any
// other address must be spelled out ("0.0.0.0:9979", "[::]:9979",
// "10.0.0.5:9979"). Port 0 picks a free port.
func ListenAddress(s string) (string, error) {
	port := strings.TrimPrefix(s, ":")
	if _, err := strconv.ParseUint(port, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("-listen %q: want a port (9979, binding 127.0.0.1) or host:port", s)
	}
	if host == "" {
		return "", fmt.Errorf("-listen %q: want a port (9979, binding 127.0.0.1) or host:port", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("-listen %q: port %q is not a number from 0 to 65535", s, port)
	}
	return s, nil
}
