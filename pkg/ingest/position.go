package ingest

// positions tracks, per source partition, how far reading stands and the
// watermark at recent batch ends, so that when the consumer group rewinds a
// partition (to its committed offset after a rebalance or a broker restart)
// each re-read event's source watermark is computed from the messages before
// it, never from those read after it before the rewind. Without this a
// re-read event whose first copy never reached settle.events would carry the
// higher watermark and be reported as a late_event it is not.
type positions struct {
	parts map[int]*position
}

// position is one partition's reading position.
type position struct {
	next  int64            // offset after the last message classified
	marks [marksKept]wmark // watermark at recent batch ends, a ring
	n     int              // marks written, ever
}

// undone marks a free slot of the ring: no rewind reaches it.
const undone = int64(^uint64(0) >> 1)

// wmark says that the partition's watermark was wm once every offset below
// offset had been read.
type wmark struct{ offset, wm int64 }

// marksKept bounds how many batches back a rewind finds an exact watermark;
// a rewind further back restarts the watermark from zero, which only ever
// reports fewer events late.
const marksKept = 16

func newPositions() positions { return positions{parts: map[int]*position{}} }

// read notes that the message at offset of partition p is classified next,
// with wm the partition's watermark so far. It returns the watermark to use
// from here: wm, or after a rewind the watermark at the latest batch end at
// or before offset (0 when none is kept), and whether it rewound.
func (ps positions) read(p int, offset, wm int64) (int64, bool) {
	pos := ps.parts[p]
	if pos == nil {
		pos = &position{}
		for i := range pos.marks {
			pos.marks[i].offset = undone
		}
		ps.parts[p] = pos
	}
	rewound := offset < pos.next
	if rewound {
		wm = 0
		best := int64(-1)
		for i := range pos.marks {
			mk := &pos.marks[i]
			switch {
			case mk.offset > offset:
				*mk = wmark{offset: undone} // reading that is now undone
			case mk.offset > best:
				best, wm = mk.offset, mk.wm
			}
		}
	}
	pos.next = offset + 1
	return wm, rewound
}

// batchEnd records partition p's watermark after a batch.
func (ps positions) batchEnd(p int, wm int64) {
	pos := ps.parts[p]
	if pos == nil {
		return
	}
	pos.marks[pos.n%marksKept] = wmark{offset: pos.next, wm: wm}
	pos.n++
}
