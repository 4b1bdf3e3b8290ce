package kafkaio

import (
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/kafka-go"
)

// Ownership is what one consumer-group member owns: the partitions of its
// current generation, with the generation id and the member id the
// coordinator gave it. Set is called on every assignment and says what
// changed against the previous assignment (a revocation in between
// notwithstanding), Revoke when the generation ends. It is safe for
// concurrent use (the metrics read it on every scrape).
type Ownership struct {
	mu         sync.Mutex
	generation int32
	member     string
	parts      []int // sorted; nil once revoked
	last       []int // the last assignment, kept across a revocation
}

// Owned is a copy of what an Ownership holds.
type Owned struct {
	Generation int32
	Member     string
	Partitions []int // sorted
}

// Set records the assignment of generation gen to member and returns the
// partitions gained and lost against the previous generation's assignment.
func (o *Ownership) Set(gen int32, member string, parts []int) (gained, lost []int) {
	next := slices.Clone(parts)
	slices.Sort(next)
	next = slices.Compact(next)
	o.mu.Lock()
	defer o.mu.Unlock()
	gained, lost = diff(o.last, next), diff(next, o.last)
	o.generation, o.member, o.parts, o.last = gen, member, next, next
	return gained, lost
}

// Revoke records the end of generation gen and returns the partitions it
// released; nothing when a later generation was set already.
func (o *Ownership) Revoke(gen int32) []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if gen != o.generation {
		return nil
	}
	lost := o.parts
	o.parts = nil
	return lost
}

// Get returns what is owned now.
func (o *Ownership) Get() Owned {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Owned{Generation: o.generation, Member: o.member, Partitions: slices.Clone(o.parts)}
}

// diff returns the elements of b (sorted) missing from a (sorted).
func diff(a, b []int) []int {
	var out []int
	for _, v := range b {
		if _, found := slices.BinarySearch(a, v); !found {
			out = append(out, v)
		}
	}
	return out
}

// SortedRange is kafka-go's range assignor over the partitions in id
// order. kafka-go's RangeGroupBalancer cuts the partitions in the order the
// broker's metadata lists them, which need not be sorted (and differs
// between calls on some brokers), so one membership can get a different
// split in every generation, and each such rebalance moves partitions (and
// their join state) for nothing. Sorted, the split depends only on the
// members: sorted by member id, the first gets the lowest ids. It speaks
// the "range" protocol, so it mixes with members using kafka-go's own.
type SortedRange struct{}

// ProtocolName implements kafka.GroupBalancer.
func (SortedRange) ProtocolName() string { return kafka.RangeGroupBalancer{}.ProtocolName() }

// UserData implements kafka.GroupBalancer.
func (SortedRange) UserData() ([]byte, error) { return kafka.RangeGroupBalancer{}.UserData() }

// AssignGroups implements kafka.GroupBalancer.
func (SortedRange) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	sorted := slices.Clone(partitions)
	slices.SortFunc(sorted, func(a, b kafka.Partition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	return kafka.RangeGroupBalancer{}.AssignGroups(members, sorted)
}
