package store

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
)

func TestSumFen(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1288.50", 128850},
		{"-12.34", -1234},
		{"9999999999999999.99", 999_999_999_999_999_999},
		{"92233720368547758.07", math.MaxInt64},
		{"92233720368547758.08", math.MaxInt64},
		{"99999999999999999999.90", math.MaxInt64}, // ten amounts at the Decimal(18,2) limit
		{"-99999999999999999999.90", math.MinInt64},
	} {
		d, err := decimal.NewFromString(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sumFen(d); got != tt.want {
			t.Errorf("sumFen(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
