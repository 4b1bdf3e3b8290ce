package fact

import (
	"math"
	"testing"
)

func TestYuan(t *testing.T) {
	tests := []struct {
		fen            int64
		plain, grouped string
	}{
		{0, "0.00", "0.00"},
		{5, "0.05", "0.05"},
		{-5, "-0.05", "-0.05"},
		{100, "1.00", "1.00"},
		{99999, "999.99", "999.99"},
		{123456, "1234.56", "1,234.56"},
		{100000000, "1000000.00", "1,000,000.00"},
		{-123456789, "-1234567.89", "-1,234,567.89"},
		{math.MaxInt64, "92233720368547758.07", "92,233,720,368,547,758.07"},
		{math.MinInt64, "-92233720368547758.08", "-92,233,720,368,547,758.08"},
	}
	for _, tt := range tests {
		if got := Yuan(tt.fen); got != tt.plain {
			t.Errorf("Yuan(%d) = %q, want %q", tt.fen, got, tt.plain)
		}
		if got := YuanGrouped(tt.fen); got != tt.grouped {
			t.Errorf("YuanGrouped(%d) = %q, want %q", tt.fen, got, tt.grouped)
		}
	}
}

func TestYuanSigned(t *testing.T) {
	for fen, want := range map[int64]string{0: "+0.00", 50: "+0.50", -50: "-0.50", 123456: "+1234.56", math.MinInt64: "-92233720368547758.08"} {
		if got := YuanSigned(fen); got != want {
			t.Errorf("YuanSigned(%d) = %q, want %q", fen, got, want)
		}
	}
}
