//go:build integration

package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"settlemon/pkg/event"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// BenchmarkInsertRawConcurrent measures archive inserts on a real server as
// the pipeline makes them: several at once through one store. One op is one
// insert of 20,000 authorizations (300-byte payloads) by each of the
// inserters; B/op is what the whole process allocated for it, so it shows
// the driver's connection buffers growing when connections are new.
func BenchmarkInsertRawConcurrent(b *testing.B) {
	s := storetest.New(b)
	payload := []byte(`{"event_id":"au-1x2y3z","type":"authorization","occurred_at":"2026-09-28T10:15:32.481+08:00",` +
		`"merchant_id":"M000123","terminal_id":"T00871203","response_code":"00","amount":"1288.00","currency":"CNY",` +
		`"mcc":"5812","card_bin":"622848","card_last4":"0427","note":"` + strings.Repeat("x", 60) + `"}`)
	for _, inserters := range []int{4, 8} {
		b.Run(fmt.Sprintf("inserters=%d", inserters), func(b *testing.B) {
			rows := make([][]store.RawRow, inserters)
			for w := range rows {
				rows[w] = make([]store.RawRow, 20_000)
				for i := range rows[w] {
					rows[w][i] = store.RawRow{Topic: "pos.authorizations", Partition: int32(w), Offset: int64(i), KafkaTime: 1790000000000,
						Event: event.Event{ID: fmt.Sprintf("au-%d-%d", w, i), Type: event.Authorization, OccurredAt: 1790000000000,
							TraceNo: "627100000205", MerchantID: "M000123", Currency: "CNY", Amount: 128800}, Payload: payload}
				}
			}
			ctx := testCtx(b)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make([]error, inserters)
				for w := range inserters {
					wg.Go(func() { errs[w] = s.InsertRaw(ctx, event.Auth, rows[w]) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
