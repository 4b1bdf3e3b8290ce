package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestSplitCheck(t *testing.T) {
	o := func(gen float64, parts ...int) owned { return owned{parts: parts, generation: gen} }
	tests := []struct {
		name    string
		in      map[string]owned
		wantErr string
	}{
		{"split", map[string]owned{"a": o(3, 0, 1), "b": o(3, 2, 3)}, ""},
		{"one owns all", map[string]owned{"a": o(1, 0, 1, 2, 3)}, ""},
		{"empty member", map[string]owned{"a": o(3, 0, 1, 2, 3), "b": o(3)}, "b owns no partition"},
		{"overlap", map[string]owned{"a": o(3, 0, 1, 2), "b": o(3, 2, 3)}, "owned by both"},
		{"gap", map[string]owned{"a": o(3, 0), "b": o(3, 2, 3)}, "3 of 4 partitions"},
		{"generations differ", map[string]owned{"a": o(3, 0, 1), "b": o(4, 2, 3)}, "rebalance"},
		{"out of range", map[string]owned{"a": o(3, 0, 1, 2, 3, 4)}, "partition 4 of 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := splitCheck(tc.in, 4)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestOwnedFromMetrics(t *testing.T) {
	tests := []struct {
		name string
		text string
		want owned
	}{
		{"joiner", `# TYPE settlemon_joiner_partition_owned gauge
settlemon_joiner_partition_owned{group="settle-joiner",partition="3",topic="settle.events"} 1
settlemon_joiner_partition_owned{group="settle-joiner",partition="1",topic="settle.events"} 1
# TYPE settlemon_joiner_group_generation gauge
settlemon_joiner_group_generation 7
# TYPE settlemon_joiner_checkpoints_total counter
settlemon_joiner_checkpoints_total 12
# TYPE settlemon_joiner_checkpoint_restores_total counter
settlemon_joiner_checkpoint_restores_total 2
`, owned{parts: []int{1, 3}, generation: 7, checkpoints: 12, restores: 2}},
		{"ingest", `# TYPE settlemon_ingest_partition_owned gauge
settlemon_ingest_partition_owned{group="g",partition="0",source="auth",topic="t"} 1
# TYPE settlemon_ingest_group_generation gauge
settlemon_ingest_group_generation{source="auth",topic="t"} 2
`, owned{parts: []int{0}, generation: 2}},
		{"nothing owned", `# TYPE settlemon_joiner_partitions_owned gauge
settlemon_joiner_partitions_owned 0
`, owned{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parser := expfmt.NewTextParser(model.UTF8Validation)
			mfs, err := parser.TextToMetricFamilies(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got := ownedFrom(mfs)
			if !slices.Equal(got.parts, tc.want.parts) || got.generation != tc.want.generation ||
				got.checkpoints != tc.want.checkpoints || got.restores != tc.want.restores {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAssignedLine(t *testing.T) {
	log := `time=2026-12-03T12:00:00Z level=INFO msg="joiner started" component=joiner
time=2026-12-03T12:00:01Z level=INFO msg="partitions assigned" component=joiner generation=2 member_id=joiner-c-0f3a topic=settle.events partitions="[0 1 2 3]" gained="[0 1 2 3]" lost=[]
time=2026-12-03T12:00:05Z level=INFO msg="partitions revoked" component=joiner generation=2 member_id=joiner-c-0f3a topic=settle.events partitions="[0 1 2 3]"
time=2026-12-03T12:00:06Z level=INFO msg="partitions assigned" component=joiner generation=3 member_id=joiner-c-0f3a topic=settle.events partitions="[2 3]" gained=[] lost="[0 1]"
time=2026-12-03T12:00:07Z level=INFO msg="partitions assigned" component=joiner generation=4 member_id=joiner-c-0f3a topic=settle.events partitions=[3] gained=[] lost=[2]
`
	path := filepath.Join(t.TempDir(), "joiner-c.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, child string
		parts       []int
		wantGen     string // "" = not found
	}{
		{"two partitions", "joiner-c", []int{2, 3}, "generation=3"},
		{"one partition, unquoted", "joiner-c", []int{3}, "generation=4"},
		{"all four", "joiner-c", []int{0, 1, 2, 3}, "generation=2"},
		{"another member", "joiner-a", []int{2, 3}, ""},
		{"partitions never held", "joiner-c", []int{1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, err := assignedLine(path, tc.child, tc.parts)
			if tc.wantGen == "" {
				if err == nil {
					t.Fatalf("found %q, want none", line)
				}
				return
			}
			if err != nil || !strings.Contains(line, tc.wantGen) {
				t.Fatalf("line %q, err %v; want the one with %s", line, err, tc.wantGen)
			}
		})
	}
}

func TestOpsAddrIsTheLastStartsAddress(t *testing.T) {
	tests := []struct {
		name, log, want, wantErr string
	}{
		{"not started", "", "", "not listening yet"},
		{"one start", `time=2026-12-03T10:00:00Z level=INFO msg="ops endpoint listening" component=joiner addr=127.0.0.1:40001 checks=2` + "\n", "127.0.0.1:40001", ""},
		{"restarted", `time=t level=INFO msg="ops endpoint listening" addr=127.0.0.1:40001 checks=2` + "\n" +
			`time=t level=WARN msg="partition released"` + "\n" +
			`time=t level=INFO msg="ops endpoint listening" addr=127.0.0.1:40002 checks=2` + "\n", "127.0.0.1:40002", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &child{name: "joiner-a", logPath: filepath.Join(t.TempDir(), "joiner-a.log")}
			if err := os.WriteFile(c.logPath, []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := opsAddr(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("opsAddr = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("opsAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
