//go:build integration

package kafkaio_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/kafkaio"
)

// TestThreeBrokers: on a three-node broker whose partition leaders and group
// coordinator move while messages flow, the writer delivers every message and
// a consumer group that commits what it read ends with every message read
// and every partition committed to its end; the helpers that read topic and
// group offsets answer from whichever node leads.
func TestThreeBrokers(t *testing.T) {
	const parts, total = 6, 3000
	b, err := devbroker.New(devbroker.Config{Brokers: 3, Partitions: parts, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := len(b.Addrs()); n != 3 {
		t.Fatalf("%d nodes listen, want 3", n)
	}
	c := b.Cluster()
	leaders := map[int32]bool{}
	for p := range int32(parts) {
		leaders[c.LeaderFor("t", p)] = true
	}
	if len(leaders) < 2 {
		t.Fatalf("all %d partitions are led by one node: the test would prove nothing", parts)
	}

	k := kafkaio.DefaultConfig()
	k.Brokers = b.Addrs()[:1] // bootstrap from one node, like a real client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	w, err := kafkaio.NewWriter(k, "t", kafkaio.WriterConfig{BatchSize: 100, MaxAttempts: 20})
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += 100 {
			batch := make([]kafka.Message, 0, 100)
			for j := i; j < i+100; j++ {
				batch = append(batch, kafka.Message{Key: fmt.Appendf(nil, "k%d", j), Value: fmt.Appendf(nil, "%d", j)})
			}
			if err := w.WriteMessages(ctx, batch...); err != nil {
				written <- fmt.Errorf("writing batch at %d: %w", i, err)
				return
			}
			if i%500 == 0 {
				c.ShufflePartitionLeaders()
			}
		}
		written <- kafkaio.CloseWriter(w)
	}()

	dialer, err := k.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, GroupID: "g", Topic: "t", Dialer: dialer,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond, CommitInterval: 0,
		HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 2 * time.Second, RebalanceTimeout: 2 * time.Second})
	defer r.Close()
	seen := map[string]bool{}
	last := map[int]kafka.Message{} // the last message read of each partition
	for len(seen) < total {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d distinct messages: %v", len(seen), total, err)
		}
		seen[string(m.Value)] = true
		last[m.Partition] = m
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Logf("commit at partition %d offset %d: %v (the next commit covers it)", m.Partition, m.Offset, err)
		}
		if len(seen) == total/3 {
			c.RehashCoordinators()
		}
		if len(seen) == total/2 {
			c.ShufflePartitionLeaders()
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}

	ends, err := kafkaio.TopicOffsets(ctx, k, "t")
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for _, o := range ends {
		end += o.End - o.First
	}
	if end < total {
		t.Fatalf("the topic holds %d messages, want at least %d", end, total)
	}
	// A commit refused while the coordinator moved is covered by the next
	// one; once the last message of each partition is committed again, the
	// group has nothing left.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := kafkaio.GroupLag(ctx, k, "g", "t")
		if err == nil && len(lag) == parts && sum(lag) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group lag %v (err %v): committed offsets did not reach the ends", lag, err)
		}
		for _, m := range last {
			_ = r.CommitMessages(ctx, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sum(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
