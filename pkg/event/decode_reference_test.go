package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"settlemon/pkg/pan"
)

// The reference decoder: Decode as it was before the jx scanner, built on
// encoding/json (json.Unmarshal into refWire, then checkKeys for duplicate
// and mis-cased keys). It is kept, test-only, as the oracle of
// FuzzDecodeMatchesReference: Decode must take exactly the same decisions.

func decodeReference(src Source, data []byte) (Event, error) {
	if src >= NumSources {
		return Event{}, newError(ReasonTypeNotAllowed, "", "unknown source "+src.String())
	}
	if len(data) > MaxSize {
		return Event{}, newError(ReasonTooLarge, "",
			"payload is "+strconv.Itoa(len(data))+" bytes, the limit is "+strconv.Itoa(MaxSize))
	}
	if !utf8.Valid(data) {
		return Event{}, newError(ReasonInvalidUTF8, "", "payload is not valid UTF-8")
	}
	if off, _, ok := pan.Default().Find(data, 0); ok {
		return Event{}, newError(ReasonCardNumber, keyAt(data, off),
			"contains a full card number (13-19 digits in a card scheme's issuer range passing the Luhn check, separators ignored); send only card_bin and card_last4")
	}
	if i := skipSpace(data, 0); i == len(data) || data[i] != '{' {
		return Event{}, newError(ReasonMalformedJSON, "", "payload must be a JSON object")
	}
	var rw refWire
	if err := json.Unmarshal(data, &rw); err != nil {
		return Event{}, malformedReference(err)
	}
	if err := checkKeys(data); err != nil {
		return Event{}, err
	}
	w := wire(rw)
	c := checker{}
	e := c.event(src, &w)
	if c.err != nil {
		return Event{}, c.err
	}
	return e, nil
}

func malformedReference(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return newError(ReasonMalformedJSON, "", se.Error()+" (at byte "+strconv.FormatInt(se.Offset, 10)+")")
	}
	return newError(ReasonMalformedJSON, "", "not a valid JSON object")
}

// refWire is wire with the JSON names for encoding/json; it converts to
// wire (struct tags do not matter to conversions).
type refWire struct {
	EventID       wval `json:"event_id"`
	Type          wval `json:"type"`
	OccurredAt    wval `json:"occurred_at"`
	TraceNo       wval `json:"trace_no"`
	MerchantID    wval `json:"merchant_id"`
	TerminalID    wval `json:"terminal_id"`
	ResponseCode  wval `json:"response_code"`
	CardBIN       wval `json:"card_bin"`
	CardLast4     wval `json:"card_last4"`
	Currency      wval `json:"currency"`
	Amount        wval `json:"amount"`
	Fee           wval `json:"fee"`
	MCC           wval `json:"mcc"`
	BatchID       wval `json:"batch_id"`
	DeclaredCount wval `json:"declared_count"`
	DeclaredTotal wval `json:"declared_total"`
	ReasonCode    wval `json:"reason_code"`
	Reason        wval `json:"reason"`
	Producer      wval `json:"producer"`
	MerchantName  wval `json:"merchant_name"`
	RegisteredMCC wval `json:"registered_mcc"`
	Mode          wval `json:"settlement_mode"`
	FeeRate       wval `json:"fee_rate"`
	AccountRef    wval `json:"account_ref"`
}

// UnmarshalJSON makes a wval readable by encoding/json, for the reference
// decoder only: any JSON value, so that a wrong JSON type is reported by the
// checker (only where the field applies) rather than by encoding/json.
func (v *wval) UnmarshalJSON(b []byte) error {
	*v = wval{}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
		return nil
	case '"':
		v.kind = kindString
		if bytes.IndexByte(b, '\\') < 0 {
			v.s = string(b[1 : len(b)-1])
			return nil
		}
		return json.Unmarshal(b, &v.s)
	case 't', 'f':
		v.kind = kindBool
	case '{':
		v.kind = kindObject
	case '[':
		v.kind = kindArray
	default:
		v.kind = kindNumber
		v.s = string(b)
	}
	return nil
}

