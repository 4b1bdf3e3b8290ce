package join

// tombTable holds the tombstones of completed, purged traces by the xxhash
// of their trace number. It replaces a map[uint64]tombstone, which under
// steady insertion and deletion kept splitting and growing its tables (an
// allocation every few thousand records) and held 56 to 112 bytes per
// tombstone: here the tombstones are a dense slab reused through a free
// list, found through a traceIndex whose cells' slots point into it, so a
// tombstone costs its 48 bytes and one 8-byte cell at a load between 3/8
// and 3/4 (59 to 69 bytes), and a table at its working size allocates
// nothing.
type tombTable struct {
	index traceIndex
	slab  []tombEntry
	free  []int32
}

// tombEntry is a tombstone and the hash it is filed under.
type tombEntry struct {
	hash uint64
	tombstone
}

// find returns the slot of hash h, or -1 and the empty cell where it would
// be inserted (pos is -1 in an empty table).
func (t *tombTable) find(h uint64) (slot int32, pos int) {
	x := &t.index
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
			if s := int32(uint32(c)) - 1; t.slab[s].hash == h {
				return s, i
			}
		}
	}
}

func (t *tombTable) len() int { return t.index.n }

// get returns the tombstone of hash h.
func (t *tombTable) get(h uint64) (tombstone, bool) {
	if s, _ := t.find(h); s >= 0 {
		return t.slab[s].tombstone, true
	}
	return tombstone{}, false
}

// has reports whether hash h has a tombstone.
func (t *tombTable) has(h uint64) bool {
	s, _ := t.find(h)
	return s >= 0
}

// put sets the tombstone of hash h.
func (t *tombTable) put(h uint64, ts tombstone) {
	s, pos := t.find(h)
	if s >= 0 {
		t.slab[s].tombstone = ts
		return
	}
	if n := len(t.free); n > 0 {
		s, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.slab = append(t.slab, tombEntry{})
		s = int32(len(t.slab) - 1)
	}
	t.slab[s] = tombEntry{hash: h, tombstone: ts}
	t.index.insert(h, s, pos)
}

// del removes the tombstone of hash h, if any.
func (t *tombTable) del(h uint64) {
	s, pos := t.find(h)
	if s < 0 {
		return
	}
	t.index.remove(pos)
	t.slab[s] = tombEntry{}
	t.free = append(t.free, s)
}

// each calls fn with every tombstone and its hash.
func (t *tombTable) each(fn func(h uint64, ts tombstone)) {
	for _, c := range t.index.cells {
		if c != 0 {
			e := &t.slab[int32(uint32(c))-1]
			fn(e.hash, e.tombstone)
		}
	}
}

// bytes is the memory the table holds.
func (t *tombTable) bytes() int64 {
	return int64(cap(t.slab))*int64(tombEntrySize) + int64(len(t.index.cells))*8 + int64(cap(t.free))*4
}
