package store

import (
	"math"

	"github.com/shopspring/decimal"
)

var (
	maxFenSum = decimal.NewFromInt(math.MaxInt64)
	minFenSum = decimal.NewFromInt(math.MinInt64)
)

// sumFen converts a ClickHouse sum of Decimal(18,2) amounts (Decimal128 in
// yuan) to fen, saturated to int64: a sum of many amounts near the
// Decimal(18,2) limit exceeds int64 fen, and decimal's IntPart would wrap it
// silently. One row's amount always fits; only sums need this.
func sumFen(d decimal.Decimal) int64 {
	f := d.Shift(2).Truncate(0)
	switch {
	case f.GreaterThan(maxFenSum):
		return math.MaxInt64
	case f.LessThan(minFenSum):
		return math.MinInt64
	}
	return f.IntPart()
}