// checkKeys rejects top-level keys that make a payload ambiguous:
// encoding/json keeps the last of duplicate keys and matches names without
// regard to case, so {"amount":"1.00","AMOUNT":"1000.00"} would decode as
// 1000.00 while a schema-based reader sees 1.00. A known field must appear
// once and spelled exactly. data must be a syntactically valid JSON object.
func checkKeys(data []byte) *Error {
	var seen uint32
	i := skipSpace(data, 0) + 1 // past '{'
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] == '}' {
			return nil
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		start, end := i, skipString(data, i)
		name := data[start+1 : end-1]
		i = skipSpace(data, end)
		i = skipValue(data, skipSpace(data, i+1)) // past ':' and the value
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(data[start:end], &s); err != nil {
				return newError(ReasonMalformedJSON, "", "bad object key")
			}
			name = []byte(s)
		}
		exact, fold := -1, -1
		for k, f := range knownFields {
			if string(name) == f {
				exact = k
				break
			}
		}
		if exact < 0 {
			// Unicode simple folding, as encoding/json matches: "ſ" is "s".
			for k, f := range knownFields {
				if bytes.EqualFold([]byte(f), name) {
					fold = k
					break
				}
			}
		}
		switch {
		case exact >= 0:
			if seen&(1<<exact) != 0 {
				return newError(ReasonBadField, knownFields[exact], "appears more than once")
			}
			seen |= 1 << exact
		case fold >= 0:
			return newError(ReasonBadField, knownFields[fold],
				"is misspelt as "+quoteShort(string(name))+" (field names are case-sensitive)")
		}
	}
}

