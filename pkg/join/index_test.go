package join

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestTraceIndexMatchesMap inserts and removes keys at random, through
// growth and backward-shift deletion, and checks every lookup (by key, and
// by slot before a removal) against a map.
func TestTraceIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x traceIndex
	var entries slab
	var free []int32
	want := map[traceKey]int32{}
	key := func(n int) traceKey {
		var k traceKey
		copy(k[:], "T"+strconv.Itoa(n))
		return k
	}
	for op := range 200_000 {
		k := key(rng.IntN(5000))
		h := keyHash(&k)
		s, pos := x.find(h, &k, &entries)
		if w, ok := want[k]; ok != (s >= 0) || ok && w != s {
			t.Fatalf("op %d: find = %d, want %d (present %v)", op, s, w, ok)
		}
		switch {
		case s < 0:
			var i int32
			if n := len(free); n > 0 {
				i, free = free[n-1], free[:n-1]
			} else {
				i = entries.add()
			}
			*entries.at(i) = entry{key: k, keyLen: 1}
			x.insert(h, i, pos)
			want[k] = i
		case rng.IntN(3) > 0:
			if c := x.cell(h, s); c != pos {
				t.Fatalf("op %d: cell = %d, want %d", op, c, pos)
			}
			x.remove(pos)
			*entries.at(s) = entry{}
			free = append(free, s)
			delete(want, k)
		}
		if x.n != len(want) {
			t.Fatalf("op %d: %d cells occupied, want %d", op, x.n, len(want))
		}
	}
	for k, w := range want {
		if s, _ := x.find(keyHash(&k), &k, &entries); s != w {
			t.Fatalf("%q: slot %d, want %d", k[:], s, w)
		}
	}
}
