//go:build integration

package allinone_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"settlemon/pkg/alert"
	"settlemon/pkg/allinone"
	"settlemon/pkg/fact"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store/storetest"
)

// receiver is a real HTTP webhook receiver that records what it was sent.
type receiver struct {
	mu   sync.Mutex
	msgs []alert.WebhookMessage
	srv  *httptest.Server
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m alert.WebhookMessage
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

// count returns how many notifications of status for alertname carry the
// given label value.
func (r *receiver) count(alertname, status, label, value string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m.AlertName == alertname && string(m.Status) == status && (label == "" || m.Labels[label] == value) {
			n++
		}
	}
	return n
}

// TestBatchAlerts is the acceptance test on batches: the simulator stops a
// payout batch midway for two hours of simulated time and closes another
// declaring a record it did not carry. A real HTTP receiver gets exactly one
// firing notification for the stalled batch, starting when the stall
// timeout had passed in event time, and exactly one resolved notification
// after it resumed and closed; and exactly one batch_incomplete alert. The
// alerter evaluates after the fast replay, when the stall has long been
// resolved, and again later: its history keeps it from notifying twice.
func TestBatchAlerts(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	st := storetest.New(t)
	truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
	cfg := runConfig(t, st.Database(), truthFile, 3)
	sim := simulator.FullConfig()
	sim.TracesPerDay, sim.Merchants, sim.Days = 4000, 120, 3
	sim.PayoutOutage.Day = 0
	cfg.Simulator = sim
	res, err := allinone.Run(ctx, cfg, runDeps(t))
	if err != nil {
		t.Fatalf("allinone.Run: %v", err)
	}
	if len(res.Simulated.Batches) != 2 {
		t.Fatalf("the simulator injected %d batch faults, want a stall and an incomplete batch: %+v", len(res.Simulated.Batches), res.Simulated.Batches)
	}
	f, err := os.Open(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := simulator.ReadRunTruth(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	rcv := newReceiver(t)
	acfg := alert.DefaultConfig()
	acfg.WebhookURL = rcv.srv.URL
	for round := range 2 {
		a, err := alert.New(acfg, alert.Deps{Store: st, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatalf("evaluation %d: %v", round, err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}

	for _, b := range truth.Batches {
		switch b.Kind {
		case fact.BatchStalled:
			if n := rcv.count("BatchStalled", "firing", "batch_id", b.BatchID); n != 1 {
				t.Errorf("stalled batch %s: %d firing notifications, want exactly 1", b.BatchID, n)
			}
			if n := rcv.count("BatchStalled", "resolved", "batch_id", b.BatchID); n != 1 {
				t.Errorf("stalled batch %s: %d resolved notifications, want exactly 1", b.BatchID, n)
			}
			// The batch's last progress before the gap: its last payout record
			// or bank confirmation (risk holds are not progress).
			var last time.Time
			if err := storetest.Conn(t, st).QueryRow(ctx, `SELECT max(occurred_at) FROM payout_events FINAL
WHERE batch_id = ? AND type IN ('batch_opened', 'payout_initiated', 'payout_paid', 'payout_failed') AND occurred_at < ?`,
				b.BatchID, time.UnixMilli(b.ResumedAt).UTC()).Scan(&last); err != nil {
				t.Fatal(err)
			}
			rcv.mu.Lock()
			for _, m := range rcv.msgs {
				if m.AlertName != "BatchStalled" || m.Labels["batch_id"] != b.BatchID {
					continue
				}
				// Firing once the stall timeout passed after the last
				// progress, in simulated time.
				if want := last.Add(45 * time.Minute); !m.StartsAt.Equal(want) {
					t.Errorf("stalled batch %s: startsAt %v, want %v (last progress + the stall timeout)", b.BatchID, m.StartsAt, want)
				}
				if m.Status == "resolved" && !m.EndsAt.Equal(time.UnixMilli(b.ResumedAt)) {
					t.Errorf("stalled batch %s: endsAt %v, want the resumption %v", b.BatchID, m.EndsAt, time.UnixMilli(b.ResumedAt))
				}
			}
			rcv.mu.Unlock()
		case fact.BatchIncomplete:
			if n := rcv.count("BatchIncomplete", "firing", "batch_id", b.BatchID); n != 1 {
				t.Errorf("incomplete batch %s: %d firing notifications, want exactly 1", b.BatchID, n)
			}
		}
	}
	if n := rcv.count("BatchStalled", "firing", "", "") + rcv.count("BatchIncomplete", "firing", "", ""); n != 2 {
		t.Errorf("%d batch alerts fired in all, want 2 (no healthy batch may alert)", n)
	}
}
