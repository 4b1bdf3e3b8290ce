package event

import (
	"bytes"
	"encoding/json"
)

// knownFields are the JSON names of the wire fields, in wire order.
var knownFields = [...]string{
	"event_id", "type", "occurred_at", "trace_no", "merchant_id", "terminal_id", "response_code",
	"card_bin", "card_last4", "currency", "amount", "fee", "mcc", "batch_id", "declared_count",
	"declared_total", "reason_code", "reason", "producer", "merchant_name", "registered_mcc",
	"settlement_mode", "fee_rate", "account_ref",
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
