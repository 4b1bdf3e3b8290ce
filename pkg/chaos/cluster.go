package chaos

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
)

// LeaderShuffle moves the partition leaders and group coordinators of a
// multi-node dev broker (settlemon-dev broker --brokers N) while it runs:
// every partition gets a leader drawn at random among the nodes and every
// group's coordinator is rehashed, so that clients must follow both.
type LeaderShuffle struct {
	cluster *kfake.Cluster
	topics  []string
	n       atomic.Int64
}

// NewLeaderShuffle controls cluster; topics are the ones whose leaders
// Shuffle reports.
func NewLeaderShuffle(cluster *kfake.Cluster, topics []string) *LeaderShuffle {
	return &LeaderShuffle{cluster: cluster, topics: topics}
}

// ShuffleState is what a shuffle left: the shuffles so far and, per
// reported topic, each partition's leader node.
type ShuffleState struct {
	Shuffles int64                       `json:"shuffles"`
	Leaders  map[string]map[string]int32 `json:"leaders"` // topic → partition → node
}

// Shuffle moves every leader and coordinator once and reports the leaders
// of topics (none: those given to NewLeaderShuffle).
func (l *LeaderShuffle) Shuffle(topics ...string) ShuffleState {
	l.cluster.ShufflePartitionLeaders()
	l.cluster.RehashCoordinators()
	l.n.Add(1)
	return l.State(topics...)
}

// State reports the shuffles so far and the leaders of topics (none: those
// given to NewLeaderShuffle).
func (l *LeaderShuffle) State(topics ...string) ShuffleState {
	if len(topics) == 0 {
		topics = l.topics
	}
	st := ShuffleState{Shuffles: l.n.Load(), Leaders: map[string]map[string]int32{}}
	for _, t := range topics {
		m := map[string]int32{}
		for p := int32(0); ; p++ {
			node := l.cluster.LeaderFor(t, p)
			if node < 0 {
				break
			}
			m[strconv.Itoa(int(p))] = node
		}
		st.Leaders[t] = m
	}
	return st
}

// Handler serves GET /leaders (the ShuffleState as JSON) and POST
// /leaders/shuffle (one Shuffle, answered with the state after it); a
// topic query parameter, repeated, names the topics to report.
func (l *LeaderShuffle) Handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, st ShuffleState) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}
	mux.HandleFunc("GET /leaders", func(w http.ResponseWriter, r *http.Request) { reply(w, l.State(r.URL.Query()["topic"]...)) })
	mux.HandleFunc("POST /leaders/shuffle", func(w http.ResponseWriter, r *http.Request) {
		reply(w, l.Shuffle(r.URL.Query()["topic"]...))
	})
	return mux
}
