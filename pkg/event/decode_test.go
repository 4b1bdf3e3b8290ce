package event

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestDecodeExamples(t *testing.T) {
	exs := loadExamples(t)
	if len(exs) != int(numTypes)-1 {
		t.Errorf("%d examples, want one per event type (%d)", len(exs), numTypes-1)
	}
	for _, ex := range exs {
		t.Run(ex.name, func(t *testing.T) {
			typ := ParseType(ex.name)
			if typ == TypeUnknown {
				t.Fatalf("example file %s.json names no event type", ex.name)
			}
			for src := Source(0); src < NumSources; src++ {
				e, err := Decode(src, ex.data)
				if !src.Allows(typ) {
					if ReasonOf(err) != ReasonTypeNotAllowed {
						t.Errorf("source %v: err %v, want %s", src, err, ReasonTypeNotAllowed)
					}
					continue
				}
				if err != nil {
					t.Fatalf("source %v: %v", src, err)
				}
				if e.Type != typ {
					t.Errorf("Type = %v, want %v", e.Type, typ)
				}
				if e.ID == "" || e.OccurredAt == 0 {
					t.Errorf("ID %q OccurredAt %d: want both set", e.ID, e.OccurredAt)
				}
			}
		})
	}
}

// TestDecodeFields checks the decoded values of the examples field by field.
func TestDecodeFields(t *testing.T) {
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		typ  string
		want Event
	}{
		{"authorization", Event{
			ID: "5b0f6c2e-8d1a-4f3b-9c6e-2a7d4e1f0b31", Type: Authorization,
			OccurredAt: ms("2026-02-24T02:15:32.481Z"), TraceNo: "612345678901", MerchantID: "M000123",
			TerminalID: "T00871203", ResponseCode: "00", CardBIN: "622848", CardLast4: "0427",
			Currency: "CNY", Amount: 128800, MCC: "5812",
		}},
		{"cleared", Event{
			ID: "c7d2e9a0-1f4b-4c3d-8e6f-0a1b2c3d4e5f", Type: Cleared,
			OccurredAt: ms("2026-02-24T23:42:10+08:00"), TraceNo: "612345678901", MerchantID: "M000123",
			TerminalID: "T00871203", CardBIN: "622848", CardLast4: "0427", Currency: "CNY",
			Amount: 128800, Fee: 773, MCC: "5812", BatchID: "CLR-20260224-01",
		}},
		{"batch_closed", Event{
			ID: "b2f1d4a3-6b7e-4f80-8c9d-2e3f4a5b6c7d", Type: BatchClosed,
			OccurredAt: ms("2026-02-24T23:58:41+08:00"), BatchID: "CLR-20260224-01",
			DeclaredCount: 18422, DeclaredTotal: 276431055,
		}},
		{"heartbeat", Event{
			ID: "hb-pos-switch-01-0000731", Type: Heartbeat, OccurredAt: ms("2026-02-24T02:00:00Z"),
			Producer: "pos-switch-01",
		}},
		{"payout_failed", Event{
			ID: "d2c3d4e5-f6a7-4182-8c9d-1e2f3a4b5c6d", Type: PayoutFailed,
			OccurredAt: ms("2026-02-25T11:40:02+08:00"), TraceNo: "612345678903", MerchantID: "M000456",
			BatchID: "PAY-20260225-T1-01", Amount: 86410, ReasonCode: "ACCOUNT_NAME_MISMATCH",
			Reason: "beneficiary name does not match the account holder", Currency: "CNY",
		}},
		{"merchant", Event{
			ID: "c5f6a7b8-c9d0-44b5-9f10-4b5c6d7e8f90", Type: Merchant,
			OccurredAt: ms("2026-01-05T09:00:00+08:00"), MerchantID: "M000123",
			MerchantName: "杭州西湖小笼包餐饮店", RegisteredMCC: "5812", Mode: T1, FeeRatePPM: 6000,
			AccountRef: "ACCT-REF-00123",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			e, err := Decode(sourceFor(tt.want.Type), exampleOf(t, tt.typ))
			if err != nil {
				t.Fatal(err)
			}
			if e != tt.want {
				t.Errorf("got  %+v\nwant %+v", e, tt.want)
			}
		})
	}
}

