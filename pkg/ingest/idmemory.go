package ingest

import "github.com/cespare/xxhash/v2"

// idMemory remembers, for the last capacity distinct event ids one ingest
// consumer accepted, a 64-bit hash of the message bytes that carried each, so
// that an event id reused for different content can be dead-lettered
// (event_id_reused) while a re-delivery of the very same bytes passes (the
// joiner de-duplicates those).
//
// Its limits are deliberate and documented:
//   - It is per ingest instance and lives in memory: a restart forgets it, and
//     with several instances in one group each sees only its partitions. A
//     reuse across a restart, across instances or beyond the window is not
//     detected here; the joiner still never counts a second event under one
//     id twice (it ignores an event id it has seen per trace and type).
//   - The window is the last capacity distinct ids, evicted first-in
//     first-out: a reuse of an id older than that passes.
//   - Ids and payloads are compared by xxhash64. A collision of two ids would
//     reject a valid event as a reuse; at one million ids its probability is
//     about 3·10⁻⁸. A payload collision would let a reuse pass.
//   - The first message read under an id wins: if the reuse arrives first, the
//     genuine event is the one dead-lettered.
//
// Memory is two words per id in a map plus one in the eviction ring: about
// 46 bytes an id with the map's slack, 44 MiB at the default one million ids
// (TestIDMemoryFootprint measures it). It grows with the ids seen, up to
// capacity, and is not allocated up front. It is used by one goroutine (the
// consumer loop).
type idMemory struct {
	capacity int
	seen     map[uint64]uint64 // xxhash(event_id) → xxhash(message value)
	ring     []uint64          // id hashes in insertion order, for eviction
	next     int               // ring slot to overwrite once the ring is full
}

// newIDMemory returns a memory of capacity ids, or nil (remembering nothing)
// when capacity is not positive.
func newIDMemory(capacity int) *idMemory {
	if capacity <= 0 {
		return nil
	}
	return &idMemory{capacity: capacity, seen: map[uint64]uint64{}}
}

// check reports whether id was seen before with a different payload. A new
// id is remembered (evicting the oldest when full); a known id is left as
// first seen.
func (m *idMemory) check(id string, payload []byte) (reused bool) {
	if m == nil {
		return false
	}
	k, v := xxhash.Sum64String(id), xxhash.Sum64(payload)
	if prev, ok := m.seen[k]; ok {
		return prev != v
	}
	if len(m.ring) < m.capacity {
		m.ring = append(m.ring, k)
	} else {
		delete(m.seen, m.ring[m.next])
		m.ring[m.next] = k
		m.next = (m.next + 1) % m.capacity
	}
	m.seen[k] = v
	return false
}

// len is the number of ids remembered.
func (m *idMemory) len() int {
	if m == nil {
		return 0
	}
	return len(m.seen)
}
