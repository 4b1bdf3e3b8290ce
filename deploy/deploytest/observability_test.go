package deploytest

import (
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"settlemon/pkg/alert"
	"settlemon/pkg/console"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/store"
	"settlemon/pkg/telemetry"
)

// Paths of the observability stack, relative to the repository root.
const (
	rulesPath        = "deploy/prometheus/rules.yml"
	alertmanagerPath = "deploy/alertmanager/alertmanager.yml"
	envOpsListen     = "SETTLEMON_OPS_LISTEN"
)

// --- the rules ---------------------------------------------------------------

func loadRules(tb testing.TB) *rulefmt.RuleGroups {
	tb.Helper()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(filepath.Join(repoRoot(tb), rulesPath), false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		tb.Errorf("%s: %v", rulesPath, err)
	}
	if len(errs) > 0 {
		tb.FailNow()
	}
	if groups == nil || len(groups.Groups) == 0 {
		tb.Fatalf("%s has no rule group", rulesPath)
	}
	return groups
}

// ruleMetrics returns the metric names an expression selects.
func ruleMetrics(tb testing.TB, expr string) []string {
	tb.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		tb.Fatalf("parsing %q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			if name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == model.MetricNameLabel {
						name = m.Value
					}
				}
			}
			names = append(names, name)
		}
		return nil
	})
	return names
}

// collectorRecorder is a prometheus.Registerer that keeps what is registered.
type collectorRecorder struct{ cs []prometheus.Collector }

func (r *collectorRecorder) Register(c prometheus.Collector) error {
	r.cs = append(r.cs, c)
	return nil
}

func (r *collectorRecorder) MustRegister(cs ...prometheus.Collector) { r.cs = append(r.cs, cs...) }

func (r *collectorRecorder) Unregister(prometheus.Collector) bool { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exposedMetrics are the settlemon_* names the services' collectors describe,
// with their series suffixes for histograms and summaries.
func exposedMetrics(tb testing.TB) map[string]bool {
	tb.Helper()
	rec := &collectorRecorder{}
	rec.MustRegister(ingest.NewCollector(), joiner.NewCollector(nil))
	if err := new(store.Store).Instrument(rec); err != nil {
		tb.Fatal(err)
	}
	if err := new(console.Console).Instrument(rec); err != nil {
		tb.Fatal(err)
	}
	if _, err := telemetry.NewAlertMetrics(rec); err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range rec.cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				tb.Fatalf("cannot read the name of %s", d)
			}
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				out[m[1]+suffix] = true
			}
		}
	}
	return out
}

func TestAlertingRules(t *testing.T) {
	groups := loadRules(t)
	exposed := exposedMetrics(t)
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = "record " + r.Record
			}
			if seen[name] {
				t.Errorf("%s: %s defined twice", rulesPath, name)
			}
			seen[name] = true
			if r.Alert != "" && !strings.HasPrefix(r.Alert, "Settlemon") {
				t.Errorf("%s: alert %s: names start with Settlemon, so they never collide with the alerter's", rulesPath, r.Alert)
			}
			if r.Alert != "" {
				if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
					t.Errorf("%s: alert %s: severity %q, want critical or warning", rulesPath, name, sev)
				}
				for _, a := range []string{"summary", "description", "runbook"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("%s: alert %s has no %s annotation", rulesPath, name, a)
					}
				}
			}
			for _, m := range ruleMetrics(t, r.Expr) {
				switch {
				case m == "up":
				case !strings.HasPrefix(m, "settlemon_"):
					t.Errorf("%s: %s reads %q, which no settlemon service exposes", rulesPath, name, m)
				case !exposed[m]:
					t.Errorf("%s: %s reads %s, which no collector of the services describes", rulesPath, name, m)
				}
			}
		}
	}
	// The conditions the alerter evaluates have a metrics-side rule too.
	for _, want := range []string{"SettlemonBatchStalled", "SettlemonBatchIncomplete", "SettlemonSourceLagging",
		"SettlemonDeadLetterRate", "SettlemonConsumerLagHigh", "SettlemonServiceDown"} {
		if !seen[want] {
			t.Errorf("%s: no alert %s", rulesPath, want)
		}
	}
}

// --- prometheus.yml ------------------------------------------------------------

