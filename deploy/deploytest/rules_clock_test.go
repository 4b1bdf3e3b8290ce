package deploytest

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Gauges holding a time, by the clock they are on. The event-time ones are
// days behind the wall clock in a replay, so time() minus one of them is a
// false alarm; the services' own verdicts (settlemon_source_lagging) are
// computed against the right "now".
var (
	eventTimeGauges = []string{"settlemon_watermark_timestamp_seconds", "settlemon_ingest_watermark_timestamp_seconds"}
	wallClockGauges = []string{"settlemon_sink_insert_failing_since_timestamp_seconds", "settlemon_ingest_last_batch_timestamp_seconds"}
)

// callsTime reports whether expr calls time().
func callsTime(tb testing.TB, expr string) bool {
	tb.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		tb.Fatalf("parsing %q: %v", expr, err)
	}
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok && c.Func.Name == "time" {
			found = true
		}
		return nil
	})
	return found
}

// TestRulesKeepTheirClocks: a rule that compares with time() reads only
// wall-clock gauges, no rule reads an event-time gauge against the wall
// clock, and the lagging-source rule is the joiner's clock-aware verdict.
func TestRulesKeepTheirClocks(t *testing.T) {
	groups := loadRules(t)
	found := false
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			metrics := ruleMetrics(t, r.Expr)
			if callsTime(t, r.Expr) {
				for _, m := range metrics {
					if !slices.Contains(wallClockGauges, m) {
						t.Errorf("%s: %s compares %s with time(): only wall-clock gauges %v may be (event time lags the wall clock in replay)",
							rulesPath, r.Alert, m, wallClockGauges)
					}
				}
			}
			for _, m := range metrics {
				if slices.Contains(eventTimeGauges, m) {
					t.Errorf("%s: %s reads the event-time gauge %s: use the services' clock-aware gauges (settlemon_source_lagging, settlemon_source_watermark_lag_seconds)",
						rulesPath, r.Alert, m)
				}
			}
			if r.Alert == "SettlemonSourceLagging" {
				found = true
				if !slices.Contains(metrics, "settlemon_source_lagging") {
					t.Errorf("%s: SettlemonSourceLagging reads %v, want the joiner's verdict settlemon_source_lagging", rulesPath, metrics)
				}
			}
		}
	}
	if !found {
		t.Fatalf("%s: no SettlemonSourceLagging", rulesPath)
	}
}

// TestInhibitionCoversBothSides: a lagging payout or authorization feed,
// reported by the Prometheus rule or by the alerter, mutes the overdue-payout
// alert of either.
func TestInhibitionCoversBothSides(t *testing.T) {
	var am struct {
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, alertmanagerPath), &am); err != nil {
		t.Fatalf("parsing %s: %v", alertmanagerPath, err)
	}
	joined := func(ms []string) string { return strings.Join(ms, " ") }
	for _, src := range []string{"SettlemonSourceLagging", "SourceLagging"} {
		for _, dst := range []string{"SettlemonPayoutsOverdue", "PayoutsOverdue"} {
			ok := false
			for _, r := range am.InhibitRules {
				s, d := joined(r.SourceMatchers), joined(r.TargetMatchers)
				ok = ok || (strings.Contains(s, src) && strings.Contains(s, "payouts") && strings.Contains(s, "auth") && strings.Contains(d, dst))
			}
			if !ok {
				t.Errorf("%s: no inhibit rule lets %s (source payouts or auth) mute %s", alertmanagerPath, src, dst)
			}
		}
	}
}
