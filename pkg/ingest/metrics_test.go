package ingest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"settlemon/pkg/event"
)

// TestDeadLetterSeriesFromTheStart: before any dead letter, the collector
// exposes settlemon_dead_letters_total at 0 for every reason, so rate() sees
// the first burst.
func TestDeadLetterSeriesFromTheStart(t *testing.T) {
	in := newTestIngest(event.Payouts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(in))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	zero := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "settlemon_dead_letters_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && m.GetCounter().GetValue() == 0 {
					zero[l.GetValue()] = true
				}
			}
		}
	}
	for _, r := range event.Reasons() {
		if !zero[string(r)] {
			t.Errorf("no settlemon_dead_letters_total{reason=%q} at 0 before the first dead letter", r)
		}
	}
	if !zero[reasonInvalid] {
		t.Errorf("no series for reason %q", reasonInvalid)
	}
}
