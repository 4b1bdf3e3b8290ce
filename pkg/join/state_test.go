package join

import (
	"math/rand/v2"
	"testing"
)

// TestHeapOrder pushes timers at random times, popping now and then, and
// checks that every pop takes the earliest timer held.
func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h timerHeap
	held := map[int64]int{}
	for op := range 100_000 {
		if len(h) == 0 || rng.IntN(3) > 0 {
			at := rng.Int64N(10_000)
			h = pushHeap(h, timer{at: at})
			held[at]++
			continue
		}
		var x timer
		x, h = popHeap(h)
		if held[x.at] == 0 {
			t.Fatalf("op %d: popped %d, which was not pushed", op, x.at)
		}
		for at := range held {
			if at < x.at {
				t.Fatalf("op %d: popped %d while %d is held", op, x.at, at)
			}
		}
		if held[x.at]--; held[x.at] == 0 {
			delete(held, x.at)
		}
	}
}
