package alert

import (
	"encoding/json"
	"maps"
	"regexp"
	"testing"
	"time"
	"unicode"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// englishRun finds two English words in a row: an untranslated sentence.
// Identifiers (payout_overdue, anomalies_latest, the anomaly id
// batch_stalled:payouts:PB-1:1) are single tokens and pass.
var englishRun = regexp.MustCompile(`(?i)\b[a-z]{2,}\b[ ,;]+\b[a-z]{2,}\b`)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestAnnotationsInChinese: every alert's summary, description and action
// read in Chinese with Lang zh-CN; the labels, and so the fingerprints, are
// the English alerts'.
func TestAnnotationsInChinese(t *testing.T) {
	zh := text.NewPrinter(text.Chinese, time.UTC)
	en := text.NewPrinter(text.English, time.UTC)
	tx, _ := fact.Describe(fact.BatchStalled)
	stalled := fact.Anomaly{ID: "batch_stalled:payouts:PB-1:1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Resolved,
		BatchID: "PB-1", DetectedAt: t0.UnixMilli(), ResolvedAt: t0.Add(time.Hour).UnixMilli(),
		Details: "payouts batch PB-1 stopped progressing", Action: tx.Action, Version: 10}
	incomplete := fact.Anomaly{ID: "batch_incomplete:clearing:CB-7", Kind: fact.BatchIncomplete, Status: fact.Open, BatchID: "CB-7",
		DetectedAt: t0.UnixMilli(), Amount: 990000, ExpectedAmount: 1000000,
		Args: fact.Args{Source: event.Clearing, Count: 99, DeclaredCount: 100}}
	rows := []store.SourceStatus{{Source: "payouts", Status: "lagging", WatermarkLagS: 7200, ThresholdS: 1800, Watermark: t0.UnixMilli()}}
	build := func(p *text.Printer) []Condition {
		var cs []Condition
		cs = append(cs, batchConditions(p, []fact.Anomaly{stalled, incomplete})...)
		cs = append(cs, sourceConditions(p, rows)...)
		cs = append(cs, overdueConditions(p, 150, 123_456_789, 100, 1_000_000_00)...)
		cs = append(cs, deadLetterConditions(p, 101, 5*time.Minute, 100)...)
		cs = append(cs, incidentConditions(p, []incident.Summary{{Key: incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2025-10-01"},
			Kinds: []fact.Kind{fact.PayoutOverdue}, Severity: fact.Critical, Status: fact.Open, Anomalies: 256, Open: 256, Traces: 256,
			Amount: 128_800, Merchants: 141, SomeMerchants: []string{"M1", "M2"}, FirstAt: t0.UnixMilli(), LastAt: t0.Add(time.Hour).UnixMilli()}}, 10)...)
		return cs
	}
	zhs, ens := build(zh), build(en)
	if len(zhs) != 6 || len(ens) != 6 {
		t.Fatalf("%d and %d conditions, want 6", len(zhs), len(ens))
	}
	for i, c := range zhs {
		if !maps.Equal(c.Labels, ens[i].Labels) || c.Fingerprint() != ens[i].Fingerprint() {
			t.Errorf("%s: labels %v, English %v", c.Name(), c.Labels, ens[i].Labels)
		}
		for _, k := range []string{AnnotationSummary, AnnotationDescription, AnnotationAction} {
			s := c.Annotations[k]
			if !hasHan(s) || englishRun.MatchString(s) {
				t.Errorf("%s %s not Chinese: %q", c.Name(), k, s)
			}
		}
	}
	if s := zhs[3].Annotations[AnnotationSummary]; s != "150 笔出款逾期，合计 ¥1,234,567.89" {
		t.Errorf("PayoutsOverdue summary = %q", s)
	}
	if s := zhs[4].Annotations[AnnotationSummary]; s != "最近 5分钟 内有 101 条消息进入死信" {
		t.Errorf("DeadLetterRate summary = %q", s)
	}
	if s := zhs[5].Annotations[AnnotationSummary]; s != "应于2025年10月1日（周三）到账的 T1 出款未获银行确认：256 笔交易，合计 ¥1,288.00，涉及 141 户商户" {
		t.Errorf("Incident summary = %q", s)
	}
	if s := ens[5].Annotations[AnnotationSummary]; s != "T1 payouts due on 2025-10-01 not confirmed by the bank: 256 traces, 1,288.00 yuan, 141 merchants" {
		t.Errorf("Incident summary in English = %q", s)
	}
	if s := zhs[1].Annotations[AnnotationDescription]; s != "clearing 批次 CB-7 关闭时声明 100 条记录、合计 ¥10,000.00；实际到达 99 条、合计 ¥9,900.00（记录数 -1，金额 -¥100.00）（异常 batch_incomplete:clearing:CB-7，发现于 2025-10-01T02:00:00Z）" {
		t.Errorf("BatchIncomplete description = %q", s)
	}
}

func TestConfigLang(t *testing.T) {
	for _, l := range []text.Lang{"", text.English, text.Chinese, "zh"} {
		c := DefaultConfig()
		c.Lang, c.WebhookURL = l, "http://127.0.0.1:1/hook"
		if err := c.Validate(); err != nil {
			t.Errorf("Lang %q: %v", l, err)
		}
	}
	c := DefaultConfig()
	c.Lang = "fr"
	if err := c.Validate(); err == nil {
		t.Error("Lang fr accepted")
	}
}

// TestMessagesRenderInTheReadersLanguage: the messages an alerter stores
// with its annotations, after a JSON round trip (the alerts table), render
// in either language exactly as an alerter of that language renders its
// annotations, whatever the language of the alerter that stored them.
func TestMessagesRenderInTheReadersLanguage(t *testing.T) {
	incomplete := fact.Anomaly{ID: "batch_incomplete:clearing:CB-7", Kind: fact.BatchIncomplete, Status: fact.Open, BatchID: "CB-7",
		DetectedAt: t0.UnixMilli(), Amount: 990000, ExpectedAmount: 1000000,
		Args: fact.Args{Source: event.Clearing, Count: 99, DeclaredCount: 100}}
	tx, _ := fact.Describe(fact.BatchStalled)
	stalled := fact.Anomaly{ID: "batch_stalled:payouts:PB-1:1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Resolved,
		BatchID: "PB-1", DetectedAt: t0.UnixMilli(), ResolvedAt: t0.Add(time.Hour).UnixMilli(),
		Details: "payouts batch PB-1 stopped progressing", Action: tx.Action, Version: 10}
	build := func(p *text.Printer) []Condition {
		var cs []Condition
		cs = append(cs, batchConditions(p, []fact.Anomaly{stalled, incomplete})...)
		cs = append(cs, sourceConditions(p, []store.SourceStatus{{Source: "payouts", Status: "lagging", WatermarkLagS: 7200, ThresholdS: 1800, Watermark: t0.UnixMilli()}})...)
		cs = append(cs, overdueConditions(p, 150, 123_456_789, 100, 1_000_000_00)...)
		cs = append(cs, deadLetterConditions(p, 101, 5*time.Minute, 100)...)
		cs = append(cs, incidentConditions(p, []incident.Summary{
			{Key: incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2025-10-01"}, Kinds: []fact.Kind{fact.PayoutOverdue, fact.PayoutFailed},
				Severity: fact.Critical, Status: fact.Open, Anomalies: 256, Open: 256, Traces: 256, Amount: 128_800, Merchants: 141,
				SomeMerchants: []string{"M1", "M2"}, FirstAt: t0.UnixMilli(), LastAt: t0.Add(time.Hour).UnixMilli()},
			{Key: incident.Key{Class: incident.Account, MerchantID: "M9"}, Kinds: []fact.Kind{fact.PayoutFailed},
				Severity: fact.Critical, Status: fact.Open, Anomalies: 3, Open: 3, Traces: 3, Amount: 300, FirstAt: t0.UnixMilli(), LastAt: t0.UnixMilli()},
		}, 1)...)
		return cs
	}
	byLang := map[text.Lang][]Condition{}
	for _, l := range text.Langs() {
		byLang[l] = build(text.NewPrinter(l, time.UTC))
	}
	for _, stored := range text.Langs() {
		for i, c := range byLang[stored] {
			if len(c.Messages) != 3 {
				t.Fatalf("%s: %d messages, want summary, description and action", c.Name(), len(c.Messages))
			}
			rec := toStore(Record{Fingerprint: c.Fingerprint(), Annotations: c.Annotations, Messages: c.Messages})
			b, err := json.Marshal(rec.Messages)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]text.Msg
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			for _, reader := range text.Langs() {
				got := text.NewPrinter(reader, time.UTC).RenderAll(back)
				if want := byLang[reader][i].Annotations; !maps.Equal(got, want) {
					t.Errorf("%s stored by a %s alerter, read in %s:\n got %v\nwant %v", c.Name(), stored, reader, got, want)
				}
			}
		}
	}
}
