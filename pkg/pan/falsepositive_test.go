package pan

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// today is the instant the generated identifiers are built around; tests
// read no clock.
var today = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)

// idFamily generates one kind of realistic identifier.
type idFamily struct {
	name string
	n    int
	gen  func(r *rand.Rand) string
	// clean: no id of this family may be flagged; otherwise an id may be
	// flagged only when its digits are a card number of the catalogue.
	clean bool
}

func snowflake(epoch time.Time) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		ms := today.Add(-time.Duration(r.Int64N(int64(365*24*time.Hour)))).UnixMilli() - epoch.UnixMilli()
		return strconv.FormatInt(ms<<22|r.Int64N(1<<22), 10)
	}
}

func numeric(digits int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		b := make([]byte, digits)
		b[0] = byte('1' + r.IntN(9))
		for i := 1; i < digits; i++ {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
}

func uuid4(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TestFalsePositiveRates runs Find over 1.25M generated identifiers, each in
// a JSON field as an event carries it, and prints the share flagged as card
// numbers. Ids outside the issuer ranges (snowflake ids, epoch milliseconds,
// UUIDs) must never be flagged; a numeric id is flagged only when it is a
// card number of the catalogue (in an issuer range, of an allowed length,
// Luhn-valid), which is the residual rate the README states.
//
//	go test -run TestFalsePositiveRates -v ./pkg/pan
func TestFalsePositiveRates(t *testing.T) {
	d := Default()
	families := []idFamily{
		{"snowflake id, 2010 epoch", 150_000, snowflake(time.UnixMilli(1288834974657)), true},
		{"snowflake id, 2015 epoch", 150_000, snowflake(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"epoch milliseconds", 150_000, func(r *rand.Rand) string {
			return strconv.FormatInt(today.Add(-time.Duration(r.Int64N(int64(5*365*24*time.Hour)))).UnixMilli(), 10)
		}, true},
		{"UUID v4", 200_000, uuid4, true},
	}
	for digits := 12; digits <= 20; digits++ {
		families = append(families, idFamily{fmt.Sprintf("numeric, %d digits", digits), 200_000 / 3, numeric(digits), false})
	}
	r := rand.New(rand.NewPCG(7, 11))
	total := 0
	for _, f := range families {
		flagged, inRange, cards := 0, 0, 0
		for range f.n {
			id := f.gen(r)
			card := d.Scheme([]byte(id)) != ""
			if card {
				cards++
			}
			if d.Scheme([]byte(luhnComplete(id[:len(id)-1]))) != "" {
				inRange++ // its prefix and length are a range's, Luhn aside
			}
			text := []byte(`{"trace_no":"` + id + `","note":"id ` + id + `"}`)
			if !d.Contains(text) {
				continue
			}
			flagged++
			if f.clean || !card {
				t.Errorf("%s: %q flagged, but it is not a card number of the catalogue", f.name, id)
			}
		}
		if !f.clean && flagged != cards {
			t.Errorf("%s: %d flagged, but %d are card numbers of the catalogue", f.name, flagged, cards)
		}
		total += f.n
		t.Logf("%-26s %7d ids  flagged %6d (%.3f%%)  in an issuer range %6d, of which flagged %.1f%%",
			f.name, f.n, flagged, 100*float64(flagged)/float64(f.n), inRange, 100*float64(flagged)/float64(max(inRange, 1)))
	}
	if total < 1_000_000 {
		t.Fatalf("only %d identifiers generated; the measurement needs at least 1M", total)
	}
}
