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
// It is a table of its own rather than a Go map: one slot of two words per
// id, found by linear probing from the id's hash, so that a lookup in a
// memory far larger than the CPU caches costs one cache miss, not the map's
// two or three (the map was 5% of the pipeline's CPU in the bench). Memory is
// the table, at most half full, plus one word per id in the eviction ring:
// about 40 bytes an id, 40 MiB at the default one million ids
// (TestIDMemoryFootprint measures it). It grows with the ids seen, up to
// capacity, and is not allocated up front. It is used by one goroutine (the
// consumer loop).
type idMemory struct {
	capacity int
	slots    []idSlot // len a power of two, at most half full; id 0 marks a free slot
	count    int      // ids in slots
	ring     []uint64 // id hashes in insertion order, for eviction
	next     int      // ring slot to overwrite once the ring is full
}

// idSlot is one remembered id: xxhash(event_id) (never 0) → xxhash(message value).
type idSlot struct{ id, value uint64 }

// minIDSlots is the table's first size.
const minIDSlots = 1 << 10

// newIDMemory returns a memory of capacity ids, or nil (remembering nothing)
// when capacity is not positive.
func newIDMemory(capacity int) *idMemory {
	if capacity <= 0 {
		return nil
	}
	return &idMemory{capacity: capacity}
}

// idHash is the hash an id is stored under: xxhash64, with 0 (the free slot)
// folded onto 1.
func idHash(id string) uint64 {
	if k := xxhash.Sum64String(id); k != 0 {
		return k
	}
	return 1
}

// check reports whether id was seen before with a different payload. A new
// id is remembered (evicting the oldest when full); a known id is left as
// first seen.
func (m *idMemory) check(id string, payload []byte) (reused bool) {
	if m == nil {
		return false
	}
	k, v := idHash(id), xxhash.Sum64(payload)
	if i, ok := m.find(k); ok {
		return m.slots[i].value != v
	}
	if len(m.ring) < m.capacity {
		m.ring = append(m.ring, k)
	} else {
		m.remove(m.ring[m.next])
		m.ring[m.next] = k
		m.next = (m.next + 1) % m.capacity
	}
	m.put(k, v)
	return false
}

// find returns the slot holding k, or the free slot where its probe ended.
func (m *idMemory) find(k uint64) (int, bool) {
	if len(m.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(m.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch m.slots[i].id {
		case k:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

// put adds k, which is not in the table, growing the table to keep it at
// most half full.
func (m *idMemory) put(k, v uint64) {
	if 2*(m.count+1) > len(m.slots) {
		m.grow()
	}
	i, _ := m.find(k)
	m.slots[i] = idSlot{k, v}
	m.count++
}

func (m *idMemory) grow() {
	old := m.slots
	m.slots = make([]idSlot, max(minIDSlots, 2*len(old)))
	for _, s := range old {
		if s.id != 0 {
			i, _ := m.find(s.id)
			m.slots[i] = s
		}
	}
}

// remove deletes k, shifting back the entries after it in its probe run so
// that every entry stays reachable from its home slot (no tombstones).
func (m *idMemory) remove(k uint64) {
	i, ok := m.find(k)
	if !ok {
		return
	}
	m.count--
	mask := len(m.slots) - 1
	for {
		m.slots[i] = idSlot{}
		j := i
		for {
			j = (j + 1) & mask
			if m.slots[j].id == 0 {
				return
			}
			// The entry at j may fill the hole at i unless its home slot
			// lies cyclically in (i, j].
			home := int(m.slots[j].id & uint64(mask))
			if i <= j && (i < home && home <= j) || i > j && (i < home || home <= j) {
				continue
			}
			m.slots[i] = m.slots[j]
			i = j
			break
		}
	}
}

// len is the number of ids remembered.
func (m *idMemory) len() int {
	if m == nil {
		return 0
	}
	return m.count
}