type prometheusConfig struct {
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			StaticConfigs []staticConfig `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string         `yaml:"job_name"`
		MetricsPath   string         `yaml:"metrics_path"`
		StaticConfigs []staticConfig `yaml:"static_configs"`
		DNSSDConfigs  []struct {
			Names []string `yaml:"names"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

type staticConfig struct {
	Targets []string `yaml:"targets"`
}

func loadPrometheus(tb testing.TB, st stack) prometheusConfig {
	tb.Helper()
	var p prometheusConfig
	if err := yaml.Unmarshal(readRepoFile(tb, st.Prometheus), &p); err != nil {
		tb.Fatalf("parsing %s: %v", st.Prometheus, err)
	}
	return p
}

// opsPort is the port an application service serves its ops endpoint on in
// the stack; "" when it sets none reachable from the network.
func opsPort(tb testing.TB, svc string, s composeService) string {
	tb.Helper()
	v, ok := s.Environment[envOpsListen]
	if !ok {
		return ""
	}
	host, port, err := net.SplitHostPort(effective(v))
	if err != nil {
		tb.Errorf("service %s: %s=%q is not host:port", svc, envOpsListen, v)
		return ""
	}
	if host != "0.0.0.0" && host != "" {
		tb.Errorf("service %s: %s=%q: inside a container the ops endpoint must listen on 0.0.0.0 for Prometheus to reach it", svc, envOpsListen, v)
	}
	return port
}

// containerPorts are the container sides of a service's published ports.
func containerPorts(s composeService) []string {
	var out []string
	for _, p := range s.Ports {
		if p.Short != "" {
			parts := strings.Split(p.Short, ":")
			out = append(out, strings.Split(parts[len(parts)-1], "/")[0])
		} else {
			out = append(out, fmt.Sprint(p.Target))
		}
	}
	return out
}

// longRunning are the application services that keep running (not one-shot
// jobs such as migrate or the simulator).
func longRunning(c composeFile) []string {
	var out []string
	for _, name := range sortedNames(c.Services) {
		if r := c.Services[name].Restart; r == "unless-stopped" || r == "always" {
			out = append(out, name)
		}
	}
	return out
}

func TestPrometheusScrapesEveryService(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		p := loadPrometheus(t, st)

		scraped := map[string]string{} // service → port
		for _, sc := range p.ScrapeConfigs {
			if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
				t.Errorf("%s: job %s scrapes %s; the ops endpoint serves /metrics", st.Prometheus, sc.JobName, sc.MetricsPath)
			}
			var targets []string
			for _, static := range sc.StaticConfigs {
				targets = append(targets, static.Targets...)
			}
			for _, dns := range sc.DNSSDConfigs { // a scaled service: one target per replica
				for _, name := range dns.Names {
					targets = append(targets, net.JoinHostPort(name, strconv.Itoa(dns.Port)))
				}
			}
			for _, target := range targets {
				host, port, err := net.SplitHostPort(target)
				if err != nil {
					t.Errorf("%s: job %s: target %q is not host:port", st.Prometheus, sc.JobName, target)
					continue
				}
				if host == "localhost" && sc.JobName == "prometheus" {
					continue // Prometheus itself
				}
				s, ok := c.Services[host]
				if !ok {
					t.Errorf("%s: job %s: target %s names no service of %s", st.Prometheus, sc.JobName, target, st.Path)
					continue
				}
				scraped[host] = port
				if _, app := apps[host]; app {
					if want := opsPort(t, host, s); want != port {
						t.Errorf("%s: target %s: service %s serves its ops endpoint on port %q (%s)", st.Prometheus, target, host, want, envOpsListen)
					}
				} else if !slices.Contains(containerPorts(s), port) {
					t.Errorf("%s: target %s: service %s exposes ports %v", st.Prometheus, target, host, containerPorts(s))
				}
			}
		}
		for _, name := range longRunning(c) {
			if _, app := apps[name]; !app {
				continue
			}
			if _, ok := scraped[name]; !ok {
				t.Errorf("%s: long-running service %s is not scraped", st.Prometheus, name)
			}
		}

		// The rules and the alertmanager are wired in.
		prom, ok := c.Services["prometheus"]
		if !ok {
			t.Fatalf("%s: no prometheus service", st.Path)
		}
		mounts := map[string]string{} // target → repository path
		for _, m := range prom.Volumes {
			mounts[m.Target] = filepath.Clean(m.Source)
		}
		if mounts["/etc/prometheus/prometheus.yml"] != st.Prometheus {
			t.Errorf("service prometheus: %s is not mounted at /etc/prometheus/prometheus.yml", st.Prometheus)
		}
		if len(p.RuleFiles) == 0 {
			t.Errorf("%s: no rule_files", st.Prometheus)
		}
		for _, f := range p.RuleFiles {
			if !path.IsAbs(f) {
				f = path.Join("/etc/prometheus", f) // relative to the configuration file
			}
			if mounts[f] != rulesPath {
				t.Errorf("%s: rule file %s is not %s mounted into the prometheus service", st.Prometheus, f, rulesPath)
			}
		}
		am := 0
		for _, a := range p.Alerting.Alertmanagers {
			for _, static := range a.StaticConfigs {
				for _, target := range static.Targets {
					am++
					host, port, err := net.SplitHostPort(target)
					if err != nil {
						t.Errorf("%s: alertmanager %q is not host:port", st.Prometheus, target)
						continue
					}
					s, ok := c.Services[host]
					if !ok || !slices.Contains(containerPorts(s), port) {
						t.Errorf("%s: alertmanager %s is not a service of the stack on that port", st.Prometheus, target)
					}
				}
			}
		}
		if am == 0 {
			t.Errorf("%s: alerts go to no alertmanager", st.Prometheus)
		}
	})
}

