package kafkaio

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// partitionCounts is the round tripper of the pipeline's writers. It answers
// a metadata request for a single topic from the last good answer for up to
// ttl, and passes everything else through.
//
// kafka-go's Writer asks for the topic's partitions once per message it
// writes. Its Transport caches the answer, but every request still goes
// through the connection pool and filters a fresh copy of the cached
// response: at 100,000 messages/s that was about 5% of the pipeline's CPU
// (`settlemon-dev bench` profile). The Writer only reads the response, so one
// answer can be shared. ttl stays below the Transport's own MetadataTTL, so
// a partition added to the topic is seen as soon as it would have been.
type partitionCounts struct {
	next kafka.RoundTripper
	ttl  time.Duration

	mu     sync.Mutex
	topics map[string]cachedMetadata
}

type cachedMetadata struct {
	resp *metadata.Response
	at   time.Time
}

// RoundTrip implements kafka.RoundTripper.
func (c *partitionCounts) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadata.Request)
	if !ok || len(m.TopicNames) != 1 {
		return c.next.RoundTrip(ctx, addr, req)
	}
	topic, now := m.TopicNames[0], time.Now()
	c.mu.Lock()
	e, hit := c.topics[topic]
	c.mu.Unlock()
	if hit && now.Sub(e.at) < c.ttl {
		return e.resp, nil
	}
	resp, err := c.next.RoundTrip(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if r, ok := resp.(*metadata.Response); ok && healthy(r, topic) {
		c.mu.Lock()
		if c.topics == nil {
			c.topics = map[string]cachedMetadata{}
		}
		c.topics[topic] = cachedMetadata{resp: r, at: now}
		c.mu.Unlock()
	}
	return resp, nil
}

// healthy reports whether r names topic without an error: only such an
// answer is reused; an error is asked again every time.
func healthy(r *metadata.Response, topic string) bool {
	for _, t := range r.Topics {
		if t.Name == topic {
			return t.ErrorCode == 0 && len(t.Partitions) > 0
		}
	}
	return false
}
