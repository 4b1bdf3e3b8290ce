package ingest

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
	"settlemon/pkg/pan"
)

// Defaults of the checks ingest adds to event.Decode.
const (
	// DefaultMaxBatch is the messages per batch: one Kafka write. The
	// cost is memory: at most two batches in hand, about 1 KB per message
	// each. A partial batch never waits longer than MaxWait.
	DefaultMaxBatch = 50_000
	// DefaultArchiveRows and DefaultArchiveWait bound what batches gather
	// for ClickHouse before one insert per table and a commit. ClickHouse's
	// work per row falls steeply with the insert's size: every insert is a
	// new part per table and month, with a fixed cost per column, and the
	// merges that follow rewrite each row again (see README, Performance).
	// The cost is memory, about 1 KB per gathered row in the heap, and what a
	// crash re-reads.
	DefaultArchiveRows   = 100_000
	DefaultArchiveWait   = 5 * time.Second
	DefaultMaxFutureSkew = 24 * time.Hour
	DefaultEventIDMemory = 1_000_000
)

// check applies, to a message that decoded, the rules that need more than
// its bytes: a Kafka key, the wall clock and the messages read before. It
// runs before the event moves any watermark. The order is fixed so that a
// message breaking several rules always gets the same reason: empty key,
// future timestamp, reused event id. Only a message that passes all of them
// is remembered under its event id.
func (in *Ingest) check(m *kafka.Message, ev *event.Event) error {
	if len(m.Key) == 0 {
		// Every producer keys its messages: payment events by trace_no,
		// batch control by batch_id, heartbeats by producer name (they are
		// sent to explicit partitions, but still keyed), merchant profiles
		// by merchant_id (acq.merchants is compacted by key). Without a key
		// the producer's partitioner scatters a trace's events over the
		// partitions and their order is lost.
		return &event.Error{Reason: event.ReasonEmptyKey,
			Detail: "the message has no Kafka key; producers must key " + ev.Type.String() +
				" events (payment events by trace_no, batch events by batch_id, heartbeats by producer, profiles by merchant_id) so that related events stay in order on one partition"}
	}
	if err := event.CheckTime(ev, in.now(), in.cfg.MaxFutureSkew); err != nil {
		return err
	}
	if in.ids.check(ev.ID, m.Value) {
		return &event.Error{Reason: event.ReasonEventIDReused, Field: "event_id",
			Detail: strconv.Quote(ev.ID) + " was already read by this consumer with different content; a re-delivery must repeat the same bytes and a new event needs a new event_id"}
	}
	return nil
}

// checkEnvelope rejects a message whose Kafka key or a header value holds a
// card number, before its payload is looked at: neither is archived, but the
// key goes on to the dead-letter topic and table (masked) and the event must
// not take effect.
func checkEnvelope(m *kafka.Message) error {
	if pan.Default().Contains(m.Key) {
		return &event.Error{Reason: event.ReasonCardNumber, Field: "kafka key",
			Detail: "holds a full card number; key payment events by trace_no, never by card number"}
	}
	for _, h := range m.Headers {
		if pan.Default().Contains(h.Value) || pan.Default().ContainsString(h.Key) {
			return &event.Error{Reason: event.ReasonCardNumber, Field: "kafka header",
				Detail: "a header holds a full card number; send only card_bin and card_last4, in the payload"}
		}
	}
	return nil
}
