package ingest

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
)

// progress is what Stats reports beyond the counters: bytes consumed, dead
// letters by reason and, per source partition, how far the last message read
// was behind the partition's end.
type progress struct {
	bytes atomic.Uint64

	mu      sync.Mutex
	lag     map[int]int64
	reasons map[string]uint64
}

// read records one consumed message.
func (p *progress) read(m *kafka.Message) {
	p.bytes.Add(uint64(len(m.Key) + len(m.Value)))
	p.mu.Lock()
	if p.lag == nil {
		p.lag = map[int]int64{}
	}
	// The high-water mark is the partition's end offset when the message
	// was fetched.
	p.lag[m.Partition] = max(m.HighWaterMark-m.Offset-1, 0)
	p.mu.Unlock()
}

// forget drops the lag of partitions this instance no longer owns.
func (p *progress) forget(parts []int) {
	p.mu.Lock()
	for _, id := range parts {
		delete(p.lag, id)
	}
	p.mu.Unlock()
}

// totalLag is the lag summed over the partitions read.
func (p *progress) totalLag() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum int64
	for _, l := range p.lag {
		sum += l
	}
	return sum
}

// deadLettered records one dead letter.
func (p *progress) deadLettered(reason string) {
	p.mu.Lock()
	if p.reasons == nil {
		p.reasons = map[string]uint64{}
	}
	p.reasons[reason]++
	p.mu.Unlock()
}

// fill copies the state into s.
func (p *progress) fill(s *Stats) {
	s.ConsumedBytes = p.bytes.Load()
	p.mu.Lock()
	s.PartitionLag = maps.Clone(p.lag)
	s.DeadLetterReasons = maps.Clone(p.reasons)
	p.mu.Unlock()
}

// reasonInvalid is the dead-letter reason of an error that names none.
const reasonInvalid = "invalid"

// deadLetterReasons is every reason a dead letter can have.
func deadLetterReasons() []string {
	var out []string
	for _, r := range event.Reasons() {
		out = append(out, string(r))
	}
	return append(out, reasonInvalid)
}

var (
	ingestLabels   = []string{"source", "topic"}
	descConsumed   = prometheus.NewDesc("settlemon_ingest_consumed_messages_total", "Messages consumed from the source topic.", ingestLabels, nil)
	descBytes      = prometheus.NewDesc("settlemon_ingest_consumed_bytes_total", "Bytes (key and value) consumed from the source topic.", ingestLabels, nil)
	descArchived   = prometheus.NewDesc("settlemon_ingest_archived_events_total", "Valid events archived in the raw tables.", ingestLabels, nil)
	descForwarded  = prometheus.NewDesc("settlemon_ingest_forwarded_events_total", "Events re-keyed by trace number onto the repartition topic.", ingestLabels, nil)
	descDeclined   = prometheus.NewDesc("settlemon_ingest_declined_events_total", "Declined authorizations: archived, deliberately not joined.", ingestLabels, nil)
	descControl    = prometheus.NewDesc("settlemon_ingest_control_events_total", "Heartbeats and other control events recorded.", ingestLabels, nil)
	descBatches    = prometheus.NewDesc("settlemon_ingest_batches_total", "Batches made durable and committed.", ingestLabels, nil)
	descDead       = prometheus.NewDesc("settlemon_dead_letters_total", "Messages sent to the dead-letter topic and table, by reason.", append(ingestLabels, "reason"), nil)
	descLastBatch  = prometheus.NewDesc("settlemon_ingest_last_batch_timestamp_seconds", "Wall-clock time the last batch was committed (Unix seconds).", ingestLabels, nil)
	descIngestWM   = prometheus.NewDesc("settlemon_ingest_watermark_timestamp_seconds", "Lowest watermark over the source partitions read so far (event time, Unix seconds).", ingestLabels, nil)
	descOwnedN     = prometheus.NewDesc("settlemon_ingest_partitions_owned", "Partitions of the source topic this instance owns in its current consumer-group generation.", ingestLabels, nil)
	descOwned      = prometheus.NewDesc("settlemon_ingest_partition_owned", "1 for each partition of the source topic this instance owns now (absent when not owned).", []string{"source", "group", "topic", "partition"}, nil)
	descGeneration = prometheus.NewDesc("settlemon_ingest_group_generation", "The consumer-group generation of the partitions this instance owns now (0 before the first).", ingestLabels, nil)
	descConsumerLg = prometheus.NewDesc("settlemon_consumer_lag_messages", "Messages between the last one read and the end of the partition, per consumer (ingest or joiner), group and partition.", []string{"group", "topic", "partition"}, prometheus.Labels{"consumer": "ingest"})
)

// Collector exposes the Stats of ingest consumers on every scrape.
type Collector struct {
	ingests []*Ingest
}

// NewCollector returns a collector over ins (one per source in the
// all-in-one mode, one in services/ingest).
func NewCollector(ins ...*Ingest) *Collector { return &Collector{ingests: ins} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConsumed, descBytes, descArchived, descForwarded, descDeclined, descControl,
		descBatches, descDead, descLastBatch, descIngestWM, descOwnedN, descOwned, descGeneration, descConsumerLg} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, in := range c.ingests {
		s := in.Stats()
		src, topic := in.cfg.Source.String(), in.cfg.Topic
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), src, topic)
		}
		counter(descConsumed, s.Consumed)
		counter(descBytes, s.ConsumedBytes)
		counter(descArchived, s.Archived)
		counter(descForwarded, s.Forwarded)
		counter(descDeclined, s.Declined)
		counter(descControl, s.Control)
		counter(descBatches, s.Batches)
		// Every reason from the start, so rate() sees the first burst.
		known := deadLetterReasons()
		for _, reason := range known {
			ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(s.DeadLetterReasons[reason]), src, topic, reason)
		}
		for reason, n := range s.DeadLetterReasons {
			if !slices.Contains(known, reason) {
				ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(n), src, topic, reason)
			}
		}
		if at := in.lastRead.Load(); at > 0 {
			ch <- prometheus.MustNewConstMetric(descLastBatch, prometheus.GaugeValue, float64(at)/1000, src, topic)
		}
		if wm := in.minWM.Load(); wm > 0 {
			ch <- prometheus.MustNewConstMetric(descIngestWM, prometheus.GaugeValue, float64(wm)/1000, src, topic)
		}
		ch <- prometheus.MustNewConstMetric(descOwnedN, prometheus.GaugeValue, float64(len(s.Owned.Partitions)), src, topic)
		ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(s.Owned.Generation), src, topic)
		for _, p := range s.Owned.Partitions {
			ch <- prometheus.MustNewConstMetric(descOwned, prometheus.GaugeValue, 1, src, in.cfg.Group, topic, strconv.Itoa(p))
		}
		for p, lag := range s.PartitionLag {
			ch <- prometheus.MustNewConstMetric(descConsumerLg, prometheus.GaugeValue, float64(lag), in.cfg.Group, topic, strconv.Itoa(p))
		}
	}
}
