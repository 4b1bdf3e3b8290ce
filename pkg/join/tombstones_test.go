package join

import (
	"math/rand/v2"
	"testing"
)

// TestTombTableAsMap drives a tombTable and a map with the same random
// puts, deletions and lookups, over hashes that come in pairs sharing their
// low 32 bits (the cells' tag), and checks that they agree throughout.
func TestTombTableAsMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tt tombTable
	want := map[uint64]tombstone{}
	pool := make([]uint64, 0, 5000)
	for range cap(pool) / 2 {
		h := rng.Uint64()
		pool = append(pool, h, h^1<<50)
	}
	hash := func() uint64 { return pool[rng.IntN(len(pool))] }
	for i := range 200_000 {
		h := hash()
		switch rng.IntN(3) {
		case 0:
			ts := tombstone{expires: int64(i)}
			ts.fp[i%numSlots] = uint32(i)
			tt.put(h, ts)
			want[h] = ts
		case 1:
			tt.del(h)
			delete(want, h)
		}
		got, ok := tt.get(h)
		if w, wok := want[h]; ok != wok || got != w || tt.has(h) != wok {
			t.Fatalf("step %d: get(%#x) = %v, %v; want %v, %v", i, h, got, ok, w, wok)
		}
		if tt.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", i, tt.len(), len(want))
		}
	}
	n := 0
	tt.each(func(h uint64, ts tombstone) {
		n++
		if want[h] != ts {
			t.Errorf("each: %#x = %v, want %v", h, ts, want[h])
		}
	})
	if n != len(want) {
		t.Errorf("each visited %d, want %d", n, len(want))
	}
}
