package store

import "time"

// Tables partitioned by toYYYYMM(t) get one block per month in each insert.
// ClickHouse 18.16 splits a block whose rows span several partitions by
// copying every column into one block per partition (splitBlockIntoParts:
// 11% of the server's CPU in the bench, whose replayed days cross a month
// end); a block within one month is written as it comes. The rows are
// grouped by month in the server's time zone, the one toYYYYMM uses; were
// the guess wrong, the server would still split what needs splitting: the
// grouping is a saving, never a condition of correctness.

// monthOf maps unix ms to a month number in one time zone, remembering the
// bounds of the last month it saw: rows come in runs of one month, and a
// run costs two comparisons a row.
type monthOf struct {
	tz     *time.Location
	lo, hi int64 // unix ms: [lo, hi) is month
	month  int
}

func (m *monthOf) of(ms int64) int {
	if ms >= m.lo && ms < m.hi {
		return m.month
	}
	t := time.UnixMilli(dateTimeSec(ms) * 1000).In(m.tz)
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, m.tz)
	m.lo, m.hi = first.UnixMilli(), first.AddDate(0, 1, 0).UnixMilli()
	m.month = t.Year()*12 + int(t.Month()) - 1
	if ms <= 0 {
		m.lo = -1 << 62 // every time before 1970 is stored as the zero DateTime
	}
	return m.month
}

// byMonth returns the indexes of rows (in the order of order, nil: as they
// are) grouped by the month of month(row), keeping their order within a
// month, with the end of each group; nil and one group when all are in one
// month.
func byMonth[T any](rows []T, order []int32, month func(*T) int64, tz *time.Location) ([]int32, []int) {
	at := func(i int) *T {
		if order != nil {
			return &rows[order[i]]
		}
		return &rows[i]
	}
	m := monthOf{tz: tz}
	first := m.of(month(at(0)))
	counts := map[int]int{first: 0}
	months := []int{first}
	for i := range rows {
		k := m.of(month(at(i)))
		if _, ok := counts[k]; !ok {
			months = append(months, k)
		}
		counts[k]++
	}
	if len(months) == 1 {
		return order, []int{len(rows)}
	}
	start, ends := make(map[int]int, len(months)), make([]int, len(months))
	next := 0
	for i, k := range months {
		start[k] = next
		next += counts[k]
		ends[i] = next
	}
	grouped := make([]int32, len(rows))
	for i := range rows {
		k := m.of(month(at(i)))
		j := int32(i)
		if order != nil {
			j = order[i]
		}
		grouped[start[k]] = j
		start[k]++
	}
	return grouped, ends
}
