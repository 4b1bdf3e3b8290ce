//go:build integration

package kafkaio_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/kafkaio"
)

// TestHelpersReleaseTheirTransports: the admin helpers, called in a loop as
// the watchdog, the joiner's profile wait and the tests do, leave no
// kafka-go transport behind. A forgotten transport keeps a goroutine per
// broker redialing it forever; once the broker is gone, whatever server
// takes its port is read as a Kafka response (a multi-GiB allocation from a
// garbage array length).
func TestHelpersReleaseTheirTransports(t *testing.T) {
	b, err := devbroker.New(devbroker.Config{Port: 0, Partitions: 2, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := kafkaio.NewWriter(k, "t", kafkaio.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := kafkaio.CloseWriter(w); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		// Released pools stop their goroutines asynchronously.
		n := runtime.NumGoroutine()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			n = min(n, runtime.NumGoroutine())
		}
		return n
	}
	before := settle()
	const calls = 40
	for range calls {
		if _, err := kafkaio.GroupLag(ctx, k, "g", "t"); err != nil {
			t.Fatal(err)
		}
		if _, err := kafkaio.GroupCommitted(ctx, k, "g", "t"); err != nil {
			t.Fatal(err)
		}
		if err := kafkaio.EnsureTopics(ctx, k, []kafkaio.TopicSpec{{Name: "t", Partitions: 2}}); err != nil {
			t.Fatal(err)
		}
		w, err := kafkaio.NewWriter(k, "t", kafkaio.WriterConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		if err := kafkaio.CloseWriter(w); err != nil {
			t.Fatal(err)
		}
	}
	if after := settle(); after > before+calls/4 {
		t.Errorf("%d goroutines after %d rounds of helper calls, %d before: transports are left running", after, calls, before)
	}
}
