package report

import (
	"bytes"
	"strings"
	"testing"

	"settlemon/pkg/store"
)

func TestReconciliation(t *testing.T) {
	tests := []struct {
		name     string
		topics   []TopicLine
		balanced bool
		verdict  string
	}{
		{"every message accounted for", []TopicLine{{Topic: "a", Messages: 10, Archived: 6, Control: 3, DeadLetters: 1}}, true, "BALANCED"},
		{"a message without a fate", []TopicLine{{Topic: "a", Messages: 10, Archived: 6, Control: 3}}, false, "NOT BALANCED"},
		{"more fates than messages", []TopicLine{{Topic: "a", Messages: 9, Archived: 6, Control: 3, DeadLetters: 1}}, false, "NOT BALANCED"},
		{"no topics proves nothing", nil, false, "NOT BALANCED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Topics: tc.topics, Database: "settle", ClickHouse: "127.0.0.1:19000",
				LagByMode: []store.ModeLag{{Mode: "T1", Paid: 3, P50: 3600, P95: 7200, P99: 9000}},
				Anomalies: map[string]uint64{"payout_failed": 2}}
			if r.Balanced() != tc.balanced {
				t.Errorf("Balanced() = %v, want %v", r.Balanced(), tc.balanced)
			}
			var b bytes.Buffer
			r.WriteText(&b)
			out := b.String()
			if !strings.Contains(out, tc.verdict) {
				t.Errorf("report lacks %q:\n%s", tc.verdict, out)
			}
			for _, want := range []string{"payout_failed          2", "T1", "3600 (1.0h)", "clickhouse-client --host 127.0.0.1 --port 19000 --database settle"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestUnknownBankCodesLine(t *testing.T) {
	tests := []struct {
		name  string
		codes []store.UnknownBankCode
		total uint64
		want  []string
	}{
		{"none", nil, 0, []string{"every failed payout's code is in the return-code catalogue"}},
		{"two codes", []store.UnknownBankCode{{Code: "E_NEW", CatalogVersion: "cn-bank-return-codes-2026.1", Payouts: 3, LatestFailedAtS: 1790000000}, {Code: "X9", CatalogVersion: "cn-bank-return-codes-2026.1", Payouts: 1}}, 4,
			[]string{"not in the return-code catalogue: 4 failed payouts mapped to other", "--bank-codes-file", "E_NEW", "     3", "X9"}},
		{"more than shown", []store.UnknownBankCode{{Code: "E_NEW", Payouts: 3}}, 10, []string{"10 failed payouts", "… and 7 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			Report{UnknownCodes: tt.codes, UnknownCodePayouts: tt.total}.WriteText(&b)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestWriteTextEscapes: names read from the store are printed escaped.
func TestWriteTextEscapes(t *testing.T) {
	const evil = "M\x00\x1b[31m\u202E1"
	r := Report{Database: "settle", ClickHouse: "127.0.0.1:19000",
		Topics:      []TopicLine{{Topic: "t\x1b[2J", Messages: 1, Archived: 1}},
		DeadReasons: map[string]uint64{"bad\u2066field": 1},
		LagByMode:   []store.ModeLag{{Mode: "T\u202E1", Paid: 1}},
		Anomalies:   map[string]uint64{"kind\x07": 1},
		Examples:    map[string]string{"payout_failed": evil}}
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for _, want := range []string{`t\x1b[2J`, `bad\u2066field`, `T\u202e1`, `kind\x07`, `explain M\x00\x1b[31m\u202e1`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x00\x1b\x07\u202e\u2066") {
		t.Errorf("report holds a control or bidi character raw: %q", out)
	}
}
