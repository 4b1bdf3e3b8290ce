package ingest

import "testing"

func TestPositionsRewind(t *testing.T) {
	type step struct {
		batchEnd bool
		offset   int64
		wm       int64 // the watermark so far, as classify holds it
		want     int64
		rewound  bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"reading forward keeps the watermark", []step{
			{offset: 0, wm: 0, want: 0}, {offset: 1, wm: 50, want: 50}, {batchEnd: true, wm: 60},
			{offset: 2, wm: 60, want: 60},
		}},
		{"a rewind to a batch end takes that batch end's watermark", []step{
			{offset: 10, wm: 0, want: 0}, {offset: 11, wm: 100, want: 100}, {batchEnd: true, wm: 200},
			{offset: 12, wm: 200, want: 200}, {offset: 13, wm: 300, want: 300}, {batchEnd: true, wm: 400},
			{offset: 14, wm: 400, want: 400},
			{offset: 12, wm: 500, want: 200, rewound: true},
			{offset: 13, wm: 250, want: 250},
		}},
		{"a rewind between batch ends takes the earlier one", []step{
			{offset: 0, wm: 0, want: 0}, {batchEnd: true, wm: 100},
			{offset: 1, wm: 100, want: 100}, {offset: 2, wm: 150, want: 150}, {batchEnd: true, wm: 300},
			{offset: 3, wm: 300, want: 300},
			{offset: 2, wm: 400, want: 100, rewound: true},
		}},
		{"a rewind before every kept batch end restarts from zero", []step{
			{offset: 100, wm: 0, want: 0}, {batchEnd: true, wm: 100},
			{offset: 101, wm: 100, want: 100},
			{offset: 50, wm: 900, want: 0, rewound: true},
		}},
		{"batch ends past a rewind are forgotten", []step{
			{offset: 0, wm: 0, want: 0}, {batchEnd: true, wm: 10},
			{offset: 1, wm: 10, want: 10}, {batchEnd: true, wm: 20},
			{offset: 2, wm: 20, want: 20}, {batchEnd: true, wm: 30},
			{offset: 1, wm: 30, want: 10, rewound: true},
			{offset: 2, wm: 90, want: 90}, // the old mark at 3 is gone, nothing rewinds here
			{offset: 2, wm: 90, want: 10, rewound: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newPositions()
			for i, s := range tt.steps {
				if s.batchEnd {
					ps.batchEnd(3, s.wm)
					continue
				}
				got, rewound := ps.read(3, s.offset, s.wm)
				if got != s.want || rewound != s.rewound {
					t.Fatalf("step %d, offset %d: watermark %d rewound %v, want %d %v", i, s.offset, got, rewound, s.want, s.rewound)
				}
			}
		})
	}
}

func TestPositionsRingIsBounded(t *testing.T) {
	ps := newPositions()
	for off := int64(0); off < 100; off++ {
		ps.read(0, off, off*10)
		ps.batchEnd(0, off*10+5)
	}
	// The batch end at 90 is among the last marksKept; the one at 10 is not.
	if got, _ := ps.read(0, 90, 0); got != 89*10+5 {
		t.Errorf("rewind to 90: %d, want %d", got, 89*10+5)
	}
	if got, _ := ps.read(0, 10, 0); got != 0 {
		t.Errorf("rewind past the kept marks: %d, want 0", got)
	}
}
