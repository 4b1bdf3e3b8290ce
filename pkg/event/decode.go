package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/go-faster/jx"
)

// Decode decodes and validates one JSON source event read from the topic of
// source src. The returned error, if any, is an *Error whose Reason says why
// the event belongs on the dead-letter topic. The Event returned does not
// share memory with data.
//
// Checks run in this order, and the first failure is returned: payload size
// (MaxSize), UTF-8, card numbers anywhere in the raw payload (pkg/pan: any
// field, known or not, any spelling), JSON syntax, then the top-level keys (a known field must
// appear once, spelled exactly), then event_id, type (known, and allowed on
// src), occurred_at, then the fields the type requires, in the order of the
// contract. Unknown fields are ignored (forward compatibility); known fields
// that do not apply to the event's type are ignored too, as the JSON Schemas
// allow. A known field that applies but has the wrong JSON type is rejected.
//
// The JSON is read in one pass by a streaming decoder (github.com/go-faster/jx,
// see wire.parse) that validates the whole document exactly as encoding/json
// would (syntax, escapes, nesting depth, nothing but white space after the
// object), checks the keys as it meets them and keeps each known field's value
// as a view into data: no reflection and no copy until a value is accepted
// into the Event. FuzzDecodeMatchesReference holds Decode to the decisions of
// the former encoding/json-based decoder, kept in the tests.
//
// Money is parsed from decimal strings into integer fen with a small strict
// parser instead of shopspring/decimal: the contract admits exactly
// `^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$`, which a generic decimal parser
// would have to be fenced in to enforce (it accepts exponents, signs, leading
// zeros and any precision), and the hand parser does it with no allocation,
// no big.Int and no float on the hot path.
func Decode(src Source, data []byte) (Event, error) {
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
	if off, ok := containsCard(data); ok {
		return Event{}, newError(ReasonCardNumber, keyAt(data, off),
			"contains a full card number (13-19 digits in a card scheme's issuer range passing the Luhn check, separators ignored); send only card_bin and card_last4")
	}
	if i := skipSpace(data, 0); i == len(data) || data[i] != '{' {
		return Event{}, newError(ReasonMalformedJSON, "", "payload must be a JSON object")
	}
	var w wire
	if err := w.parse(data); err != nil {
		return Event{}, err
	}
	c := checker{}
	e := c.event(src, &w)
	if c.err != nil {
		return Event{}, c.err
	}
	e.own()
	return e, nil
}

