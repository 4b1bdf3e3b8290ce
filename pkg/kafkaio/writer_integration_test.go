//go:build integration

package kafkaio_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/kafkaio"
)

// TestWriterSplitsWhatOnePartitionTakes: a write of 3 MB for one partition
// — as a busy batch's digests are, all keyed by its batch id — goes through
// in requests the broker accepts (its limit is about 1 MB a batch), where a
// single request would be refused as too large, which no retry can fix.
func TestWriterSplitsWhatOnePartitionTakes(t *testing.T) {
	b, err := devbroker.New(devbroker.Config{Partitions: 2, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := kafkaio.DefaultConfig()
	k.Brokers = b.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var msgs []kafka.Message
	for i := range 60 {
		msgs = append(msgs, kafka.Message{Key: []byte("batch-1"), Value: bytes.Repeat([]byte{byte(i)}, 50_000), Headers: []kafka.Header{kafkaio.ToPartition(1)}})
	}
	write := func(wc kafkaio.WriterConfig) error {
		w, err := kafkaio.NewWriter(k, "t", wc)
		if err != nil {
			t.Fatal(err)
		}
		defer kafkaio.CloseWriter(w)
		return w.WriteMessages(ctx, msgs...)
	}
	if err := write(kafkaio.WriterConfig{}); err != nil {
		t.Fatalf("a 3 MB write to one partition with the default writer: %v", err)
	}
	err = write(kafkaio.WriterConfig{BatchBytes: 8 << 20, MaxAttempts: 1})
	if !kafkaio.TooLarge(err) {
		t.Fatalf("one 3 MB request: %v, want the broker's refusal, recognised by TooLarge", err)
	}
}
