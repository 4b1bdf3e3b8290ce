package joiner

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/join"
)

// TestRefusalOf: what join.Restore says about a damaged checkpoint becomes
// the reason the joiner logs and counts.
func TestRefusalOf(t *testing.T) {
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	merchants := NewMerchants(slog.New(slog.DiscardHandler))
	p, err := join.New(join.DefaultConfig(), sched, merchants)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	flipped := bytes.Clone(snap)
	flipped[len(flipped)-1] ^= 0xff
	tests := []struct {
		name string
		data []byte
		want refusal
	}{
		{"a byte flipped", flipped, refusedCorrupt},
		{"not a checkpoint", []byte("not a checkpoint at all"), refusedCorrupt},
		{"truncated", snap[:len(snap)-1], refusedTruncated},
		{"unframed, of an earlier build (the 16-byte header cut off)", snap[16:], refusedLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := join.Restore(join.DefaultConfig(), sched, merchants, bytes.NewReader(tt.data))
			if err == nil {
				t.Fatal("restored")
			}
			if got := refusalOf(err); got != tt.want {
				t.Errorf("refusalOf(%v) = %s, want %s", err, got, tt.want)
			}
		})
	}
	if got := refusalOf(errors.New("something else")); got != refusedUnreadable {
		t.Errorf("refusalOf(another error) = %s, want %s", got, refusedUnreadable)
	}
	seen := map[string]bool{}
	for r := range numRefusals {
		if s := r.String(); s == "" || seen[s] || r.text() == "" {
			t.Errorf("refusal %d: label %q (seen before: %v), text %q", r, s, seen[s], r.text())
		}
		seen[r.String()] = true
	}
}
