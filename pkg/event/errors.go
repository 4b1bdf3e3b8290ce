package event

import (
	"errors"
	"strconv"
)

// MaxSize is the largest source payload Decode accepts, in bytes. Larger
// messages are rejected with ReasonTooLarge before any parsing.
const MaxSize = 64 << 10

// Reason classifies why a source event was rejected. It is the value stored
// with a dead letter, so its spelling is part of the contract.
type Reason string

// Rejection reasons.
const (
	ReasonMalformedJSON  Reason = "malformed_json"
	ReasonMissingField   Reason = "missing_field"
	ReasonUnknownType    Reason = "unknown_type"
	ReasonTypeNotAllowed Reason = "type_not_on_topic"
	ReasonBadAmount      Reason = "bad_amount"
	ReasonBadTimestamp   Reason = "bad_timestamp"
	ReasonCardNumber     Reason = "card_number"
	ReasonBadField       Reason = "bad_field"
	ReasonInvalidUTF8    Reason = "invalid_utf8"
	ReasonTooLarge       Reason = "too_large"

	// Checked by the consumer, beyond Decode: they need the wall clock, the
	// Kafka key or the messages read before (see CheckTime and pkg/ingest).
	ReasonFutureTimestamp Reason = "future_timestamp"
	ReasonEmptyKey        Reason = "empty_key"
	ReasonEventIDReused   Reason = "event_id_reused"
)

// Reasons lists every rejection reason, in the order above: metrics create
// a series for each from the start.
func Reasons() []Reason {
	return []Reason{ReasonMalformedJSON, ReasonMissingField, ReasonUnknownType, ReasonTypeNotAllowed, ReasonBadAmount,
		ReasonBadTimestamp, ReasonCardNumber, ReasonBadField, ReasonInvalidUTF8, ReasonTooLarge,
		ReasonFutureTimestamp, ReasonEmptyKey, ReasonEventIDReused}
}

// Error is a validation error: why an event was rejected and, where it
// applies, which JSON field was at fault. It never contains a card number.
type Error struct {
	Reason Reason
	Field  string // JSON field name; "" when the payload as a whole is at fault
	Detail string // human explanation, e.g. `is required for authorization`
}

// Error renders the error as `reason: "field" detail`, or `reason: detail`
// when no field applies.
func (e *Error) Error() string {
	if e.Field == "" {
		if e.Detail == "" {
			return string(e.Reason)
		}
		return string(e.Reason) + ": " + e.Detail
	}
	s := string(e.Reason) + ": " + strconv.Quote(e.Field)
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s
}

// ReasonOf returns the Reason of the first *Error in err's chain, or "" when
// err is nil or carries no *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(r Reason, field, detail string) *Error {
	return &Error{Reason: r, Field: field, Detail: detail}
}
