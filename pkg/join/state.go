package join

import (
	"sync"
	"unsafe"
)

var (
	entrySize = unsafe.Sizeof(entry{})
	timerSize = unsafe.Sizeof(timer{})
)

// timer is a deadline for one trace slot; gen tells a stale timer (the slot
// was reused) from a live one. It holds no pointers and is 16 bytes: the
// slot shares its 32 bits with the kind, which only the payout heap needs
// (a payout deadline or a hold SLA; each other heap holds one kind).
type timer struct {
	at  int64
	ref uint32 // slab slot, | timerHold for a hold SLA
	gen uint32
}

// timerHold marks a hold SLA timer among the payout deadlines. Slots are
// int32, so bit 31 is free.
const timerHold uint32 = 1 << 31

func newTimer(at int64, slot int32, gen uint32) timer {
	return timer{at: at, ref: uint32(slot), gen: gen}
}

func (t timer) slot() int32 { return int32(t.ref &^ timerHold) }

// timers is a min-heap by time.
type timers struct{ h timerHeap }

type timerHeap []timer

func (t timer) before(o timer) bool { return t.at < o.at }

func (t *timers) push(x timer) { t.h = pushHeap(t.h, x) }

// fire pops every timer due at or before upTo, in time order.
func (t *timers) fire(upTo int64, fn func(timer)) {
	for len(t.h) > 0 && t.h[0].at <= upTo {
		var x timer
		x, t.h = popHeap(t.h)
		fn(x)
	}
}

// ordered is what the typed heaps below order by. They replace
// container/heap, whose interface boxes every element it moves: pushing a
// timer allocated.
type ordered[T any] interface{ before(T) bool }

// The heaps are 4-ary: the children of i are 4i+1 to 4i+4. Half as deep as a
// binary heap, a pop of a heap of millions of timers touches half as many
// cache lines on its way down; the four children it compares lie together.
const heapArity = 4

// pushHeap adds x to the min-heap h.
func pushHeap[T ordered[T]](h []T, x T) []T {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / heapArity
		if !x.before(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
	return h
}

// popHeap removes the least element of the non-empty min-heap h.
func popHeap[T ordered[T]](h []T) (T, []T) {
	n := len(h) - 1
	top, x := h[0], h[n]
	h = h[:n]
	if n == 0 {
		return top, h
	}
	i := 0
	for {
		c := heapArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+heapArity, n); j++ {
			if h[j].before(h[m]) {
				m = j
			}
		}
		if !h[m].before(x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
	return top, h
}

// due counts the timers at or before upTo: absence checks "now" has passed
// while their source has not.
func (t *timers) due(upTo int64) int {
	n := 0
	for _, x := range t.h {
		if x.at <= upTo {
			n++
		}
	}
	return n
}

// tombs is a min-heap of tombstone expiries.
type tombs struct{ h tombHeap }

type tomb struct {
	at   int64
	hash uint64
}

type tombHeap []tomb

func (t tomb) before(o tomb) bool { return t.at < o.at }

func (t *tombs) push(at int64, hash uint64) { t.h = pushHeap(t.h, tomb{at, hash}) }

func (t *tombs) fire(upTo int64, fn func(uint64)) {
	for len(t.h) > 0 && t.h[0].at <= upTo {
		var x tomb
		x, t.h = popHeap(t.h)
		fn(x.hash)
	}
}

// intern maps repeated strings (merchant and terminal ids) to small ids so
// that entries carry an int32 instead of a string header.
type intern struct {
	ids   map[string]int32
	names []string
}

func newIntern() intern { return intern{ids: make(map[string]int32)} }

func (in *intern) id(s string) int32 {
	if s == "" {
		return -1
	}
	if i, ok := in.ids[s]; ok {
		return i
	}
	i := int32(len(in.names))
	in.names = append(in.names, s)
	in.ids[s] = i
	return i
}

func (in *intern) name(i int32) string {
	if i < 0 || int(i) >= len(in.names) {
		return ""
	}
	return in.names[i]
}

// parseMCC keeps a 4-digit MCC as a number; anything else is 0 ("").
func parseMCC(s string) uint16 {
	if len(s) != 4 {
		return 0
	}
	n := 0
	for i := 0; i < 4; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n) + 1 // 0 means none; "0000" is 1
}

// fmtMCC is the 4-digit MCC parseMCC kept, or "" for none. It returns a
// substring of one shared table, so a fact row costs no allocation for it.
func fmtMCC(m uint16) string {
	if m == 0 || m > 10000 {
		return ""
	}
	i := 4 * int(m-1)
	return mccDigits()[i : i+4]
}

// mccDigits is "0000000100020003…9999": every 4-digit MCC, in order. It is
// built once and never changes.
var mccDigits = sync.OnceValue(func() string {
	b := make([]byte, 0, 4*10000)
	for n := range 10000 {
		b = append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
	}
	return string(b)
})

// arena holds the bytes of strings that go out in facts (trace numbers,
// anomaly ids, details and incident keys):
// each is a view of a shared chunk instead of an allocation of its own. A
// chunk is only ever appended to, so the bytes under a string never change;
// it is freed when no fact refers to it any more.
type arena struct{ chunk []byte }

const arenaChunk = 32 << 10

// of returns b as a string backed by the arena.
func (a *arena) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		a.chunk = make([]byte, 0, max(arenaChunk, len(b)))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return unsafe.String(&a.chunk[start], len(b))
}
