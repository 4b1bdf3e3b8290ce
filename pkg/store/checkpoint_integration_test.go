//go:build integration

package store_test

import (
	"bytes"
	"testing"

	"settlemon/pkg/store/storetest"
)

// TestCheckpointSlots saves checkpoints of one partition, one of them in
// several chunks, and reads them back: the newest at or below an offset
// wins, a save replaces the older of the two kept (one at the newest's offset
// replaces the newest), a shorter save's leftover
// chunks are never read, and the table holds two checkpoints whatever the
// number of saves.
func TestCheckpointSlots(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	conn := storetest.Conn(t, s)
	big := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16) // 9 MiB: three chunks
	saves := []struct {
		offset int64
		data   []byte
	}{{10, []byte("ten")}, {20, big}, {30, []byte("thirty")}, {40, []byte("forty")}, {40, []byte("FORTY")}}
	type want struct {
		max    int64
		offset int64
		data   []byte
		ok     bool
	}
	checks := [][]want{
		{{100, 10, []byte("ten"), true}, {9, 0, nil, false}},
		{{100, 20, big, true}, {19, 10, []byte("ten"), true}},
		// 30 replaced 10 in its slot; 20 (three chunks) is the fallback.
		{{100, 30, []byte("thirty"), true}, {29, 20, big, true}, {19, 0, nil, false}},
		// 40 replaced chunk 0 of 20's slot; chunks 1 and 2 of 20 are left
		// over, incomplete, and never read.
		{{100, 40, []byte("forty"), true}, {39, 30, []byte("thirty"), true}, {29, 0, nil, false}},
		// A save at the newest offset replaces the newest, not the fallback.
		{{100, 40, []byte("FORTY"), true}, {39, 30, []byte("thirty"), true}},
	}
	for i, sv := range saves {
		if err := s.SaveCheckpoint(ctx, "g", "settle.events", 2, sv.offset, sv.data); err != nil {
			t.Fatalf("save at %d: %v", sv.offset, err)
		}
		for _, w := range checks[i] {
			off, data, ok, err := s.LoadCheckpoint(ctx, "g", "settle.events", 2, w.max)
			if err != nil {
				t.Fatal(err)
			}
			if off != w.offset || ok != w.ok || !bytes.Equal(data, w.data) {
				t.Errorf("after the save at %d, load at or below %d = offset %d (%d bytes), ok %v; want offset %d (%d bytes), ok %v",
					sv.offset, w.max, off, len(data), ok, w.offset, len(w.data), w.ok)
			}
		}
		// Another partition and another group are untouched.
		if _, _, ok, err := s.LoadCheckpoint(ctx, "g", "settle.events", 3, 100); ok || err != nil {
			t.Errorf("partition 3 has a checkpoint (%v, %v)", ok, err)
		}
	}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM join_checkpoint_slots FINAL").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 4 { // slot 0: 30; slot 1: chunks 0-2 (40 and 20's leftovers)
		t.Errorf("%d checkpoint rows after five saves, want 4", rows)
	}
}
