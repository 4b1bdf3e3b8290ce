package chaos

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// factViews are the analyst views compared row by row, each with the columns
// that identify a row.
var factViews = []struct {
	name string
	key  []string
}{
	{"settlement_lag_latest", []string{"trace_no", "authorized_at"}},
	{"anomalies_latest", []string{"id"}},
	{"batches_latest", []string{"source", "batch_id"}},
}

// figureQueries are whole results compared as they are: the statistics views
// and sums that double when anything is counted twice.
var figureQueries = []struct{ name, query string }{
	{"lag_stats_by_mode", "SELECT * FROM lag_stats_by_mode ORDER BY mode"},
	{"lag_stats_by_merchant", "SELECT * FROM lag_stats_by_merchant ORDER BY merchant_id, mode"},
	{"lag_stats_by_hour", "SELECT * FROM lag_stats_by_hour ORDER BY hour, mode"},
	{"lag sums", "SELECT count(), sum(authorized_amount), sum(cleared_amount), sum(fee), sum(net_paid), sum(auth_to_clear_s), sum(clear_to_pay_s), sum(auth_to_pay_s), sum(past_due_s) FROM settlement_lag_latest"},
	{"anomaly sums", "SELECT kind, status, count(), sum(amount), sum(expected_amount) FROM anomalies_latest GROUP BY kind, status ORDER BY kind, status"},
	{"archived authorizations", "SELECT count(), sum(amount) FROM auth_events FINAL"},
	{"archived clearing", "SELECT count(), sum(amount), sum(fee) FROM clearing_events FINAL"},
	{"archived payouts", "SELECT count(), sum(amount) FROM payout_events FINAL"},
	{"archived merchant profiles", "SELECT count() FROM merchant_events FINAL"},
	{"heartbeats", "SELECT count() FROM control_events FINAL"},
	{"dead letters", "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason ORDER BY reason"},
}

// identities are the keys the ReplacingMergeTree tables collapse on: read with
// FINAL, each must hold exactly one row per key.
var identities = []struct{ table, key string }{
	{"settlement_lag", "trace_no, authorized_at"},
	{"anomalies", "id"},
	{"batches", "source, batch_id"},
	{"auth_events", "topic, `partition`, `offset`"},
	{"clearing_events", "topic, `partition`, `offset`"},
	{"payout_events", "topic, `partition`, `offset`"},
	{"merchant_events", "topic, `partition`, `offset`"},
	{"control_events", "topic, `partition`, `offset`"},
	{"dead_letters", "topic, `partition`, `offset`"},
}

// dbImage is what a run left in its database, as analysts see it.
type dbImage struct {
	facts      map[string]map[string]string // view → row identity → the whole row
	figures    map[string][]string          // figure → rows
	duplicates map[string]int64             // table → count() FINAL − uniqExact(key)
}

func (im dbImage) factCount() int {
	n := 0
	for _, rows := range im.facts {
		n += len(rows)
	}
	return n
}

func (im dbImage) duplicateCount() int64 {
	var n int64
	for _, d := range im.duplicates {
		n += d
	}
	return n
}

func readImage(ctx context.Context, conn driver.Conn) (dbImage, error) {
	im := dbImage{facts: map[string]map[string]string{}, figures: map[string][]string{}, duplicates: map[string]int64{}}
	for _, v := range factViews {
		rows, err := readKeyed(ctx, conn, "SELECT * FROM "+v.name, v.key)
		if err != nil {
			return im, err
		}
		im.facts[v.name] = rows
	}
	for _, q := range figureQueries {
		rows, err := readRows(ctx, conn, q.query)
		if err != nil {
			return im, err
		}
		im.figures[q.name] = rows
	}
	for _, id := range identities {
		var rows, keys uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s FINAL", id.key, id.table)
		if err := conn.QueryRow(ctx, q).Scan(&rows, &keys); err != nil {
			return im, fmt.Errorf("%s: %w", q, err)
		}
		im.duplicates[id.table] = int64(rows) - int64(keys)
	}
	return im, nil
}

// scanRows renders every row of query as column=value text.
func scanRows(ctx context.Context, conn driver.Conn, query string, each func(cols []string, vals []string)) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	cols := rows.Columns()
	ptrs := make([]any, len(types))
	for rows.Next() {
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: scanning: %w", query, err)
		}
		vals := make([]string, len(ptrs))
		for i, p := range ptrs {
			vals[i] = fmt.Sprint(reflect.ValueOf(p).Elem().Interface())
		}
		each(cols, vals)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	return nil
}

func readRows(ctx context.Context, conn driver.Conn, query string) ([]string, error) {
	var out []string
	err := scanRows(ctx, conn, query, func(_ []string, vals []string) { out = append(out, strings.Join(vals, " | ")) })
	return out, err
}

func readKeyed(ctx context.Context, conn driver.Conn, query string, key []string) (map[string]string, error) {
	out := map[string]string{}
	var dup error
	err := scanRows(ctx, conn, query, func(cols []string, vals []string) {
		var k []string
		var b strings.Builder
		for i, c := range cols {
			for _, kc := range key {
				if c == kc {
					k = append(k, vals[i])
				}
			}
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(c + "=" + vals[i])
		}
		id := strings.Join(k, "/")
		if _, seen := out[id]; seen && dup == nil {
			dup = fmt.Errorf("%s: two rows for %s", query, id)
		}
		out[id] = b.String()
	})
	if err == nil {
		err = dup
	}
	return out, err
}

// diff is how a run's image differs from the reference's.
type diff struct {
	Lost, Extra, Changed int      // fact rows: missing, unexpected, different
	Details              []string // the first differences, for the report
}

const maxDetails = 8

// compareImages compares got with the reference want.
func compareImages(want, got dbImage) diff {
	var d diff
	note := func(format string, a ...any) {
		if len(d.Details) < maxDetails {
			d.Details = append(d.Details, fmt.Sprintf(format, a...))
		}
	}
	for _, v := range factViews {
		w, g := want.facts[v.name], got.facts[v.name]
		for _, id := range sortedKeys(w) {
			gr, ok := g[id]
			switch {
			case !ok:
				d.Lost++
				note("%s: lost %s", v.name, w[id])
			case gr != w[id]:
				d.Changed++
				note("%s: %s differs\n      reference: %s\n      this run:  %s", v.name, id, w[id], gr)
			}
		}
		for _, id := range sortedKeys(g) {
			if _, ok := w[id]; !ok {
				d.Extra++
				note("%s: unexpected %s", v.name, g[id])
			}
		}
	}
	for _, q := range figureQueries {
		if !reflect.DeepEqual(want.figures[q.name], got.figures[q.name]) {
			d.Changed++
			note("%s differs\n      reference: %s\n      this run:  %s", q.name, clip(want.figures[q.name]), clip(got.figures[q.name]))
		}
	}
	return d
}

func clip(rows []string) string {
	s := strings.Join(rows, " ; ")
	if len(s) > 400 {
		s = s[:400] + " …"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
