package metrics

// Checks of the deployment files in deploy/: Prometheus's own tools on the
// scrape configuration and alert rules, the DaemonSet and systemd unit
// parsed, and every skbtop metric they name one the sink exports.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/skbtop/skbtop/internal/kerneltest"
)

const deployDir = "../deploy"

func readDeploy(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// promtool runs promtool with args in deploy/ and fails the test on a
// non-zero exit.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	kerneltest.NeedTool(t, "promtool")
	cmd := exec.Command("promtool", args...)
	cmd.Dir = deployDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtoolCheckConfig checks the scrape configuration and, through its
// rule_files, the alert rules.
func TestPromtoolCheckConfig(t *testing.T) { promtool(t, "check", "config", "prometheus.yml") }

// TestPromtoolCheckRules checks the alert rules and runs their unit tests
// (deploy/alerts_test.yml: a new site alerts for 15 minutes, a rate above
// the threshold alerts after 5, lost samples alert).
func TestPromtoolCheckRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yml")
	promtool(t, "test", "rules", "alerts_test.yml")
}

// daemonSet is the part of deploy/daemonset.yaml the test reads.
type daemonSet struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Template struct {
			Spec struct {
				HostNetwork bool `yaml:"hostNetwork"`
				HostPID     bool `yaml:"hostPID"`
				Containers  []struct {
					Args           []string `yaml:"args"`
					ReadinessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
							Port string `yaml:"port"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					SecurityContext struct {
						Capabilities struct {
							Drop []string `yaml:"drop"`
							Add  []string `yaml:"add"`
						} `yaml:"capabilities"`
					} `yaml:"securityContext"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestDaemonSet parses the DaemonSet and checks what the deployment relies
// on: the node's network and PID namespaces, --listen on the node's
// address, a readiness probe on /metrics, all capabilities dropped but the
// systemd unit's own.
func TestDaemonSet(t *testing.T) {
	dec := yaml.NewDecoder(bytes.NewReader(readDeploy(t, "daemonset.yaml")))
	var kinds []string
	var ds daemonSet
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("daemonset.yaml: %v", err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := doc.Decode(&head); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, head.Kind)
		if head.Kind == "DaemonSet" {
			if err := doc.Decode(&ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(kinds, []string{"DaemonSet", "Service"}) {
		t.Fatalf("documents %v, want a DaemonSet and its Service", kinds)
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork || !pod.HostPID || len(pod.Containers) != 1 {
		t.Fatalf("pod spec %+v: want hostNetwork, hostPID and one container", pod)
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"--listen", "$(HOST_IP):9979"}) {
		t.Errorf("args %q, want --listen on the node's address", c.Args)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/metrics" || c.ReadinessProbe.HTTPGet.Port != "metrics" ||
		len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9979 {
		t.Errorf("readiness probe %+v on ports %+v, want GET /metrics on port metrics (9979)", c.ReadinessProbe, c.Ports)
	}
	caps := c.SecurityContext.Capabilities
	if !slices.Equal(caps.Drop, []string{"ALL"}) {
		t.Errorf("capabilities dropped %v, want ALL", caps.Drop)
	}
	var unitCaps []string
	for _, f := range strings.Fields(unitSetting(t, "CapabilityBoundingSet")) {
		unitCaps = append(unitCaps, strings.TrimPrefix(f, "CAP_"))
	}
	if !slices.Equal(caps.Add, unitCaps) {
		t.Errorf("the DaemonSet adds %v, the systemd unit allows %v: want the same", caps.Add, unitCaps)
	}
}

// unitSetting returns the value of a [Service] setting of the unit.
func unitSetting(t *testing.T, key string) string {
	t.Helper()
	for line := range strings.Lines(string(readDeploy(t, "skbtop.service"))) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	t.Fatalf("skbtop.service has no %s", key)
	return ""
}

// TestSystemdUnit runs systemd-analyze verify on the unit, with ExecStart
// pointing at an executable that exists here (this test binary), and wants
// it silent: unknown settings are only warned about.
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	if !strings.Contains(unitSetting(t, "ExecStart"), "--listen 9979") {
		t.Errorf("ExecStart=%s: want skbtop --listen on a bare port (loopback)", unitSetting(t, "ExecStart"))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(readDeploy(t, "skbtop.service")), "/usr/local/bin/skbtop", self)
	path := filepath.Join(t.TempDir(), "skbtop.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// descNames returns the names of the metrics the sink describes.
func descNames(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 64)
	New(Config{}).Describe(ch)
	close(ch)
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
	}
	return names
}

// TestDeployNamesMetrics: every skbtop_ metric the alert rules and the
// dashboard query is one the sink exports, and the dashboard shows drop
// rate by reason, top functions and the per-interface reconciliation.
func TestDeployNamesMetrics(t *testing.T) {
	names := descNames(t)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readDeploy(t, "grafana-dashboard.json"), &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, want := range []string{
		"sum by (reason) (rate(skbtop_drops_total",
		"topk(10, sum by (function, reason) (rate(skbtop_drops_total",
		"skbtop_interface_traced_drops_total",
		"skbtop_interface_counted_drops_total",
	} {
		if !slices.ContainsFunc(exprs, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("no dashboard query has %s", want)
		}
	}
	re := regexp.MustCompile(`skbtop_[a-z_]+`)
	for file, text := range map[string]string{
		"grafana-dashboard.json": strings.Join(exprs, "\n"),
		"alerts.yml":             string(readDeploy(t, "alerts.yml")),
	} {
		for _, name := range re.FindAllString(text, -1) {
			if !names[name] {
				t.Errorf("%s queries %s, which skbtop does not export", file, name)
			}
		}
	}
}