// skipString returns the offset just past the JSON string starting at i.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// skipValue returns the offset just past the JSON value starting at i.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// sameDecision reports how Decode's result (e, err) differs from the
// reference decoder's (re, rerr), or "" when it does not: the same
// acceptance, the same Reason and Field, the same Detail except for the
// wording of JSON syntax errors, and on success the same Event.
func sameDecision(e Event, err error, re Event, rerr error) string {
	if (err == nil) != (rerr == nil) {
		return "Decode error " + errString(err) + ", reference error " + errString(rerr)
	}
	if err != nil {
		var ve, rve *Error
		if !errors.As(err, &ve) || !errors.As(rerr, &rve) {
			return "not an *Error: " + errString(err) + " / " + errString(rerr)
		}
		if ve.Reason != rve.Reason || ve.Field != rve.Field ||
			(ve.Reason != ReasonMalformedJSON && ve.Detail != rve.Detail) {
			return "Decode error " + errString(err) + ", reference error " + errString(rerr)
		}
		return ""
	}
	if e != re {
		return "Decode event " + eventString(e) + ", reference event " + eventString(re)
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strconv.Quote(err.Error())
}

func eventString(e Event) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// trickyDecodeInputs are payloads on the edges of JSON syntax and of the key
// rules, for FuzzDecodeMatchesReference's seed corpus.
func trickyDecodeInputs(tb testing.TB) [][]byte {
	tb.Helper()
	const auth = `{"event_id":"e-1","type":"authorization","occurred_at":"2026-02-24T10:15:32.481+08:00",` +
		`"trace_no":"612345678901","merchant_id":"M000123","terminal_id":"T00871203","response_code":"00",` +
		`"amount":"1288.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`
	// with replaces the first old in auth by new.
	with := func(old, new string) []byte { return []byte(strings.Replace(auth, old, new, 1)) }
	// field sets merchant_id's raw JSON value.
	field := func(v string) []byte { return with(`"merchant_id":"M000123"`, `"merchant_id":`+v) }
	// extra adds a member after the first.
	extra := func(member string) []byte { return with(`"e-1",`, `"e-1",`+member+`,`) }
	out := [][]byte{
		[]byte(auth),
		// Duplicate and mis-cased keys.
		extra(`"amount":"1.00"`),
		extra(`"currency":null`),
		extra(`"x":1,"x":2`),
		extra(`"AMOUNT":"1000.00"`),
		extra(`"Amount":"1000.00"`),
		extra(`"\u0061mount":"1.00"`),
		extra(`"\u0041mount":"1.00"`),
		extra(`"amount\u0000":"1.00"`),
		extra(`"ſettlement_mode":"T1"`),
		extra(`"\u017fettlement_mode":"T1"`),
		extra(`"Ｍcc":"1"`),
		extra(`"":1`),
		extra(`"AMOUNT":"1","amount":"2"`),
		extra(`"mcc":"1","MCC":"2","mcc":"3"`),
		extra(`"\ud800amount":1`),
		extra(`"ev\ud83d\ude00ent_id":1`),
		// Escapes and Unicode escapes in values.
		field(`"M\u0030001\"23"`),
		field(`"\/\b\f\n\r\t\\\""`),
		field(`"\u0000"`),
		field(`"a\u0000b"`),
		field(`"\ud83d\ude00"`),
		field(`"\uD83D\uDE00"`),
		field(`"\ud83d"`),
		field(`"\ude00"`),
		field(`"\ud83d\ud83d\ude00"`),
		field(`"\ude00\ud83d\ude00"`),
		field(`"\ud800\u0041"`),
		field(`"\ud800\n"`),
		field(`"\ud800x"`),
		field(`"\ud800\\"`),
		field(`"x\ud800"`),
		field(`"\ud800\ud800"`),
		field(`"\ud800\ud800\ud800\udc00"`),
		field(`"\ud800\udbff\udfff"`),
		field(`"�"`),
		field(`"\ufffd"`),
		field(`"\x"`),
		field(`"\u12"`),
		field(`"\u12g4"`),
		field(`"\U0041"`),
		field(`"\'"`),
		field("\"a\tb\""),
		field("\"a\x00b\""),
		field("\"a\x1fb\""),
		field("\"a\x7fb\""),
		field(`"` + strings.Repeat(`\u5546`, 64) + `"`),
		field(`"` + strings.Repeat(`\u5546`, 65) + `"`),
		with(`"e-1"`, `"e\u002d1"`),
		with(`"e-1"`, `"\ud83d"`),
		with(`"authorization"`, `"authori\u007aation"`),
		with(`"00"`, `"\u0030\u0030"`),
		// Nested unknown fields.
		extra(`"x":{"a":[1,{"b":[[],{}]}],"c":{"d":null}}`),
		extra(`"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999)),
		extra(`"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000)),
		extra(`"x":` + strings.Repeat(`{"a":`, 9999) + "1" + strings.Repeat("}", 9999)),
		extra(`"x":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)),
		extra(`"x":[1,]`),
		extra(`"x":{"a":1,}`),
		extra(`"x":{"a"}`),
		extra(`"x":{1:2}`),
		extra(`"x":[1 2]`),
		extra(`"mcc":{"a":"b"}`),
		extra(`"fee":[1]`),
		// Trailing data and white space.
		[]byte(auth + `{}`),
		[]byte(auth + ` x`),
		[]byte(auth + "\n"),
		[]byte(auth + " \t\r\n"),
		[]byte(auth + `}`),
		[]byte(auth + `]`),
		[]byte(auth + `,`),
		[]byte(auth + `"x"`),
		[]byte(auth + `0`),
		[]byte(auth + `null`),
		[]byte(auth + "\x00"),
		[]byte(auth + "\f"),
		[]byte(auth + "\u00a0"),
		[]byte(" \r\n\t" + auth),
		[]byte("\ufeff" + auth),
		[]byte(strings.NewReplacer(`,`, " ,\r\n\t", `:`, "\t: ", `{`, "{ ", `}`, "\n}").Replace(auth)),
		[]byte(strings.Replace(auth, `,`, "\f,", 1)),
		[]byte(strings.Replace(auth, `,`, "\v,", 1)),
		[]byte(strings.Replace(auth, `,`, "\u00a0,", 1)),
		[]byte(strings.Replace(auth, `,`, ",,", 1)),
		[]byte(strings.Replace(auth, `:`, "::", 1)),
		[]byte(auth[:len(auth)-1]),
		[]byte(auth[:len(auth)-1] + `,}`),
		[]byte(`{}`),
		[]byte(`{ }`),
		[]byte(`{`),
		[]byte(`{"`),
		[]byte(`{"a"`),
		[]byte(`{"a":`),
		[]byte(`{,"a":1}`),
		[]byte(`{"a":1 "b":2}`),
		[]byte(`{'a':1}`),
		[]byte(`{a:1}`),
		// Card numbers, literal or escaped, and near misses.
		extra(`"x":"4111111111111111"`),
		extra(`"x":4111111111111111`),
		extra(`"x":"\u0034111111111111111"`),
		extra(`"x":"\\u0034111111111111111"`),
		extra(`"x":"41111111111\u00311111"`),
		extra(`"x":"4111111111111112"`),
		extra(`"x":"41111111111111111118"`),
		extra(`"x":"411111111116"`),
		extra(`"x":"\u003"`),
		extra(`"x\u0034111111111111111":1`),
		[]byte(`{"trace_no": "4111111111111111`),
		[]byte(`4111111111111111`),
		[]byte(auth + `4111111111111111`),
		// Numbers, also where strings belong.
		field(`612345678901`),
		with(`"1288.00"`, `1288.00`),
		with(`"612345678901"`, `612345678901`),
		field(`01`), field(`-01`), field(`1.`), field(`-`), field(`-0`), field(`-0.0`), field(`.5`),
		field(`+1`), field(`1e5`), field(`1E+5`), field(`1e-05`), field(`1e`), field(`1e+`), field(`1.e5`),
		field(`0e0`), field(`0.0e-0`), field(`1.5e3`), field(`00`), field(`0x1`), field(`1_000`),
		field(`1.2.3`), field(`1e5e5`), field(`1ee5`), field(`- 1`), field(`Infinity`), field(`NaN`),
		field(`123456789012345678901234567890`),
		// Literals and nulls.
		field(`null`), field(`true`), field(`false`), field(`nul`), field(`tru`), field(`fals`),
		field(`True`), field(`nulll`), field(`truex`), field(`[]`), field(`{}`), field(``),
		with(`"e-1"`, `null`),
		with(`"authorization"`, `null`),
		with(`"2026-02-24T10:15:32.481+08:00"`, `null`),
		with(`"1288.00"`, `null`),
	}
	// batch_closed's declared_count is the one number field.
	for _, n := range []string{`0`, `18422`, `-0`, `1.0`, `1e3`, `018`, `"12"`, `null`, `123456789012345678`, `1234567890123456789`} {
		out = append(out, []byte(`{"event_id":"b","type":"batch_closed","occurred_at":"2026-02-24T23:58:41+08:00",`+
			`"batch_id":"CLR-1","declared_count":`+n+`,"declared_total":"1.00"}`))
	}
	return out
}

// FuzzDecodeMatchesReference checks that Decode takes the decisions of the
// reference decoder built on encoding/json (decodeReference) on any input.
func FuzzDecodeMatchesReference(f *testing.F) {
	for _, ex := range loadExamples(f) {
		f.Add(uint8(sourceFor(ParseType(ex.name))), ex.data)
	}
	f.Add(uint8(Auth), []byte(`{"event_id":"e","type":"authorization","card_bin":"4111111111111111"}`))
	f.Add(uint8(Auth), []byte(`{"x":"\u00341111111111111111"}`))
	for _, data := range trickyDecodeInputs(f) {
		f.Add(uint8(Auth), data)
	}
	f.Fuzz(func(t *testing.T, src uint8, data []byte) {
		e, err := Decode(Source(src), data)
		re, rerr := decodeReference(Source(src), data)
		if diff := sameDecision(e, err, re, rerr); diff != "" {
			t.Fatalf("source %d, payload %q:\n%s", src, data, diff)
		}
	})
}

// TestDecodeMatchesReference runs the tricky inputs on every source, and
// checks that an accepted Event does not alias the payload.
func TestDecodeMatchesReference(t *testing.T) {
	accepted := 0
	for _, data := range trickyDecodeInputs(t) {
		for src := Source(0); src <= NumSources; src++ {
			e, err := Decode(src, data)
			re, rerr := decodeReference(src, data)
			if diff := sameDecision(e, err, re, rerr); diff != "" {
				t.Errorf("source %v, payload %.200q:\n%s", src, data, diff)
			}
			if err != nil {
				continue
			}
			accepted++
			buf := append([]byte{}, data...)
			e, err = Decode(src, buf)
			if err != nil {
				t.Fatal(err)
			}
			for i := range buf {
				buf[i] = 'x'
			}
			if e != re {
				t.Errorf("the event changed with the payload's buffer:\n%+v\n%+v", e, re)
			}
		}
	}
	if accepted < 10 {
		t.Errorf("only %d tricky inputs accepted: the seeds do not reach the checker", accepted)
	}
}
