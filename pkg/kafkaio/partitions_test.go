package kafkaio

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/protocol/produce"
)

// countingBroker answers metadata requests with the topics it knows and
// counts the requests that reach it.
type countingBroker struct {
	calls  int
	topics map[string]int16 // topic → error code
}

func (b *countingBroker) RoundTrip(_ context.Context, _ net.Addr, req kafka.Request) (kafka.Response, error) {
	b.calls++
	switch r := req.(type) {
	case *metadata.Request:
		resp := &metadata.Response{}
		for _, name := range r.TopicNames {
			code, ok := b.topics[name]
			if !ok {
				code = 3 // unknown topic or partition
			}
			t := metadata.ResponseTopic{Name: name, ErrorCode: code}
			if code == 0 {
				t.Partitions = []metadata.ResponsePartition{{PartitionIndex: 0}, {PartitionIndex: 1}}
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	case *produce.Request:
		return &produce.Response{}, nil
	}
	return nil, nil
}

func TestPartitionCounts(t *testing.T) {
	addr := kafka.TCP("127.0.0.1:9092")
	meta := func(topics ...string) kafka.Request { return &metadata.Request{TopicNames: topics} }
	tests := []struct {
		name      string
		reqs      []kafka.Request
		wait      time.Duration // before the last request
		wantCalls int
	}{
		{"one topic is asked once", []kafka.Request{meta("t"), meta("t"), meta("t")}, 0, 1},
		{"each topic on its own", []kafka.Request{meta("t"), meta("u"), meta("t"), meta("u")}, 0, 2},
		{"an error is asked again", []kafka.Request{meta("gone"), meta("gone"), meta("gone")}, 0, 3},
		{"several topics pass through", []kafka.Request{meta("t", "u"), meta("t", "u")}, 0, 2},
		{"other requests pass through", []kafka.Request{&produce.Request{}, &produce.Request{}}, 0, 2},
		{"asked again after the ttl", []kafka.Request{meta("t"), meta("t"), meta("t")}, 30 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		// synctest: the clock advances only by the sleep, so the ttl is exact.
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &countingBroker{topics: map[string]int16{"t": 0, "u": 0}}
				c := &partitionCounts{next: b, ttl: 20 * time.Millisecond}
				for i, req := range tt.reqs {
					if i == len(tt.reqs)-1 && tt.wait > 0 {
						time.Sleep(tt.wait)
					}
					resp, err := c.RoundTrip(context.Background(), addr, req)
					if err != nil {
						t.Fatal(err)
					}
					if m, ok := req.(*metadata.Request); ok {
						r := resp.(*metadata.Response)
						if len(r.Topics) != len(m.TopicNames) || r.Topics[0].Name != m.TopicNames[0] {
							t.Fatalf("asked for %v, answered %+v", m.TopicNames, r.Topics)
						}
					}
				}
				if b.calls != tt.wantCalls {
					t.Errorf("%d requests reached the broker, want %d", b.calls, tt.wantCalls)
				}
			})
		})
	}
}
