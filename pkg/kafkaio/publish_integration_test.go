//go:build integration

package kafkaio_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/kafkaio"
)

// TestPublishRetriesOnlyTheFailedPartitions: when one partition refuses a
// write past the writer's own attempts (its leader moved), Publish writes
// that partition's messages again and no other: every partition ends with
// exactly the messages sent to it.
func TestPublishRetriesOnlyTheFailedPartitions(t *testing.T) {
	const parts, perPart = 4, 50
	b, err := devbroker.New(devbroker.Config{Partitions: parts, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// More failed requests than the writer's five attempts.
	b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "t", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: 6})
	k := kafkaio.DefaultConfig()
	k.Brokers = b.Addrs()
	var msgs []kafka.Message
	for p := range parts {
		for i := range perPart {
			msgs = append(msgs, kafkaio.NewMessage("t", []byte{byte(p), byte(i)}, []byte("v"), p))
		}
	}
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pub.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	cl := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range parts {
		req.Topics["t"] = append(req.Topics["t"], kafka.LastOffsetOf(p))
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range res.Topics["t"] {
		if po.Error != nil || po.LastOffset != perPart {
			t.Errorf("partition %d holds %d messages (%v), want %d", po.Partition, po.LastOffset, po.Error, perPart)
		}
	}
}