// malformed is the error of a payload jx rejects. jx wraps its error once per
// enclosing value ("array: array: ... depth: maximum"), so the detail is the
// innermost error alone: what and where, in a few words.
func malformed(err error) *Error {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return newError(ReasonMalformedJSON, "", "invalid JSON: "+err.Error())
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// parse reads the JSON object data, which must be valid UTF-8, into w in one
// pass, and checks its top-level keys on the way: a known field must appear
// once and spelled exactly (see misspelt). The first syntax error anywhere in
// data wins over a key error, which wins over the checker's errors, as when
// encoding/json validated the whole document before anything was looked at.
//
// jx validates what it reads or skips as encoding/json does: string escapes
// and control characters, number grammar (no 01, 1., -, +1, .5), literals,
// nesting up to 10000 levels, white space of the four JSON characters only;
// parse adds the check that nothing but white space follows the object.
// FuzzDecodeMatchesReference checks the equivalence.
func (w *wire) parse(data []byte) *Error {
	d := decoders.Get().(*jx.Decoder)
	defer func() {
		d.ResetBytes(nil) // keep no reference to data
		decoders.Put(d)
	}()
	d.ResetBytes(data)
	it, err := d.ObjIter()
	if err != nil {
		return malformed(err)
	}
	var seen uint32
	var keyErr *Error
	for it.Next() {
		key := it.Key()
		i, v := w.field(key)
		if v == nil {
			if keyErr == nil {
				keyErr = misspelt(key)
			}
			if err := d.Skip(); err != nil {
				return malformed(err)
			}
			continue
		}
		if seen&(1<<i) != 0 && keyErr == nil {
			keyErr = newError(ReasonBadField, knownFields[i], "appears more than once")
		}
		seen |= 1 << i
		if err := v.read(d); err != nil {
			return malformed(err)
		}
	}
	if err := it.Err(); err != nil {
		return malformed(err)
	}
	switch err := d.Skip(); {
	case err == nil:
		return malformed(errors.New("data after the object"))
	case !errors.Is(err, io.EOF):
		return malformed(err)
	}
	return keyErr
}

// decoders are the JSON decoders of wire.parse: one would escape to the heap
// on every call (jx's iterator error holds it). Not jx's own pool: its
// PutDecoder keeps the last input as a read buffer for the next user.
var decoders = sync.Pool{New: func() any { return new(jx.Decoder) }}

// value kinds of wval.
const (
	kindAbsent = 0 // absent or null
	kindString = '"'
	kindNumber = '0'
	kindBool   = 't'
	kindObject = '{'
	kindArray  = '['
)

// wval is one wire field: any JSON value, so that a wrong JSON type is
// reported by the checker (only where the field applies) rather than by the
// JSON reader.
type wval struct {
	s    string // the string value, or the literal of a number; may alias the payload (see view)
	kind byte
}

// read reads the next JSON value of d into v.
func (v *wval) read(d *jx.Decoder) error {
	*v = wval{}
	switch d.Next() {
	case jx.String:
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		v.kind = kindString
		if bytes.IndexByte(raw, '\\') < 0 {
			v.s = view(raw[1 : len(raw)-1])
			return nil
		}
		v.s, err = unescape(raw)
		return err
	case jx.Number:
		raw, err := d.Raw()
		v.kind, v.s = kindNumber, view(raw)
		return err
	case jx.Null:
		return d.Null()
	case jx.Bool:
		v.kind = kindBool
	case jx.Object:
		v.kind = kindObject
	case jx.Array:
		v.kind = kindArray
	}
	return d.Skip() // and the syntax error of anything else
}

// unescape decodes the JSON string raw (quotes included, valid, with at
// least one escape). jx decodes escapes as encoding/json does but for one
// case: an invalid UTF-16 surrogate pair, where encoding/json turns the
// first half into U+FFFD and reads the second again (it may pair with the
// next escape) and jx turns both into U+FFFD. So a result that contains
// U+FFFD (rare: a lone surrogate or a literal U+FFFD) is decoded again by
// encoding/json, the rule the contract was written against.
func unescape(raw []byte) (string, error) {
	d := jx.DecodeBytes(raw)
	b, err := d.StrAppend(nil)
	if err != nil {
		return "", err
	}
	if bytes.Contains(b, []byte("\uFFFD")) {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	return view(b), nil
}

// view returns the bytes of b as a string without copying them. Decode uses
// views while it checks a payload and copies the ones it keeps (Event.own),
// so no Event it returns aliases the caller's buffer.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// own replaces every string of e, which may be views of the payload, by a
// copy; the currency "CNY" by the shared constant. The copies share one
// allocation: an Event's strings are kept, and dropped, together.
func (e *Event) own() {
	if e.Currency == "CNY" {
		e.Currency = "CNY" // share the constant: no per-event string
	}
	strs := e.strings()
	n := 0
	for _, p := range strs {
		if p != &e.Currency || *p != "CNY" {
			n += len(*p)
		}
	}
	if n == 0 {
		return
	}
	buf := make([]byte, 0, n)
	for _, p := range strs {
		if *p != "" && (p != &e.Currency || *p != "CNY") {
			start := len(buf)
			buf = append(buf, *p...)
			*p = view(buf[start:])
		}
	}
}

func (v *wval) jsonType() string {
	switch v.kind {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "null"
}

// wire holds the known fields of one source event (see knownFields for
// their JSON names).
type wire struct {
	EventID       wval
	Type          wval
	OccurredAt    wval
	TraceNo       wval
	MerchantID    wval
	TerminalID    wval
	ResponseCode  wval
	CardBIN       wval
	CardLast4     wval
	Currency      wval
	Amount        wval
	Fee           wval
	MCC           wval
	BatchID       wval
	DeclaredCount wval
	DeclaredTotal wval
	ReasonCode    wval
	Reason        wval
	Producer      wval
	MerchantName  wval
	RegisteredMCC wval
	Mode          wval
	FeeRate       wval
	AccountRef    wval
}

// Length limits, in characters (Unicode code points, as JSON Schema counts).
const (
	maxIDLen     = 64  // event_id, merchant_id, batch_id, terminal_id, producer, reason_code, account_ref
	maxTraceLen  = 32  // trace_no
	maxReasonLen = 512 // reason, merchant_name
	minYear      = 2000
	maxYear      = 2100
)

// checker validates a wire event; the first error sticks and later checks
// become no-ops.
type checker struct {
	t   Type
	err *Error
}

func (c *checker) event(src Source, w *wire) Event {
	var e Event
	e.ID = c.id(&w.EventID, "event_id", true)
	if c.err != nil {
		return e
	}
	switch w.Type.kind {
	case kindAbsent:
		c.err = newError(ReasonMissingField, "type", "is required")
		return e
	case kindString:
	default:
		c.err = newError(ReasonBadField, "type", "must be a string, got "+w.Type.jsonType())
		return e
	}
	c.t = ParseType(w.Type.s)
	if c.t == TypeUnknown {
		c.err = newError(ReasonUnknownType, "type", "has unknown value "+quoteShort(w.Type.s))
		return e
	}
	if !src.Allows(c.t) {
		c.err = newError(ReasonTypeNotAllowed, "type",
			quoteShort(w.Type.s)+" is not allowed on the "+src.String()+" topic ("+src.DefaultTopic()+")")
		return e
	}
	e.Type = c.t
	e.OccurredAt = c.time(&w.OccurredAt, "occurred_at")

	switch c.t {
	case Authorization:
		e.TraceNo = c.trace(&w.TraceNo, true)
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.TerminalID = c.id(&w.TerminalID, "terminal_id", true)
		e.ResponseCode = c.responseCode(&w.ResponseCode, true)
		e.Amount = c.amount(&w.Amount, "amount", true, true)
		e.MCC = c.digits(&w.MCC, "mcc", true, 4)
		e.CardBIN = c.digits(&w.CardBIN, "card_bin", true, 6)
		e.CardLast4 = c.digits(&w.CardLast4, "card_last4", true, 4)
		e.Currency = c.currency(&w.Currency)
		if e.Currency == "" {
			e.Currency = "CNY"
		}
	case Reversal:
		e.TraceNo = c.trace(&w.TraceNo, true)
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.Amount = c.amount(&w.Amount, "amount", true, true)
		e.TerminalID = c.id(&w.TerminalID, "terminal_id", false)
		e.Currency = c.currency(&w.Currency)
		e.ReasonCode = c.id(&w.ReasonCode, "reason_code", false)
		e.Reason = c.prose(&w.Reason, "reason", false)
	case Heartbeat:
		e.Producer = c.id(&w.Producer, "producer", true)
	case Cleared:
		e.TraceNo = c.trace(&w.TraceNo, true)
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.BatchID = c.id(&w.BatchID, "batch_id", true)
		e.Amount = c.amount(&w.Amount, "amount", true, true)
		e.Fee = c.amount(&w.Fee, "fee", true, false)
		e.MCC = c.digits(&w.MCC, "mcc", true, 4)
		e.TerminalID = c.id(&w.TerminalID, "terminal_id", false)
		e.CardBIN = c.digits(&w.CardBIN, "card_bin", false, 6)
		e.CardLast4 = c.digits(&w.CardLast4, "card_last4", false, 4)
		e.Currency = c.currency(&w.Currency)
	case BatchOpened:
		e.BatchID = c.id(&w.BatchID, "batch_id", true)
	case BatchClosed:
		e.BatchID = c.id(&w.BatchID, "batch_id", true)
		e.DeclaredCount = c.count(&w.DeclaredCount, "declared_count")
		e.DeclaredTotal = c.amount(&w.DeclaredTotal, "declared_total", true, false)
	case PayoutInitiated, PayoutPaid, PayoutFailed:
		e.TraceNo = c.trace(&w.TraceNo, true)
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.BatchID = c.id(&w.BatchID, "batch_id", true)
		e.Amount = c.amount(&w.Amount, "amount", true, true)
		e.ReasonCode = c.id(&w.ReasonCode, "reason_code", c.t == PayoutFailed)
		e.Reason = c.prose(&w.Reason, "reason", false)
		e.Currency = c.currency(&w.Currency)
		e.AccountRef = c.id(&w.AccountRef, "account_ref", false)
	case PayoutHeld, PayoutReleased:
		e.TraceNo = c.trace(&w.TraceNo, true)
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.ReasonCode = c.id(&w.ReasonCode, "reason_code", c.t == PayoutHeld)
		e.Reason = c.prose(&w.Reason, "reason", false)
		e.BatchID = c.id(&w.BatchID, "batch_id", false)
		e.Amount = c.amount(&w.Amount, "amount", false, true)
		e.Currency = c.currency(&w.Currency)
	case Merchant:
		e.MerchantID = c.id(&w.MerchantID, "merchant_id", true)
		e.RegisteredMCC = c.digits(&w.RegisteredMCC, "registered_mcc", true, 4)
		e.Mode = c.mode(&w.Mode)
		e.FeeRatePPM = c.feeRate(&w.FeeRate)
		e.MerchantName = c.prose(&w.MerchantName, "merchant_name", false)
		e.AccountRef = c.id(&w.AccountRef, "account_ref", false)
	}
	return e
}

// str returns the string value of v, or ok == false after recording an error
// (wrong JSON type, or absent/empty when required). An absent or empty
// optional field yields "", true.
func (c *checker) str(v *wval, name string, required bool, wrongType Reason) (string, bool) {
	if c.err != nil {
		return "", false
	}
	switch v.kind {
	case kindString:
		if v.s != "" {
			return v.s, true
		}
	case kindAbsent:
	default:
		c.err = newError(wrongType, name, "must be a string, got "+v.jsonType())
		return "", false
	}
	if required {
		c.err = newError(ReasonMissingField, name, "is required for "+c.t.String())
		return "", false
	}
	return "", true
}

// text is a string field of at most maxLen characters with no Unsafe
// character (strict for identifiers).
func (c *checker) text(v *wval, name string, required bool, maxLen int, strict bool) string {
	s, ok := c.str(v, name, required, ReasonBadField)
	if !ok {
		return ""
	}
	if len(s) > maxLen && utf8.RuneCountInString(s) > maxLen {
		c.err = newError(ReasonBadField, name, "must be at most "+strconv.Itoa(maxLen)+" characters")
		return ""
	}
	if i := unsafeAt(s, strict); i >= 0 {
		what := "control characters or bidi overrides"
		if strict {
			what = "control or invisible characters"
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		c.err = newError(ReasonBadField, name, "must not contain "+what+", found "+strconv.QuoteToASCII(string(r))+" at byte "+strconv.Itoa(i))
		return ""
	}
	return s
}

// id is an identifier field: at most maxIDLen characters, none of them a
// control or format character (see Unsafe).
func (c *checker) id(v *wval, name string, required bool) string {
	return c.text(v, name, required, maxIDLen, true)
}

// prose is a free-text field: at most maxReasonLen characters, no control
// character and no bidi override (see Unsafe).
func (c *checker) prose(v *wval, name string, required bool) string {
	return c.text(v, name, required, maxReasonLen, false)
}

func (c *checker) trace(v *wval, required bool) string {
	s, ok := c.str(v, "trace_no", required, ReasonBadField)
	if !ok || s == "" {
		return ""
	}
	if len(s) > maxTraceLen {
		c.err = newError(ReasonBadField, "trace_no", "must be 1 to 32 characters of A-Z a-z 0-9 _ -")
		return ""
	}
	if !IsToken(s) {
		c.err = newError(ReasonBadField, "trace_no", "must be 1 to 32 characters of A-Z a-z 0-9 _ -, got "+quoteShort(s))
		return ""
	}
	return s
}

// IsToken reports whether s is non-empty and only A-Z a-z 0-9 _ -: the
// characters of trace numbers, and of the ids and modes the console accepts
// in its queries.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// ValidTraceNo reports whether s is a trace number Decode accepts: 1 to 32
// characters of A-Z a-z 0-9 _ -.
func ValidTraceNo(s string) bool { return len(s) <= maxTraceLen && IsToken(s) }

func (c *checker) digits(v *wval, name string, required bool, n int) string {
	s, ok := c.str(v, name, required, ReasonBadField)
	if !ok || s == "" {
		return ""
	}
	if len(s) != n || !allDigits(s) {
		c.err = newError(ReasonBadField, name, "must be exactly "+strconv.Itoa(n)+" digits, got "+quoteShort(s))
		return ""
	}
	return s
}

func (c *checker) responseCode(v *wval, required bool) string {
	s, ok := c.str(v, "response_code", required, ReasonBadField)
	if !ok || s == "" {
		return ""
	}
	if len(s) != 2 || !isAlnum(s[0]) || !isAlnum(s[1]) {
		c.err = newError(ReasonBadField, "response_code", "must be 2 letters or digits (ISO 8583), got "+quoteShort(s))
		return ""
	}
	return s
}

func (c *checker) currency(v *wval) string {
	s, ok := c.str(v, "currency", false, ReasonBadField)
	if !ok || s == "" {
		return ""
	}
	if len(s) != 3 || !isUpper(s[0]) || !isUpper(s[1]) || !isUpper(s[2]) {
		c.err = newError(ReasonBadField, "currency", "must be an ISO 4217 code such as \"CNY\", got "+quoteShort(s))
		return ""
	}
	if s == "CNY" {
		return "CNY" // share the constant: no per-event string
	}
	return s
}

func (c *checker) amount(v *wval, name string, required, positive bool) int64 {
	s, ok := c.str(v, name, required, ReasonBadAmount)
	if !ok || s == "" {
		return 0
	}
	fen, ok := parseFen(s)
	if !ok && beyondDecimal(s) {
		c.err = newError(ReasonBadAmount, name,
			"is beyond the Decimal(18,2) limit of 9999999999999999.99 (at most 16 integer digits), got "+quoteShort(s))
		return 0
	}
	if !ok {
		c.err = newError(ReasonBadAmount, name,
			"must be a decimal string with at most 2 fraction digits, e.g. \"1234.50\", got "+quoteShort(s))
		return 0
	}
	if positive && fen == 0 {
		c.err = newError(ReasonBadAmount, name, "must be greater than 0, got "+quoteShort(s))
		return 0
	}
	return fen
}

func (c *checker) count(v *wval, name string) int64 {
	if c.err != nil {
		return 0
	}
	switch v.kind {
	case kindAbsent:
		c.err = newError(ReasonMissingField, name, "is required for "+c.t.String())
		return 0
	case kindNumber:
	default:
		c.err = newError(ReasonBadField, name, "must be an integer, got "+v.jsonType())
		return 0
	}
	s := v.s
	if len(s) == 0 || len(s) > 18 || !allDigits(s) {
		c.err = newError(ReasonBadField, name, "must be an integer >= 0, got "+quoteShort(s))
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		c.err = newError(ReasonBadField, name, "must be an integer >= 0, got "+quoteShort(s))
		return 0
	}
	return n
}

func (c *checker) mode(v *wval) Mode {
	s, ok := c.str(v, "settlement_mode", true, ReasonBadField)
	if !ok {
		return ModeUnknown
	}
	m, err := ParseMode(s)
	if err != nil {
		c.err = newError(ReasonBadField, "settlement_mode", "must be one of T1, D1, D0, T0, got "+quoteShort(s))
		return ModeUnknown
	}
	return m
}

func (c *checker) feeRate(v *wval) int64 {
	s, ok := c.str(v, "fee_rate", true, ReasonBadField)
	if !ok {
		return 0
	}
	ppm, ok := parsePPM(s)
	if !ok {
		c.err = newError(ReasonBadField, "fee_rate",
			"must be a decimal fraction 0 <= rate < 1 with at most 6 fraction digits, e.g. \"0.0060\", got "+quoteShort(s))
		return 0
	}
	return ppm
}

func (c *checker) time(v *wval, name string) int64 {
	s, ok := c.str(v, name, true, ReasonBadTimestamp)
	if !ok {
		return 0
	}
	ms, year, ok := parseTimestamp(s)
	if !ok {
		c.err = newError(ReasonBadTimestamp, name,
			"must be RFC 3339 with an explicit offset, e.g. \"2026-02-24T10:00:00+08:00\", got "+quoteShort(s))
		return 0
	}
	if year < minYear || year > maxYear {
		c.err = newError(ReasonBadTimestamp, name, "year must be within 2000..2100, got "+quoteShort(s))
		return 0
	}
	return ms
}

// ParseYuan parses an amount in yuan as the feeds write it ("128", "128.5",
// "128.50": at most two decimals, no sign, at most 16 integer digits) into
// fen; ok is false for anything else.
func ParseYuan(s string) (fen int64, ok bool) { return parseFen(s) }

// parseFen parses `^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$` into fen. The
// 16-digit limit is Decimal(18,2)'s: every accepted value is at most MaxFen,
// far inside int64.
func parseFen(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	i := 0
	if s[0] == '0' {
		i = 1
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i == 16 {
				return 0, false
			}
			v = v*10 + int64(s[i]-'0')
			i++
		}
		if i == 0 {
			return 0, false
		}
	}
	v *= 100
	if i == len(s) {
		return v, true
	}
	if s[i] != '.' {
		return 0, false
	}
	frac := s[i+1:]
	switch {
	case len(frac) == 1 && isDigit(frac[0]):
		return v + int64(frac[0]-'0')*10, true
	case len(frac) == 2 && isDigit(frac[0]) && isDigit(frac[1]):
		return v + int64(frac[0]-'0')*10 + int64(frac[1]-'0'), true
	}
	return 0, false
}

// beyondDecimal reports whether s is a well-formed amount whose integer
// part is too long for Decimal(18,2): more than 16 digits, no leading zero.
func beyondDecimal(s string) bool {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i <= 16 || s[0] == '0' {
		return false
	}
	frac := s[i:]
	switch {
	case frac == "":
		return true
	case frac[0] != '.':
		return false
	}
	frac = frac[1:]
	return (len(frac) == 1 || len(frac) == 2) && isDigit(frac[0]) && isDigit(frac[len(frac)-1])
}

// parsePPM parses `^0(\.[0-9]{1,6})?$` into parts per million.
func parsePPM(s string) (int64, bool) {
	if s == "0" {
		return 0, true
	}
	if len(s) < 3 || len(s) > 8 || s[0] != '0' || s[1] != '.' {
		return 0, false
	}
	var v int64
	n := 0
	for i := 2; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
		n++
	}
	for ; n < 6; n++ {
		v *= 10
	}
	return v, true
}

// parseTimestamp parses an RFC 3339 date-time that carries an explicit
// offset: YYYY-MM-DD[Tt]hh:mm:ss[.fraction]([Zz]|[+-]hh:mm). Fractions
// beyond milliseconds are truncated. Leap seconds (:60) are rejected.
func parseTimestamp(s string) (ms int64, year int, ok bool) {
	if len(s) < 20 {
		return 0, 0, false
	}
	year, month, day, hour, minute, sec, ok := parseTimestampFields(s)
	if !ok {
		return 0, 0, false
	}
	i, fracMS := 19, 0
	if s[i] == '.' {
		if fracMS, i, ok = parseTimestampFraction(s, i); !ok {
			return 0, 0, false
		}
	}
	offsetMin, ok := parseTimestampOffset(s[i:])
	if !ok {
		return 0, 0, false
	}
	t := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	return t.UnixMilli() + int64(fracMS) - int64(offsetMin)*60_000, year, true
}

// parseTimestampFields parses the YYYY-MM-DD[Tt]hh:mm:ss that starts s (at
// least 19 bytes).
func parseTimestampFields(s string) (year int, month time.Month, day, hour, minute, sec int, ok bool) {
	year, m, day := digits4(s, 0), digits2(s, 5), digits2(s, 8)
	hour, minute, sec = digits2(s, 11), digits2(s, 14), digits2(s, 17)
	ok = s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' && s[16] == ':' &&
		year >= 0 && m >= 1 && m <= 12 && day >= 1 && hour >= 0 && hour <= 23 &&
		minute >= 0 && minute <= 59 && sec >= 0 && sec <= 59 && day <= daysIn(m, year)
	return year, time.Month(m), day, hour, minute, sec, ok
}

// parseTimestampFraction parses the .fraction (1 to 9 digits) at s[i:] into
// milliseconds, truncated, and returns the index after it.
func parseTimestampFraction(s string, i int) (fracMS, next int, ok bool) {
	i++
	start := i
	for i < len(s) && isDigit(s[i]) {
		if i-start < 3 {
			fracMS = fracMS*10 + int(s[i]-'0')
		}
		i++
	}
	n := i - start
	if n == 0 || n > 9 {
		return 0, 0, false
	}
	for ; n < 3; n++ {
		fracMS *= 10
	}
	return fracMS, i, true
}

// parseTimestampOffset parses the offset that is all of s, [Zz] or
// [+-]hh:mm, into minutes east of UTC.
func parseTimestampOffset(s string) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	switch s[0] {
	case 'Z', 'z':
		return 0, len(s) == 1
	case '+', '-':
		if len(s) != 6 || s[3] != ':' {
			return 0, false
		}
		oh, om := digits2(s, 1), digits2(s, 4)
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return 0, false
		}
		if s[0] == '-' {
			return -(oh*60 + om), true
		}
		return oh*60 + om, true
	}
	return 0, false
}

