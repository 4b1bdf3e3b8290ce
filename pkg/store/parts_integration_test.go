//go:build integration

package store_test

import (
	"fmt"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestPartActivity: one insert of rows from two months, interleaved, writes
// one part per month, and PartActivity reads that back from the server's
// part log.
func TestPartActivity(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	sep := time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC).UnixMilli()
	oct := time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC).UnixMilli()
	const n = 1000
	rows := make([]store.RawRow, n)
	for i := range rows {
		at := sep + int64(i)
		if i%2 == 1 {
			at = oct + int64(i)
		}
		rows[i] = store.RawRow{Topic: "pos.authorizations", Partition: 0, Offset: int64(i), KafkaTime: at,
			Event:   event.Event{ID: fmt.Sprint("a-", i), Type: event.Authorization, OccurredAt: at, TraceNo: fmt.Sprint("T", i)},
			Payload: []byte(`{}`)}
	}
	from := time.Now()
	if err := s.InsertRaw(ctx, event.Auth, rows); err != nil {
		t.Fatal(err)
	}
	acts, err := s.PartActivity(ctx, from, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got *store.PartActivity
	for i := range acts {
		if acts[i].Table == "auth_events" {
			got = &acts[i]
		}
	}
	if got == nil || got.Parts != 2 || got.Rows != n {
		t.Fatalf("part activity %+v, want auth_events with 2 parts of %d rows in all", acts, n)
	}
	var months []string
	q, err := s.Conn().Query(ctx, "SELECT toString(toYYYYMM(occurred_at)) AS m FROM auth_events GROUP BY m HAVING count() = ? ORDER BY m", uint64(n/2))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for q.Next() {
		var m string
		if err := q.Scan(&m); err != nil {
			t.Fatal(err)
		}
		months = append(months, m)
	}
	if fmt.Sprint(months) != "[202609 202610]" {
		t.Fatalf("months holding %d rows each: %v, want [202609 202610]", n/2, months)
	}
}
