// Package schemas embeds the project's contracts so that binaries carry them:
// the ClickHouse migrations (clickhouse/*.sql), the event JSON Schemas and
// examples (events/), the default business-day calendar (calendar/), the
// card schemes' issuer ranges (cards/) and the bank return codes of failed
// payouts (bank/).
// The files are the source of truth; this package only makes them reachable.
package schemas

import "embed"

// ClickHouse holds the versioned migrations, applied in file-name order.
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS

// Events holds the JSON Schema of every event type and one example each.
//
//go:embed events
var Events embed.FS

// DefaultCalendar is the bundled business-day calendar (mainland China).
//
//go:embed calendar/cn-mainland.json
var DefaultCalendar []byte

// CardRanges is the catalogue of card-scheme issuer ranges and lengths that
// card-number detection decides with (pkg/pan).
//
//go:embed cards/issuer-ranges.json
var CardRanges []byte

// BankReturnCodes is the catalogue of bank return codes of failed payouts
// and the payout-failure reason each maps to (pkg/fact.BankCodes).
//
//go:embed bank/return-codes.json
var BankReturnCodes []byte