// TestDecodeValid covers accepted variations of the examples.
func TestDecodeValid(t *testing.T) {
	auth := exampleOf(t, "authorization")
	tests := []struct {
		name  string
		src   Source
		data  []byte
		check func(e Event) bool
	}{
		{"amount without fraction", Auth, edit(t, auth, set("amount", `"12"`)),
			func(e Event) bool { return e.Amount == 1200 }},
		{"amount with one fraction digit", Auth, edit(t, auth, set("amount", `"12.5"`)),
			func(e Event) bool { return e.Amount == 1250 }},
		{"smallest amount", Auth, edit(t, auth, set("amount", `"0.01"`)),
			func(e Event) bool { return e.Amount == 1 }},
		{"largest amount", Auth, edit(t, auth, set("amount", `"9999999999999999.99"`)),
			func(e Event) bool { return e.Amount == 999999999999999999 }},
		{"currency defaults to CNY", Auth, edit(t, auth, set("currency", "")),
			func(e Event) bool { return e.Currency == "CNY" }},
		{"other currency kept", Auth, edit(t, auth, set("currency", `"HKD"`)),
			func(e Event) bool { return e.Currency == "HKD" }},
		{"null optional field is absent", Auth, edit(t, auth, set("currency", `null`)),
			func(e Event) bool { return e.Currency == "CNY" }},
		{"UTC timestamp", Auth, edit(t, auth, set("occurred_at", `"2026-02-24T02:15:32Z"`)),
			func(e Event) bool { return e.OccurredAt == time.Date(2026, 2, 24, 2, 15, 32, 0, time.UTC).UnixMilli() }},
		{"negative offset and nanoseconds", Auth, edit(t, auth, set("occurred_at", `"2026-02-23T21:15:32.123456789-05:00"`)),
			func(e Event) bool {
				return e.OccurredAt == time.Date(2026, 2, 24, 2, 15, 32, 123e6, time.UTC).UnixMilli()
			}},
		{"year 2100 is allowed", Auth, edit(t, auth, set("occurred_at", `"2100-12-31T23:59:59+08:00"`)),
			func(e Event) bool { return e.OccurredAt > 0 }},
		{"unknown fields ignored", Auth, edit(t, auth, set("x_extra", `{"nested":[1,2,{"a":"b"}],"n":12345678}`)),
			func(e Event) bool { return e.Amount == 128800 }},
		{"inapplicable known field ignored", Auth, edit(t, auth, set("fee", `12`)),
			func(e Event) bool { return e.Fee == 0 }},
		{"escaped strings decoded", Auth, edit(t, auth, set("merchant_id", `"M\u0030001\"23"`)),
			func(e Event) bool { return e.MerchantID == `M0001"23` }},
		{"Luhn-invalid 16 digits are not a card", Auth, edit(t, auth, set("x_ref", `"4111111111111112"`)),
			func(e Event) bool { return e.Type == Authorization }},
		{"20-digit run is not a card", Auth, edit(t, auth, set("x_ref", `"41111111111111111118"`)),
			func(e Event) bool { return e.Type == Authorization }},
		{"heartbeat on clearing", Clearing, exampleOf(t, "heartbeat"),
			func(e Event) bool { return e.Producer == "pos-switch-01" }},
		{"batch_closed on payouts with zero count", Payouts,
			edit(t, exampleOf(t, "batch_closed"), func(m map[string]any) {
				set("declared_count", `0`)(m)
				set("declared_total", `"0"`)(m)
			}),
			func(e Event) bool { return e.DeclaredCount == 0 && e.DeclaredTotal == 0 && e.BatchID != "" }},
		{"cleared with zero fee", Clearing, edit(t, exampleOf(t, "cleared"), set("fee", `"0.00"`)),
			func(e Event) bool { return e.Fee == 0 && e.Amount == 128800 }},
		{"zero fee rate", Merchants, edit(t, exampleOf(t, "merchant"), set("fee_rate", `"0"`)),
			func(e Event) bool { return e.FeeRatePPM == 0 }},
		{"discounted fee rate", Merchants, edit(t, exampleOf(t, "merchant"), set("fee_rate", `"0.0038"`)),
			func(e Event) bool { return e.FeeRatePPM == 3800 }},
		{"6-digit fee rate", Merchants, edit(t, exampleOf(t, "merchant"), set("fee_rate", `"0.999999"`)),
			func(e Event) bool { return e.FeeRatePPM == 999999 }},
		{"D0 mode", Merchants, edit(t, exampleOf(t, "merchant"), set("settlement_mode", `"D0"`)),
			func(e Event) bool { return e.Mode == D0 }},
		{"payout_released without amount", Payouts, edit(t, exampleOf(t, "payout_released"), set("amount", "")),
			func(e Event) bool { return e.Amount == 0 && e.TraceNo == "612345678904" }},
		{"leading whitespace", Auth, append([]byte(" \n\t"), auth...),
			func(e Event) bool { return e.Type == Authorization }},
		{"exactly MaxSize", Auth, padTo(t, auth, MaxSize),
			func(e Event) bool { return e.Type == Authorization }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode(tt.src, tt.data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tt.check(e) {
				t.Errorf("unexpected event %+v", e)
			}
		})
	}
}