// healthchecks are the test commands of the services' healthchecks, by
// service (nil: none).
func healthchecks(tb testing.TB, st stack) map[string][]string {
	tb.Helper()
	var c struct {
		Services map[string]struct {
			Healthcheck *struct {
				Test command `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(readRepoFile(tb, st.Path), &c); err != nil {
		tb.Fatalf("parsing %s: %v", st.Path, err)
	}
	out := map[string][]string{}
	for name, s := range c.Services {
		if s.Healthcheck != nil {
			out[name] = s.Healthcheck.Test
		}
	}
	return out
}

func TestLongRunningServicesProbeTheirReadiness(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		tests := healthchecks(t, st)
		for _, name := range longRunning(c) {
			s := c.Services[name]
			test := tests[name]
			if len(test) == 0 {
				t.Errorf("service %s: no healthcheck", name)
				continue
			}
			if _, app := apps[name]; !app {
				continue
			}
			want := []string{"CMD", "settlemon", "probe", "http://127.0.0.1:" + opsPort(t, name, s) + "/readyz"}
			if !slices.Equal(test, want) {
				t.Errorf("service %s: healthcheck test %q, want %q (its ops endpoint's /readyz)", name, test, want)
			}
		}
		// The probe is a command of the image's settlemon binary.
		out, err := exec.Command(filepath.Join(commandsDir(t), "settlemon"), "probe", "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "settlemon probe <url>") {
			t.Errorf("settlemon probe --help: %v\n%s", err, out)
		}
	})
}

// --- alertmanager.yml ----------------------------------------------------------

type alertmanagerConfig struct {
	Route struct {
		Receiver string   `yaml:"receiver"`
		GroupBy  []string `yaml:"group_by"`
		Routes   []struct {
			Receiver string `yaml:"receiver"`
		} `yaml:"routes"`
	} `yaml:"route"`
	Receivers []struct {
		Name           string `yaml:"name"`
		WebhookConfigs []struct {
			URL string `yaml:"url"`
		} `yaml:"webhook_configs"`
	} `yaml:"receivers"`
}

// TestAlertmanagerGroupsByIncident: the alerter labels its incident and
// batch alerts with the incident key, and Alertmanager groups by it, so one
// incident is one notification.
func TestAlertmanagerGroupsByIncident(t *testing.T) {
	var am alertmanagerConfig
	if err := yaml.Unmarshal(readRepoFile(t, alertmanagerPath), &am); err != nil {
		t.Fatalf("parsing %s: %v", alertmanagerPath, err)
	}
	for _, l := range []string{alert.LabelAlertName, alert.LabelIncident} {
		if !slices.Contains(am.Route.GroupBy, l) {
			t.Errorf("%s: group_by %v lacks %q", alertmanagerPath, am.Route.GroupBy, l)
		}
	}
}

func TestAlertmanagerRoutesToAWebhook(t *testing.T) {
	var am alertmanagerConfig
	if err := yaml.Unmarshal(readRepoFile(t, alertmanagerPath), &am); err != nil {
		t.Fatalf("parsing %s: %v", alertmanagerPath, err)
	}
	receivers := map[string]int{} // name → webhooks
	for _, r := range am.Receivers {
		for _, w := range r.WebhookConfigs {
			if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
				t.Errorf("%s: receiver %s: webhook url %q", alertmanagerPath, r.Name, w.URL)
			}
		}
		receivers[r.Name] = len(r.WebhookConfigs)
	}
	used := []string{am.Route.Receiver}
	for _, r := range am.Route.Routes {
		used = append(used, r.Receiver)
	}
	for _, r := range used {
		if n, ok := receivers[r]; !ok || n == 0 {
			t.Errorf("%s: route to receiver %q, which is not defined with a webhook", alertmanagerPath, r)
		}
	}
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		s, ok := c.Services["alertmanager"]
		if !ok {
			t.Fatalf("%s: no alertmanager service", st.Path)
		}
		mounted := false
		for _, m := range s.Volumes {
			mounted = mounted || (filepath.Clean(m.Source) == alertmanagerPath && m.Target == "/etc/alertmanager/alertmanager.yml")
		}
		if !mounted {
			t.Errorf("service alertmanager: %s is not mounted at /etc/alertmanager/alertmanager.yml", alertmanagerPath)
		}
	})
}
