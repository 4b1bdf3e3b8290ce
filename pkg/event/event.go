// Package event defines the event contracts of the settlement pipeline: the
// source events on pos.authorizations, acq.clearing, acq.payouts and
// acq.merchants (DESIGN §3), their decoding and validation, and the compact
// binary envelope that ingest writes to the repartition topic settle.events.
//
// The JSON Schema files in schemas/events are the published form of the same
// rules; this package is the one place the code enforces them. It does no I/O,
// reads no clock and knows nothing of Kafka or ClickHouse.
package event

import (
	"fmt"
	"strconv"
)

// Type is an event type, as carried in the "type" field.
type Type uint8

// Event types. The zero value is invalid.
const (
	TypeUnknown Type = iota
	Authorization
	Reversal
	Heartbeat
	Cleared
	BatchOpened
	BatchClosed
	PayoutInitiated
	PayoutPaid
	PayoutFailed
	PayoutHeld
	PayoutReleased
	Merchant
	numTypes
)

var typeNames = [numTypes]string{
	TypeUnknown:     "unknown",
	Authorization:   "authorization",
	Reversal:        "reversal",
	Heartbeat:       "heartbeat",
	Cleared:         "cleared",
	BatchOpened:     "batch_opened",
	BatchClosed:     "batch_closed",
	PayoutInitiated: "payout_initiated",
	PayoutPaid:      "payout_paid",
	PayoutFailed:    "payout_failed",
	PayoutHeld:      "payout_held",
	PayoutReleased:  "payout_released",
	Merchant:        "merchant",
}

func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the Type named s, or TypeUnknown.
func ParseType(s string) Type {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i)
		}
	}
	return TypeUnknown
}

// Source is one of the source feeds. Its value indexes per-source arrays.
type Source uint8

// Sources, in the order of DESIGN §3.
const (
	Auth Source = iota
	Clearing
	Payouts
	Merchants
	NumSources
)

var sourceNames = [NumSources]string{"auth", "clearing", "payouts", "merchants"}

func (s Source) String() string {
	if s < NumSources {
		return sourceNames[s]
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// ParseSource parses a source name ("auth", "clearing", "payouts", "merchants").
func ParseSource(s string) (Source, error) {
	for i, n := range sourceNames {
		if n == s {
			return Source(i), nil
		}
	}
	return 0, fmt.Errorf("unknown source %q (want auth, clearing, payouts or merchants)", s)
}

// The names of the pipeline's topics and consumer groups (DESIGN §3), the
// only place they are spelled; pkg/pipeline wires them together.
const (
	// EventsTopic carries the payment events ingest re-keyed by trace
	// number, with the source partitions' watermarks; the joiner reads it.
	EventsTopic = "settle.events"
	// DLQTopic receives what ingest dead-letters, with the reason.
	DLQTopic = "settle.dlq"
	// ProfilesTopic is the compacted topic of accepted merchant profiles:
	// ingest writes there each profile of acq.merchants that passed its
	// checks, keyed by merchant_id, and the joiner reads profiles only from
	// there.
	ProfilesTopic = "settle.merchants"
	// JoinerGroup is the joiner's consumer group on EventsTopic.
	JoinerGroup = "settlemon-joiner"
)

// IngestGroup is the consumer group of the source's ingest consumer.
func (s Source) IngestGroup() string { return "settlemon-ingest-" + s.String() }

// DefaultTopic is the default topic name of a source.
func (s Source) DefaultTopic() string {
	switch s {
	case Auth:
		return "pos.authorizations"
	case Clearing:
		return "acq.clearing"
	case Payouts:
		return "acq.payouts"
	case Merchants:
		return "acq.merchants"
	}
	return ""
}

// Allows reports whether events of type t may appear on source s.
func (s Source) Allows(t Type) bool {
	switch t {
	case Heartbeat:
		return s != Merchants
	case Authorization, Reversal:
		return s == Auth
	case Cleared:
		return s == Clearing
	case BatchOpened, BatchClosed:
		return s == Clearing || s == Payouts
	case PayoutInitiated, PayoutPaid, PayoutFailed, PayoutHeld, PayoutReleased:
		return s == Payouts
	case Merchant:
		return s == Merchants
	}
	return false
}

// Mode is a merchant's settlement mode (DESIGN §2).
type Mode uint8

// Settlement modes. ModeUnknown is used where no merchant profile is known.
const (
	ModeUnknown Mode = iota
	T1
	D1
	D0
	T0
	NumModes
)

var modeNames = [NumModes]string{"unknown", "T1", "D1", "D0", "T0"}

func (m Mode) String() string {
	if m < NumModes {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "T1", "D1", "D0" or "T0".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if i > 0 && n == s {
			return Mode(i), nil
		}
	}
	return ModeUnknown, fmt.Errorf("unknown settlement mode %q (want T1, D1, D0 or T0)", s)
}

// MaxFen is the largest amount in fen an event may carry: 9999999999999999.99
// yuan, the limit of the ClickHouse Decimal(18,2) money columns. Decode
// rejects anything larger (reason bad_amount), so every amount in the
// pipeline fits the tables, and int64 arithmetic on one amount never wraps
// (products with rates are done in 128 bits, see pkg/join).
const MaxFen = 999_999_999_999_999_999

// Event is one decoded, validated source event. Money is integer fen (1/100
// yuan); times are Unix milliseconds (UTC instants; the original offset is not
// kept). Fields that do not apply to the event's type are zero.
type Event struct {
	ID         string // event_id, unique per event; the idempotency key
	Type       Type
	OccurredAt int64 // occurred_at, Unix ms: event time
	TraceNo    string
	MerchantID string

	// authorization, reversal
	TerminalID   string
	ResponseCode string // "00" is approved
	CardBIN      string // 6 digits
	CardLast4    string // 4 digits
	Currency     string // ISO 4217, "CNY"

	Amount int64  // fen: authorized, cleared, or payout (net) amount
	Fee    int64  // fen, cleared only
	MCC    string // 4 digits: authorization / cleared MCC

	// batches and payouts
	BatchID       string
	DeclaredCount int64 // batch_closed: records declared in the batch
	DeclaredTotal int64 // batch_closed: total amount declared, fen

	// payout_failed, payout_held
	ReasonCode string // the bank's or risk system's code
	Reason     string // free text

	// heartbeat
	Producer string

	// merchant profile
	MerchantName  string
	RegisteredMCC string
	Mode          Mode
	FeeRatePPM    int64  // contracted fee rate in parts per million: 0.6% = 6000
	AccountRef    string // settlement account reference (never a full account number)
}

// Approved reports whether an authorization was approved.
func (e *Event) Approved() bool { return e.Type == Authorization && e.ResponseCode == "00" }

// Key is the Kafka key the event is re-keyed by on settle.events: the trace
// number, or the batch id for batch control events, or the producer for
// heartbeats.
func (e *Event) Key() string {
	switch {
	case e.TraceNo != "":
		return e.TraceNo
	case e.BatchID != "":
		return e.BatchID
	case e.MerchantID != "":
		return e.MerchantID
	}
	return e.Producer
}

// MarshalText renders the mode as "T1", "D1", "D0", "T0" or "unknown".
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
