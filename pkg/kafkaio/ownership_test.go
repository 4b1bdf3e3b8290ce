package kafkaio

import (
	"slices"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestOwnership(t *testing.T) {
	type step struct {
		revoke       bool
		gen          int32
		parts        []int
		gained, lost []int
		owned        []int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first assignment gains all", []step{{gen: 1, parts: []int{2, 0, 1}, gained: []int{0, 1, 2}, owned: []int{0, 1, 2}}}},
		{"rebalance gains and loses", []step{
			{gen: 1, parts: []int{0, 1, 2, 3}, gained: []int{0, 1, 2, 3}, owned: []int{0, 1, 2, 3}},
			{gen: 2, parts: []int{0, 1}, lost: []int{2, 3}, owned: []int{0, 1}},
			{gen: 3, parts: []int{1, 2}, gained: []int{2}, lost: []int{0}, owned: []int{1, 2}},
		}},
		{"revoke releases the generation's partitions", []step{
			{gen: 4, parts: []int{3, 1}, gained: []int{1, 3}, owned: []int{1, 3}},
			{revoke: true, gen: 4, lost: []int{1, 3}},
			{gen: 5, parts: []int{1}, lost: []int{3}, owned: []int{1}}, // against generation 4, not the revocation
		}},
		{"a stale revoke changes nothing", []step{
			{gen: 6, parts: []int{0}, gained: []int{0}, owned: []int{0}},
			{revoke: true, gen: 5, owned: []int{0}},
		}},
		{"empty assignment", []step{{gen: 1, parts: nil}}},
		{"duplicates collapse", []step{{gen: 1, parts: []int{1, 1}, gained: []int{1}, owned: []int{1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Ownership
			for i, s := range tc.steps {
				var gained, lost []int
				if s.revoke {
					lost = o.Revoke(s.gen)
				} else {
					gained, lost = o.Set(s.gen, "m-1", s.parts)
				}
				got := o.Get()
				if !slices.Equal(gained, s.gained) || !slices.Equal(lost, s.lost) || !slices.Equal(got.Partitions, s.owned) {
					t.Errorf("step %d: gained %v lost %v owned %v, want %v %v %v", i, gained, lost, got.Partitions, s.gained, s.lost, s.owned)
				}
				if !s.revoke && (got.Generation != s.gen || got.Member != "m-1") {
					t.Errorf("step %d: generation %d member %q", i, got.Generation, got.Member)
				}
			}
		})
	}
}

func TestSortedRangeIgnoresMetadataOrder(t *testing.T) {
	members := []kafka.GroupMember{{ID: "joiner-b-2", Topics: []string{"e"}}, {ID: "joiner-a-1", Topics: []string{"e"}}}
	orders := [][]int{{0, 1, 2, 3}, {3, 1, 0, 2}, {2, 3, 1, 0}}
	for _, order := range orders {
		var parts []kafka.Partition
		for _, id := range order {
			parts = append(parts, kafka.Partition{Topic: "e", ID: id})
		}
		got := SortedRange{}.AssignGroups(members, parts)
		if a, b := got["joiner-a-1"]["e"], got["joiner-b-2"]["e"]; !slices.Equal(a, []int{0, 1}) || !slices.Equal(b, []int{2, 3}) {
			t.Errorf("metadata order %v: a %v, b %v; want [0 1] and [2 3]", order, a, b)
		}
	}
	if (SortedRange{}).ProtocolName() != "range" {
		t.Error("not the range protocol")
	}
}