// digits2 returns the two-digit number at s[i:i+2], -1 when either byte is
// no ASCII digit.
func digits2(s string, i int) int {
	hi, lo := s[i]-'0', s[i+1]-'0' // a byte below '0' wraps above 9
	if hi > 9 || lo > 9 {
		return -1
	}
	return int(hi)*10 + int(lo)
}

// digits4 returns the four-digit number at s[i:i+4], -1 when any byte is no
// ASCII digit.
func digits4(s string, i int) int {
	a, b, c, d := s[i]-'0', s[i+1]-'0', s[i+2]-'0', s[i+3]-'0'
	if a > 9 || b > 9 || c > 9 || d > 9 {
		return -1
	}
	return int(a)*1000 + int(b)*100 + int(c)*10 + int(d)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }
func isAlnum(b byte) bool { return isDigit(b) || isUpper(b) || b >= 'a' && b <= 'z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error message, cut to 40 bytes. Card numbers
// never reach it: Decode rejects them before any field is looked at.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// keyAt returns the top-level key whose value contains byte offset off, so a
// card-number error can name the field without quoting it. It returns ""
// when off is not inside a top-level member's value, or is inside a key.
func keyAt(data []byte, off int) string {
	depth := 0
	inStr, esc := false, false
	expectKey, strIsKey := false, false
	strStart := 0
	last := [2]int{-1, -1} // span of the last top-level key string
	key := [2]int{-1, -1}  // span of the key whose value we are in
	for i := 0; i < off && i < len(data); i++ {
		b := data[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
				if strIsKey {
					last = [2]int{strStart, i}
				}
			}
			continue
		}
		switch b {
		case '"':
			inStr, strStart = true, i+1
			strIsKey = depth == 1 && expectKey
			expectKey = false
		case '{', '[':
			depth++
			expectKey = depth == 1 && b == '{'
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectKey = true
				key = [2]int{-1, -1}
			}
		case ':':
			if depth == 1 {
				key = last
			}
		}
	}
	if (inStr && strIsKey) || key[0] < 0 {
		return ""
	}
	k := data[key[0]:key[1]]
	if len(k) > maxIDLen {
		cut := maxIDLen
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		k = k[:cut]
	}
	return string(k)
}
