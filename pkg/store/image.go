package store

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Image is what a run left in its database, as analysts see it: the fact
// views row by row, the statistics views and sums that double when anything
// is counted twice, and the rows each table holds beyond its identity. Two
// runs of the same input must leave equal images; Compare says how they
// differ.
type Image struct {
	Facts      map[string]map[string]string // view → row identity → the whole row
	Figures    map[string][]string          // figure → rows
	Duplicates map[string]int64             // table → count() FINAL − uniqExact(identity)
}

// AnalystQueries are the first questions the run report suggests asking
// of the facts, with clickhouse-client.
var AnalystQueries = []string{
	"SELECT mode, count(), quantiles(0.5,0.95,0.99)(auth_to_pay_s) FROM settlement_lag_latest WHERE status='paid' GROUP BY mode",
	"SELECT kind, status, count() AS rows, uniqExact(if(trace_no != '', trace_no, batch_id)) AS traces FROM anomalies_latest GROUP BY kind, status ORDER BY kind",
	"SELECT trace_no, reason, details, action FROM anomalies_latest WHERE kind='payout_failed' LIMIT 5",
	"SELECT topic, reason, detail FROM dead_letters FINAL LIMIT 10",
}

// imageViews are the analyst views compared row by row, each with the
// columns that identify a row.
var imageViews = []struct {
	name string
	key  []string
}{
	{"settlement_lag_latest", []string{"trace_no", "authorized_at"}},
	{"anomalies_latest", []string{"id"}},
	{"batches_latest", []string{"source", "batch_id"}},
}

// imageFigures are whole results compared as they are.
var imageFigures = []struct{ name, query string }{
	{"lag_stats_by_mode", "SELECT * FROM lag_stats_by_mode ORDER BY mode"},
	{"lag_stats_by_merchant", "SELECT * FROM lag_stats_by_merchant ORDER BY merchant_id, mode"},
	{"lag_stats_by_hour", "SELECT * FROM lag_stats_by_hour ORDER BY hour, mode"},
	{"lag sums", "SELECT count(), sum(authorized_amount), sum(cleared_amount), sum(fee), sum(net_paid), sum(auth_to_clear_s), sum(clear_to_pay_s), sum(auth_to_pay_s), sum(past_due_s) FROM settlement_lag_latest"},
	{"anomaly sums", "SELECT kind, status, count(), sum(amount), sum(expected_amount) FROM anomalies_latest GROUP BY kind, status ORDER BY kind, status"},
	{FigureArchivedAuthorizations, "SELECT count(), sum(amount) FROM auth_events FINAL"},
	{"archived clearing", "SELECT count(), sum(amount), sum(fee) FROM clearing_events FINAL"},
	{"archived payouts", "SELECT count(), sum(amount) FROM payout_events FINAL"},
	{"archived merchant profiles", "SELECT count() FROM merchant_events FINAL"},
	{"heartbeats", "SELECT count() FROM control_events FINAL"},
	{"dead letters", "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason ORDER BY reason"},
}

// FigureArchivedAuthorizations names the figure counting the archived
// authorizations: empty in a reference, the run archived nothing.
const FigureArchivedAuthorizations = "archived authorizations"

// imageIdentities are the keys the ReplacingMergeTree tables collapse on:
// read with FINAL, each must hold exactly one row per key.
var imageIdentities = []struct{ table, key string }{
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

// Image reads the database's image. It fails when a view holds two rows of
// one identity.
func (s *Store) Image(ctx context.Context) (Image, error) {
	im := Image{Facts: map[string]map[string]string{}, Figures: map[string][]string{}, Duplicates: map[string]int64{}}
	for _, v := range imageViews {
		rows, err := s.readKeyed(ctx, "SELECT * FROM "+v.name, v.key)
		if err != nil {
			return im, fmt.Errorf("reading the image: %w", err)
		}
		im.Facts[v.name] = rows
	}
	for _, q := range imageFigures {
		var out []string
		err := s.scanText(ctx, q.query, func(_, vals []string) { out = append(out, strings.Join(vals, " | ")) })
		if err != nil {
			return im, fmt.Errorf("reading the image: %w", err)
		}
		im.Figures[q.name] = out
	}
	for _, id := range imageIdentities {
		var rows, keys uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s FINAL", id.key, id.table)
		if err := s.conn.QueryRow(ctx, q).Scan(&rows, &keys); err != nil {
			return im, fmt.Errorf("reading the image: %s: %w", q, err)
		}
		im.Duplicates[id.table] = int64(rows) - int64(keys)
	}
	return im, nil
}

// FactCount is the number of fact rows in the image.
func (im Image) FactCount() int {
	n := 0
	for _, rows := range im.Facts {
		n += len(rows)
	}
	return n
}

// DuplicateCount is the number of rows beyond their identity, over all tables.
func (im Image) DuplicateCount() int64 {
	var n int64
	for _, d := range im.Duplicates {
		n += d
	}
	return n
}

func (s *Store) readKeyed(ctx context.Context, query string, key []string) (map[string]string, error) {
	out := map[string]string{}
	var dup error
	err := s.scanText(ctx, query, func(cols, vals []string) {
		var k []string
		var b strings.Builder
		for i, c := range cols {
			if slices.Contains(key, c) {
				k = append(k, vals[i])
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

// scanText renders every row of query as column names and values in text.
func (s *Store) scanText(ctx context.Context, query string, each func(cols, vals []string)) error {
	rows, err := s.conn.Query(ctx, query)
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

// ImageDiff is how an image differs from a reference.
type ImageDiff struct {
	Lost, Extra, Changed int      // fact rows: missing, unexpected, different
	Details              []string // the first differences, for a report
}

const maxDiffDetails = 8

// Compare compares got with the reference want, view by view and figure by
// figure.
func Compare(want, got Image) ImageDiff {
	var d ImageDiff
	note := func(format string, a ...any) {
		if len(d.Details) < maxDiffDetails {
			d.Details = append(d.Details, fmt.Sprintf(format, a...))
		}
	}
	for _, view := range unionKeys(want.Facts, got.Facts) {
		w, g := want.Facts[view], got.Facts[view]
		for _, id := range slices.Sorted(maps.Keys(w)) {
			gr, ok := g[id]
			switch {
			case !ok:
				d.Lost++
				note("%s: lost %s", view, w[id])
			case gr != w[id]:
				d.Changed++
				note("%s: %s differs\n      reference: %s\n      this run:  %s", view, id, w[id], gr)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[id]; !ok {
				d.Extra++
				note("%s: unexpected %s", view, g[id])
			}
		}
	}
	for _, name := range unionKeys(want.Figures, got.Figures) {
		if !slices.Equal(want.Figures[name], got.Figures[name]) {
			d.Changed++
			note("%s differs\n      reference: %s\n      this run:  %s", name, clip(want.Figures[name]), clip(got.Figures[name]))
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

func unionKeys[V any](a, b map[string]V) []string {
	seen := make(map[string]bool, len(a)+len(b))
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
