package join

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// traceIndex finds the slab slot of an open trace by its trace number. It
// replaces a map[traceKey]int32, which held a second copy of every 32-byte
// key and the map's own per-slot overhead (about 50 bytes per open trace):
// here a trace costs one 8-byte cell at a load factor between 3/8 and 3/4,
// 11 to 21 bytes per trace, and the key is read from the slab entry itself.
//
// It is open addressing with linear probing over a power-of-two table of
// cells. A cell is 0 when empty; otherwise its high 32 bits are the low 32
// bits of the key's xxhash (the tag) and its low 32 bits the slot plus one.
// A probe starts at tag&mask; the slab entry (a cache miss) is read only
// where the tag matches, so a lookup compares keys about once. The table
// grows by doubling when it would pass 3/4 full, rehashing from the tags
// alone (no key is read); deletion shifts the following cells back, so
// there are no deleted markers and probe runs stay as short as the load
// allows. Slots must fit in 31 bits, as they do in the int32 slot numbers.
type traceIndex struct {
	cells []uint64
	n     int // occupied cells
}

// minIndexCells is the table size of the first insertion.
const minIndexCells = 64

func keyHash(k *traceKey) uint64 { return xxhash.Sum64(k[:]) }

// equal reports whether k and o are the same key, 8 bytes at a time (an
// array comparison calls memequal).
func (k *traceKey) equal(o *traceKey) bool {
	le := binary.LittleEndian
	return le.Uint64(k[0:])^le.Uint64(o[0:])|le.Uint64(k[8:])^le.Uint64(o[8:])|
		le.Uint64(k[16:])^le.Uint64(o[16:])|le.Uint64(k[24:])^le.Uint64(o[24:]) == 0
}

func cellOf(tag uint32, slot int32) uint64 { return uint64(tag)<<32 | uint64(uint32(slot)+1) }

// find returns the slot of key k with hash h, or -1 and the empty cell
// where it would be inserted (pos is -1 in an empty table).
func (x *traceIndex) find(h uint64, k *traceKey, entries *slab) (slot int32, pos int) {
	if len(x.cells) == 0 {
		return -1, -1
	}
	tag := uint32(h)
	mask := len(x.cells) - 1
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		c := x.cells[i]
		if c == 0 {
			return -1, i
		}
		if uint32(c>>32) == tag {
			if s := int32(uint32(c)) - 1; entries.at(s).key.equal(k) {
				return s, i
			}
		}
	}
}

// cell returns the cell that holds slot under hash h, or -1: a lookup by
// slot that reads no key.
func (x *traceIndex) cell(h uint64, slot int32) int {
	if len(x.cells) == 0 {
		return -1
	}
	want := cellOf(uint32(h), slot)
	mask := len(x.cells) - 1
	for i := int(uint32(h)) & mask; ; i = (i + 1) & mask {
		switch x.cells[i] {
		case want:
			return i
		case 0:
			return -1
		}
	}
}

// insert adds slot under hash h at pos, the cell find returned for its key
// (which was not present).
func (x *traceIndex) insert(h uint64, slot int32, pos int) {
	if pos < 0 || (x.n+1)*4 > len(x.cells)*3 {
		x.grow(max(minIndexCells, 2*len(x.cells)))
		pos = x.free(uint32(h))
	}
	x.cells[pos] = cellOf(uint32(h), slot)
	x.n++
}

// free returns the first empty cell of tag's probe run.
func (x *traceIndex) free(tag uint32) int {
	mask := len(x.cells) - 1
	i := int(tag) & mask
	for x.cells[i] != 0 {
		i = (i + 1) & mask
	}
	return i
}

// grow rehashes the table into size cells (a power of two).
func (x *traceIndex) grow(size int) {
	old := x.cells
	x.cells = make([]uint64, size)
	for _, c := range old {
		if c != 0 {
			x.cells[x.free(uint32(c>>32))] = c
		}
	}
}

// reserve sizes an empty table for n traces.
func (x *traceIndex) reserve(n int) {
	size := minIndexCells
	for size*3 < n*4 {
		size *= 2
	}
	x.grow(size)
}

// remove empties cell pos and shifts back the cells after it that probed
// past it, so that every cell stays reachable from its home.
func (x *traceIndex) remove(pos int) {
	mask := len(x.cells) - 1
	i := pos
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		c := x.cells[j]
		if c == 0 {
			break
		}
		// c may move to i unless its home lies cyclically in (i, j].
		home := int(uint32(c>>32)) & mask
		if (j-home)&mask >= (j-i)&mask {
			x.cells[i] = c
			i = j
		}
	}
	x.cells[i] = 0
	x.n--
}
