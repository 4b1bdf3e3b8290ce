package chaos

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"settlemon/pkg/devbroker"
)

// TestLeaderShuffleMovesLeaders: on a three-node broker, POST
// /leaders/shuffle reports every partition of the topic with a leader among
// the nodes, and a few shuffles move at least one leader.
func TestLeaderShuffleMovesLeaders(t *testing.T) {
	b, err := devbroker.New(devbroker.Config{Brokers: 3, Partitions: 8, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := len(b.Addrs()); got != 3 {
		t.Fatalf("%d nodes, want 3", got)
	}
	srv := httptest.NewServer(NewLeaderShuffle(b.Cluster(), []string{"t"}).Handler())
	defer srv.Close()
	get := func(method, path string) ShuffleState {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s", method, path, resp.Status)
		}
		var st ShuffleState
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	before := get(http.MethodGet, "/leaders")
	if n := len(before.Leaders["t"]); n != 8 || before.Shuffles != 0 {
		t.Fatalf("before: %d partitions reported, %d shuffles; want 8 and 0", n, before.Shuffles)
	}
	moved := false
	var after ShuffleState
	for i := 0; i < 10 && !moved; i++ {
		after = get(http.MethodPost, "/leaders/shuffle?topic=t")
		for p, node := range after.Leaders["t"] {
			if node < 0 || node > 2 {
				t.Fatalf("partition %s led by node %d, not one of the three", p, node)
			}
			moved = moved || node != before.Leaders["t"][p]
		}
	}
	if !moved {
		t.Fatalf("ten shuffles moved no leader of 8 partitions over 3 nodes: %v", after.Leaders)
	}
	if after.Shuffles == 0 {
		t.Fatal("shuffles not counted")
	}
}
