package join

// slab holds the entries of the open traces in fixed chunks of slabChunk,
// addressed by slot. It grows one chunk at a time and never moves what it
// holds: a single growing array would be copied at every growth (by a
// quarter at a time for large slices, so about four times its final size in
// all, into fresh memory the kernel zeroes first) and would keep up to a
// quarter of its length as slack.
type slab struct {
	chunks [][]entry // each exactly slabChunk long
	n      int32     // slots in use: 0..n-1
}

const (
	slabShift = 12
	slabChunk = 1 << slabShift // 4096 entries, 840 KiB
	slabMask  = slabChunk - 1
)

// at returns the entry of slot i (0 <= i < len).
func (s *slab) at(i int32) *entry { return &s.chunks[i>>slabShift][i&slabMask] }

// len is the number of slots, free or used.
func (s *slab) len() int32 { return s.n }

// add appends a zero entry and returns its slot.
func (s *slab) add() int32 {
	if int(s.n) == len(s.chunks)*slabChunk {
		s.chunks = append(s.chunks, make([]entry, slabChunk))
	}
	s.n++
	return s.n - 1
}

// capacity is the number of entries allocated.
func (s *slab) capacity() int { return len(s.chunks) * slabChunk }

// each calls f for the slots in order, chunk by chunk, with the entries of
// slots i..i+len(part)-1.
func (s *slab) each(f func(i int32, part []entry)) {
	for c := 0; int32(c*slabChunk) < s.n; c++ {
		part := s.chunks[c][:min(slabChunk, int(s.n)-c*slabChunk)]
		f(int32(c*slabChunk), part)
	}
}

// slabOf makes a slab of the entries es, in place: the chunks are views of
// es, and the last, partial one a copy, so that add never writes past es.
func slabOf(es []entry) slab {
	s := slab{n: int32(len(es))}
	for lo := 0; lo < len(es); lo += slabChunk {
		if hi := lo + slabChunk; hi <= len(es) {
			s.chunks = append(s.chunks, es[lo:hi:hi])
			continue
		}
		last := make([]entry, slabChunk)
		copy(last, es[lo:])
		s.chunks = append(s.chunks, last)
	}
	return s
}