// padTo grows the JSON object data to exactly n bytes with an unknown field.
func padTo(tb testing.TB, data []byte, n int) []byte {
	tb.Helper()
	data = bytes.TrimRight(data, " \n")
	const head = `,"x_pad":"`
	fill := n - len(data) - len(head) - len(`"}`) + 1 // +1: the object's '}' is replaced
	if fill < 0 {
		tb.Fatalf("cannot pad %d bytes to %d", len(data), n)
	}
	out := append([]byte{}, data[:len(data)-1]...)
	out = append(out, head...)
	out = append(out, strings.Repeat("a", fill)...)
	out = append(out, `"}`...)
	if len(out) != n {
		tb.Fatalf("padded to %d, want %d", len(out), n)
	}
	return out
}

func TestDecodeInvalid(t *testing.T) {
	auth := exampleOf(t, "authorization")
	cleared := exampleOf(t, "cleared")
	merchant := exampleOf(t, "merchant")
	pan := "4111111111111111"                  // the classic Visa test number
	upan := luhnComplete("621700123456789012") // 19-digit UnionPay-style number
	tests := []struct {
		name   string
		src    Source
		data   []byte
		reason Reason
		field  string
	}{
		// Whole-payload problems.
		{"malformed JSON", Auth, []byte(`{"event_id" "e1", "type": "heartbeat"}`), ReasonMalformedJSON, ""},
		{"truncated JSON", Auth, auth[:len(auth)/2], ReasonMalformedJSON, ""},
		{"trailing garbage", Auth, append(append([]byte{}, auth...), `{}`...), ReasonMalformedJSON, ""},
		{"array, not object", Auth, []byte(`[{"type":"heartbeat"}]`), ReasonMalformedJSON, ""},
		{"JSON null", Auth, []byte(`null`), ReasonMalformedJSON, ""},
		{"empty payload", Auth, nil, ReasonMalformedJSON, ""},
		{"invalid UTF-8", Auth, edit(t, auth, set("merchant_name", "\"caf\xff\"")), ReasonInvalidUTF8, ""},
		{"too large", Auth, padTo(t, auth, MaxSize+1), ReasonTooLarge, ""},

		// Missing fields.
		{"missing event_id", Auth, edit(t, auth, set("event_id", "")), ReasonMissingField, "event_id"},
		{"empty event_id", Auth, edit(t, auth, set("event_id", `""`)), ReasonMissingField, "event_id"},
		{"missing type", Auth, edit(t, auth, set("type", "")), ReasonMissingField, "type"},
		{"missing occurred_at", Auth, edit(t, auth, set("occurred_at", "")), ReasonMissingField, "occurred_at"},
		{"missing trace_no", Auth, edit(t, auth, set("trace_no", "")), ReasonMissingField, "trace_no"},
		{"null trace_no", Auth, edit(t, auth, set("trace_no", "null")), ReasonMissingField, "trace_no"},
		{"missing terminal_id", Auth, edit(t, auth, set("terminal_id", "")), ReasonMissingField, "terminal_id"},
		{"missing card_last4", Auth, edit(t, auth, set("card_last4", "")), ReasonMissingField, "card_last4"},
		{"missing amount", Auth, edit(t, auth, set("amount", "")), ReasonMissingField, "amount"},
		{"empty amount", Auth, edit(t, auth, set("amount", `""`)), ReasonMissingField, "amount"},
		{"missing fee", Clearing, edit(t, cleared, set("fee", "")), ReasonMissingField, "fee"},
		{"missing batch_id", Clearing, edit(t, cleared, set("batch_id", "")), ReasonMissingField, "batch_id"},
		{"missing producer", Payouts, edit(t, exampleOf(t, "heartbeat"), set("producer", "")), ReasonMissingField, "producer"},
		{"missing declared_count", Clearing, edit(t, exampleOf(t, "batch_closed"), set("declared_count", "")), ReasonMissingField, "declared_count"},
		{"missing reason_code on payout_failed", Payouts, edit(t, exampleOf(t, "payout_failed"), set("reason_code", "")), ReasonMissingField, "reason_code"},
		{"missing reason_code on payout_held", Payouts, edit(t, exampleOf(t, "payout_held"), set("reason_code", "")), ReasonMissingField, "reason_code"},
		{"missing settlement_mode", Merchants, edit(t, merchant, set("settlement_mode", "")), ReasonMissingField, "settlement_mode"},
		{"missing fee_rate", Merchants, edit(t, merchant, set("fee_rate", "")), ReasonMissingField, "fee_rate"},

		// Types.
		{"unknown type", Auth, edit(t, auth, set("type", `"refund"`)), ReasonUnknownType, "type"},
		{"type not a string", Auth, edit(t, auth, set("type", `1`)), ReasonBadField, "type"},
		{"cleared on auth topic", Auth, cleared, ReasonTypeNotAllowed, "type"},
		{"authorization on clearing topic", Clearing, auth, ReasonTypeNotAllowed, "type"},
		{"heartbeat on merchants topic", Merchants, exampleOf(t, "heartbeat"), ReasonTypeNotAllowed, "type"},
		{"merchant on payouts topic", Payouts, merchant, ReasonTypeNotAllowed, "type"},
		{"invalid source", NumSources, auth, ReasonTypeNotAllowed, ""},

		// Amounts.
		{"negative amount", Auth, edit(t, auth, set("amount", `"-1"`)), ReasonBadAmount, "amount"},
		{"zero amount", Auth, edit(t, auth, set("amount", `"0"`)), ReasonBadAmount, "amount"},
		{"zero amount with fraction", Auth, edit(t, auth, set("amount", `"0.00"`)), ReasonBadAmount, "amount"},
		{"three fraction digits", Auth, edit(t, auth, set("amount", `"1.234"`)), ReasonBadAmount, "amount"},
		{"exponent", Auth, edit(t, auth, set("amount", `"1e3"`)), ReasonBadAmount, "amount"},
		{"amount as number", Auth, edit(t, auth, set("amount", `1288.00`)), ReasonBadAmount, "amount"},
		{"leading space", Auth, edit(t, auth, set("amount", `" 1"`)), ReasonBadAmount, "amount"},
		{"not a number", Auth, edit(t, auth, set("amount", `"abc"`)), ReasonBadAmount, "amount"},
		{"leading zero", Auth, edit(t, auth, set("amount", `"012"`)), ReasonBadAmount, "amount"},
		{"trailing dot", Auth, edit(t, auth, set("amount", `"12."`)), ReasonBadAmount, "amount"},
		{"overflow", Auth, edit(t, auth, set("amount", `"92233720368547758.08"`)), ReasonBadAmount, "amount"},
		{"negative fee", Clearing, edit(t, cleared, set("fee", `"-0.01"`)), ReasonBadAmount, "fee"},
		{"declared_total 3 decimals", Clearing, edit(t, exampleOf(t, "batch_closed"), set("declared_total", `"1.001"`)), ReasonBadAmount, "declared_total"},

		// Timestamps.
		{"occurred_at without offset", Auth, edit(t, auth, set("occurred_at", `"2026-02-24T10:00:00"`)), ReasonBadTimestamp, "occurred_at"},
		{"occurred_at far future", Auth, edit(t, auth, set("occurred_at", `"2126-02-24T10:00:00+08:00"`)), ReasonBadTimestamp, "occurred_at"},
		{"occurred_at before 2000", Auth, edit(t, auth, set("occurred_at", `"1999-12-31T23:59:59Z"`)), ReasonBadTimestamp, "occurred_at"},
		{"occurred_at date only", Auth, edit(t, auth, set("occurred_at", `"2026-02-24"`)), ReasonBadTimestamp, "occurred_at"},
		{"occurred_at February 30", Auth, edit(t, auth, set("occurred_at", `"2026-02-30T10:00:00Z"`)), ReasonBadTimestamp, "occurred_at"},
		{"occurred_at unix number", Auth, edit(t, auth, set("occurred_at", `1771900800`)), ReasonBadTimestamp, "occurred_at"},

		// Card numbers.
		{"full card number in card_bin", Auth, edit(t, auth, set("card_bin", `"`+pan+`"`)), ReasonCardNumber, "card_bin"},
		{"card number in unknown field", Auth, edit(t, auth, set("x_note", `"customer card `+upan+` ok"`)), ReasonCardNumber, "x_note"},
		{"card number as a JSON number", Auth, edit(t, auth, set("x_ref", pan)), ReasonCardNumber, "x_ref"},
		{"card number nested", Auth, edit(t, auth, set("x_extra", `{"a":[{"pan":"`+pan+`"}]}`)), ReasonCardNumber, "x_extra"},
		{"card number in a key", Auth, edit(t, auth, set("k"+pan, `1`)), ReasonCardNumber, ""},
		{"card number with escaped digits", Auth, edit(t, auth, set("x_esc", `"\u0034`+pan[1:]+`"`)), ReasonCardNumber, "x_esc"},
		{"card number in malformed JSON", Auth, []byte(`{"trace_no": "` + pan), ReasonCardNumber, "trace_no"},
		{"card number with spaces", Auth, edit(t, auth, set("x_note", `"card 6228 4899 1122 3343"`)), ReasonCardNumber, "x_note"},
		{"card number with dashes", Merchants, edit(t, merchant, set("merchant_name", `"6228-4899-1122-3343"`)), ReasonCardNumber, "merchant_name"},
		{"card number in full-width digits", Auth, edit(t, auth, set("x_note", `"６２２８４８９９１１２２３３４３"`)), ReasonCardNumber, "x_note"},
		{"card number with zero-width spaces", Auth, edit(t, auth, set("x_note", `"6228\u200b4899\u200b1122\u200b3343"`)), ReasonCardNumber, "x_note"},
		{"card number as a trace number", Auth, edit(t, auth, set("trace_no", `"6228489911223343"`)), ReasonCardNumber, "trace_no"},

		// Characters a terminal would act on.
		{"ANSI escape in merchant_id", Auth, edit(t, auth, set("merchant_id", `"m\u001b[2J"`)), ReasonBadField, "merchant_id"},
		{"NUL in terminal_id", Auth, edit(t, auth, set("terminal_id", `"t\u0000"`)), ReasonBadField, "terminal_id"},
		{"RTL override in merchant_id", Auth, edit(t, auth, set("merchant_id", `"m\u202e1"`)), ReasonBadField, "merchant_id"},
		{"zero-width space in event_id", Auth, edit(t, auth, set("event_id", `"e\u200b1"`)), ReasonBadField, "event_id"},
		{"RTL override in merchant_name", Merchants, edit(t, merchant, set("merchant_name", `"shop\u202e"`)), ReasonBadField, "merchant_name"},

		// Ambiguous keys.
		{"duplicate amount", Auth, []byte(strings.Replace(string(auth), `"amount": "1288.00",`, `"amount": "1.00", "amount": "1288.00",`, 1)), ReasonBadField, "amount"},
		{"case variant of amount", Auth, edit(t, auth, set("AMOUNT", `"1000.00"`)), ReasonBadField, "amount"},
		{"escaped duplicate key", Auth, []byte(strings.Replace(string(auth), `"amount": "1288.00",`, `"amount": "1.00", "\u0061mount": "1288.00",`, 1)), ReasonBadField, "amount"},
		{"long-s variant", Merchants, edit(t, merchant, func(m map[string]any) {
			delete(m, "settlement_mode")
			m["\u017fettlement_mode"] = "T1"
		}), ReasonBadField, "settlement_mode"},

		// Other fields.
		{"trace_no with space", Auth, edit(t, auth, set("trace_no", `"6123 45678901"`)), ReasonBadField, "trace_no"},
		{"trace_no too long", Auth, edit(t, auth, set("trace_no", `"`+strings.Repeat("A", 33)+`"`)), ReasonBadField, "trace_no"},
		{"trace_no as number", Auth, edit(t, auth, set("trace_no", `612345678901`)), ReasonBadField, "trace_no"},
		{"merchant_id too long", Auth, edit(t, auth, set("merchant_id", `"`+strings.Repeat("商", 65)+`"`)), ReasonBadField, "merchant_id"},
		{"event_id too long", Auth, edit(t, auth, set("event_id", `"`+strings.Repeat("e", 65)+`"`)), ReasonBadField, "event_id"},
		{"mcc with letter", Auth, edit(t, auth, set("mcc", `"58a2"`)), ReasonBadField, "mcc"},
		{"short card_bin", Auth, edit(t, auth, set("card_bin", `"62284"`)), ReasonBadField, "card_bin"},
		{"card_last4 as number", Auth, edit(t, auth, set("card_last4", `427`)), ReasonBadField, "card_last4"},
		{"response_code too long", Auth, edit(t, auth, set("response_code", `"000"`)), ReasonBadField, "response_code"},
		{"lowercase currency", Auth, edit(t, auth, set("currency", `"cny"`)), ReasonBadField, "currency"},
		{"declared_count as string", Clearing, edit(t, exampleOf(t, "batch_closed"), set("declared_count", `"12"`)), ReasonBadField, "declared_count"},
		{"negative declared_count", Clearing, edit(t, exampleOf(t, "batch_closed"), set("declared_count", `-1`)), ReasonBadField, "declared_count"},
		{"fractional declared_count", Clearing, edit(t, exampleOf(t, "batch_closed"), set("declared_count", `1.5`)), ReasonBadField, "declared_count"},
		{"bad settlement_mode", Merchants, edit(t, merchant, set("settlement_mode", `"T2"`)), ReasonBadField, "settlement_mode"},
		{"fee_rate of one", Merchants, edit(t, merchant, set("fee_rate", `"1.0"`)), ReasonBadField, "fee_rate"},
		{"fee_rate 7 digits", Merchants, edit(t, merchant, set("fee_rate", `"0.0060000"`)), ReasonBadField, "fee_rate"},
		{"fee_rate percent", Merchants, edit(t, merchant, set("fee_rate", `"0.6%"`)), ReasonBadField, "fee_rate"},
		{"registered_mcc 3 digits", Merchants, edit(t, merchant, set("registered_mcc", `"581"`)), ReasonBadField, "registered_mcc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode(tt.src, tt.data)
			if err == nil {
				t.Fatalf("Decode accepted %s: %+v", tt.data, e)
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if ve.Reason != tt.reason || ve.Field != tt.field {
				t.Errorf("got reason %q field %q (%v), want %q %q", ve.Reason, ve.Field, err, tt.reason, tt.field)
			}
			if e != (Event{}) {
				t.Errorf("rejected event is not zero: %+v", e)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, string(tt.reason)+": ") {
				t.Errorf("message %q does not start with the reason", msg)
			}
			for _, n := range []string{pan, upan} {
				if strings.Contains(msg, n) || strings.Contains(msg, n[6:12]) {
					t.Errorf("message %q leaks a card number", msg)
				}
			}
			if _, ok := containsCard([]byte(msg)); ok {
				t.Errorf("message %q contains a card number", msg)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	auth := exampleOf(t, "authorization")
	_, err := Decode(Auth, edit(t, auth, set("trace_no", "")))
	if got, want := err.Error(), `missing_field: "trace_no" is required for authorization`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	wrapped := errors.Join(errors.New("ingest"), err)
	if ReasonOf(wrapped) != ReasonMissingField {
		t.Errorf("ReasonOf(wrapped) = %q", ReasonOf(wrapped))
	}
	if ReasonOf(nil) != "" || ReasonOf(errors.New("x")) != "" {
		t.Error("ReasonOf of nil or a foreign error must be empty")
	}
	if got := (&Error{Reason: ReasonTooLarge}).Error(); got != "too_large" {
		t.Errorf("bare error renders %q", got)
	}
}

func TestParseFen(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"0.00", 0, true}, {"0.5", 50, true}, {"0.05", 5, true},
		{"12", 1200, true}, {"12.5", 1250, true}, {"12.50", 1250, true}, {"1234.56", 123456, true},
		{"9999999999999999.99", 999999999999999999, true},
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1.234", 0, false}, {"1e3", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"abc", 0, false}, {"01", 0, false}, {"00", 0, false},
		{".5", 0, false}, {"1.", 0, false}, {"1..2", 0, false}, {"1,5", 0, false},
		{"10000000000000000", 0, false}, {"92233720368547758.07", 0, false}, {"１２", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseFen(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseFen(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestParseFenOracle checks parseFen against shopspring/decimal on every
// string it accepts, over a systematic set of inputs.
func TestParseFenOracle(t *testing.T) {
	parts := []string{"", "0", "1", "9", "10", "12", "100", "999", "1234567890123456", "12345678901234567"}
	fracs := []string{"", ".", ".0", ".5", ".05", ".50", ".99", ".123", "e2", ".5e1"}
	signs := []string{"", "-", "+"}
	n := 0
	for _, sg := range signs {
		for _, p := range parts {
			for _, f := range fracs {
				s := sg + p + f
				fen, ok := parseFen(s)
				d, derr := decimal.NewFromString(s)
				if !ok {
					continue
				}
				n++
				if derr != nil {
					t.Errorf("parseFen accepted %q, decimal rejects it: %v", s, derr)
					continue
				}
				if !d.Mul(decimal.NewFromInt(100)).Equal(decimal.NewFromInt(fen)) {
					t.Errorf("parseFen(%q) = %d fen, decimal says %s", s, fen, d)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d inputs accepted; the oracle test checks too little", n)
	}
}

func TestParseTimestamp(t *testing.T) {
	valid := []string{
		"2026-02-24T10:00:00+08:00", "2026-02-24T10:00:00Z", "2026-02-24t10:00:00z",
		"2026-02-24T10:00:00.5+08:00", "2026-02-24T10:00:00.123456789-03:30",
		"2024-02-29T00:00:00Z", "2000-01-01T00:00:00Z", "2100-12-31T23:59:59+14:00",
		"2026-02-24T10:00:00-00:00",
	}
	for _, s := range valid {
		got, _, ok := parseTimestamp(s)
		want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)) // RFC 3339 allows t and z; Go does not
		if err != nil {
			t.Fatalf("oracle rejects %q: %v", s, err)
		}
		if !ok || got != want.UnixMilli() {
			t.Errorf("parseTimestamp(%q) = %d, %v; want %d", s, got, ok, want.UnixMilli())
		}
	}
	invalid := []string{
		"", "2026-02-24T10:00:00", "2026-02-24T10:00:00.123", "2026-02-24 10:00:00+08:00",
		"2026-02-24T10:00:00+0800", "2026-02-24T10:00:00+08", "2026-02-24T10:00:00 +08:00",
		"2026-02-24T24:00:00Z", "2026-02-24T10:60:00Z", "2026-02-24T10:00:60Z", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-02-24T10:00:00.Z",
		"2026-02-24T10:00:00.1234567890Z", "2026-02-24T10:00:00+24:00", "2026-02-24T10:00:00+08:60",
		"2026-2-24T10:00:00Z", "+2026-02-24T10:00:00Z", "2026-02-24T10:00:00ZZ", "2026-02-24T10:00:00+08:00 ",
		"２０２６-02-24T10:00:00Z",
	}
	for _, s := range invalid {
		if ms, _, ok := parseTimestamp(s); ok {
			t.Errorf("parseTimestamp(%q) accepted: %d", s, ms)
		}
	}
}

// BenchmarkParseTimestamp parses the timestamp shapes the feeds send: whole
// seconds, milliseconds, UTC.
func BenchmarkParseTimestamp(b *testing.B) {
	in := []string{"2026-02-24T10:15:32+08:00", "2026-02-24T10:15:32.481+08:00", "2026-02-24T02:15:32.481Z"}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range in {
			if _, _, ok := parseTimestamp(s); !ok {
				b.Fatal(s)
			}
		}
	}
}

func TestParsePPM(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"0.0", 0, true}, {"0.006", 6000, true}, {"0.0060", 6000, true},
		{"0.0038", 3800, true}, {"0.000001", 1, true}, {"0.999999", 999999, true},
		{"", 0, false}, {"1", 0, false}, {"1.0", 0, false}, {"0.", 0, false}, {".006", 0, false},
		{"0.0000001", 0, false}, {"-0.006", 0, false}, {"0.6%", 0, false}, {"00.1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parsePPM(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePPM(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	// A compact, ~300-byte authorization, as a POS switch would send it.
	data := []byte(`{"event_id":"5b0f6c2e-8d1a-4f3b-9c6e-2a7d4e1f0b31","type":"authorization",` +
		`"occurred_at":"2026-02-24T10:15:32.481+08:00","trace_no":"612345678901","merchant_id":"M000123",` +
		`"terminal_id":"T00871203","response_code":"00","amount":"1288.00","currency":"CNY","mcc":"5812",` +
		`"card_bin":"622848","card_last4":"0427","channel":"pos","entry_mode":"chip"}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(Auth, data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeAllocs checks that an accepted event costs one allocation, its
// strings (allowing one more for a JSON decoder the pool let go).
func TestDecodeAllocs(t *testing.T) {
	for _, ex := range loadExamples(t) {
		src := sourceFor(ParseType(ex.name))
		n := testing.AllocsPerRun(100, func() {
			if _, err := Decode(src, ex.data); err != nil {
				t.Fatal(err)
			}
		})
		if n > 2 {
			t.Errorf("%s: Decode allocates %v times", ex.name, n)
		}
	}
}

// TestDecodeMalformedDetail checks that a JSON syntax error is told in a few
// words however deep it is.
func TestDecodeMalformedDetail(t *testing.T) {
	deep := []byte(`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`)
	for _, data := range [][]byte{deep, deep[:len(deep)/2], []byte(`{"a":[[{"b":[1,]}]]}`)} {
		_, err := Decode(Auth, data)
		if ReasonOf(err) != ReasonMalformedJSON {
			t.Fatalf("Decode: %v, want %s", err, ReasonMalformedJSON)
		}
		if len(err.Error()) > 200 {
			t.Errorf("error is %d bytes: %.300s", len(err.Error()), err)
		}
	}
}

// TestAmountLimits holds every money field to the Decimal(18,2) limit of the
// ClickHouse columns: 9999999999999999.99 is accepted as MaxFen, one more
// integer digit is dead-lettered as bad_amount with a reason that names the
// limit.
func TestAmountLimits(t *testing.T) {
	const limit, beyond = `"9999999999999999.99"`, `"10000000000000000.00"`
	tests := []struct {
		name  string
		src   Source
		typ   string
		field string
		got   func(Event) int64
	}{
		{"authorization amount", Auth, "authorization", "amount", func(e Event) int64 { return e.Amount }},
		{"cleared amount", Clearing, "cleared", "amount", func(e Event) int64 { return e.Amount }},
		{"cleared fee", Clearing, "cleared", "fee", func(e Event) int64 { return e.Fee }},
		{"payout amount", Payouts, "payout_paid", "amount", func(e Event) int64 { return e.Amount }},
		{"declared total", Clearing, "batch_closed", "declared_total", func(e Event) int64 { return e.DeclaredTotal }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := exampleOf(t, tt.typ)
			e, err := Decode(tt.src, edit(t, ex, set(tt.field, limit)))
			if err != nil {
				t.Fatalf("the Decimal(18,2) limit is rejected: %v", err)
			}
			if got := tt.got(e); got != MaxFen {
				t.Errorf("%s = %d fen, want MaxFen %d", tt.field, got, int64(MaxFen))
			}
			for _, v := range []string{beyond, `"10000000000000000"`, `"99999999999999999.9"`} {
				_, err = Decode(tt.src, edit(t, ex, set(tt.field, v)))
				var ve *Error
				if !errors.As(err, &ve) || ve.Reason != ReasonBadAmount || ve.Field != tt.field || !strings.Contains(ve.Detail, "Decimal(18,2)") {
					t.Errorf("%s %s: got %v, want bad_amount naming the Decimal(18,2) limit", tt.field, v, err)
				}
			}
		})
	}
}
