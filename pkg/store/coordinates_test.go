package store

import (
	"fmt"
	"slices"
	"testing"
)

func TestByCoordinatesOrdersAsTheArchiveKey(t *testing.T) {
	row := func(topic string, part int32, off int64) RawRow {
		return RawRow{Topic: topic, Partition: part, Offset: off, Payload: []byte(fmt.Sprintf("%s/%d/%d", topic, part, off))}
	}
	for _, tc := range []struct {
		name string
		rows []RawRow
	}{
		{"interleaved runs of partitions", []RawRow{row("a", 2, 7), row("a", 0, 3), row("a", 0, 4), row("a", 2, 8), row("a", 1, 0), row("a", 0, 5)}},
		{"a partition read again from an earlier offset", []RawRow{row("a", 0, 5), row("a", 0, 6), row("a", 1, 1), row("a", 0, 2), row("a", 0, 3)}},
		{"several topics", []RawRow{row("b", 0, 1), row("a", 1, 1), row("b", 0, 0), row("a", 0, 9)}},
		{"already sorted", []RawRow{row("a", 0, 1), row("a", 0, 2), row("a", 1, 0)}},
		{"one row", []RawRow{row("a", 3, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.rows)
			order := byCoordinates(in)
			got := make([]RawRow, len(order))
			for i, at := range order {
				got[i] = in[at]
			}
			want := slices.Clone(tc.rows)
			slices.SortFunc(want, func(a, b RawRow) int { return compareCoordinates(&a, &b) })
			if len(got) != len(want) {
				t.Fatalf("got %d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if string(got[i].Payload) != string(want[i].Payload) {
					t.Errorf("row %d is %s, want %s", i, got[i].Payload, want[i].Payload)
				}
			}
			if !coordinatesSorted(got) {
				t.Error("the result is not in (topic, partition, offset) order")
			}
			for i := range in {
				if string(in[i].Payload) != string(tc.rows[i].Payload) {
					t.Fatalf("the input was reordered: row %d is %s, was %s", i, in[i].Payload, tc.rows[i].Payload)
				}
			}
		})
	}
}

func TestBuildInOrderMatchesBuildOfSortedRows(t *testing.T) {
	rows := []RawRow{
		{Topic: "a", Partition: 1, Offset: 4, Payload: []byte("x")},
		{Topic: "a", Partition: 0, Offset: 9, Payload: []byte("y")},
		{Topic: "a", Partition: 1, Offset: 5, Payload: []byte("z")},
	}
	tbl := rawTables[0]
	var sc1, sc2 scratch
	got := tbl.build(rows, byCoordinates(rows), &sc1)
	sorted := []RawRow{rows[1], rows[0], rows[2]}
	want := tbl.build(sorted, nil, &sc2)
	for j := range want {
		if fmt.Sprint(got[j]) != fmt.Sprint(want[j]) {
			t.Errorf("column %s: %v, want %v", tbl.cols[j].name, got[j], want[j])
		}
	}
}
