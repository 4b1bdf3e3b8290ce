package joiner

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// partitionLag copies partLag for Stats.
func (j *Joiner) partitionLag() map[int]int64 {
	out := map[int]int64{}
	j.partLag.Range(func(k, v any) bool { out[k.(int)] = v.(int64); return true })
	return out
}

var (
	descRecords     = prometheus.NewDesc("settlemon_joiner_records_total", "Records read from the repartition topic, restores included.", nil, nil)
	descRestored    = prometheus.NewDesc("settlemon_joiner_restored_records_total", "Records re-read below the committed offset to rebuild state.", nil, nil)
	descCorrupt     = prometheus.NewDesc("settlemon_joiner_corrupt_records_total", "Records on the repartition topic that did not decode (skipped).", nil, nil)
	descCommits     = prometheus.NewDesc("settlemon_joiner_commits_total", "Offset commits after the facts were durable.", nil, nil)
	descGenerations = prometheus.NewDesc("settlemon_joiner_generations_total", "Consumer group generations (rebalances) this instance joined.", nil, nil)
	descRefused     = prometheus.NewDesc("settlemon_joiner_checkpoints_refused_total", "Join checkpoints refused on restore, the partition replayed from its first offset instead, by reason: corrupt (checksum mismatch), truncated, layout (another build), unreadable.", []string{"reason"}, nil)
	descUnknownCode = prometheus.NewDesc("settlemon_joiner_unknown_bank_codes_total", "Payout failures written whose bank return code the return-code catalogue lacks (mapped to other): add the codes to the catalogue (--bank-codes-file). The codes are logged and listed in the run report.", nil, nil)
	descCheckpoints = prometheus.NewDesc("settlemon_joiner_checkpoints_total", "Partition checkpoints of the join state written.", nil, nil)
	descRestores    = prometheus.NewDesc("settlemon_joiner_checkpoint_restores_total", "Partitions this instance restored from a checkpoint on assignment (then replayed only the records after it).", nil, nil)
	descOwnedN      = prometheus.NewDesc("settlemon_joiner_partitions_owned", "Partitions of the events topic this instance owns in its current consumer-group generation.", nil, nil)
	descOwned       = prometheus.NewDesc("settlemon_joiner_partition_owned", "1 for each partition of the events topic this instance owns now (absent when not owned).", []string{"group", "topic", "partition"}, nil)
	descGeneration  = prometheus.NewDesc("settlemon_joiner_group_generation", "The consumer-group generation of the partitions this instance owns now (0 before the first).", nil, nil)
	descOpen        = prometheus.NewDesc("settlemon_joiner_open_traces", "Traces held open in the join state over the owned partitions.", nil, nil)
	descStateBytes  = prometheus.NewDesc("settlemon_joiner_state_bytes", "Estimated bytes of join state over the owned partitions.", nil, nil)
	descLag         = prometheus.NewDesc("settlemon_consumer_lag_messages", "Messages between the last one read and the end of the partition, per consumer (ingest or joiner), group and partition.", []string{"group", "topic", "partition"}, prometheus.Labels{"consumer": "joiner"})
	descWatermark   = prometheus.NewDesc("settlemon_watermark_timestamp_seconds", "A source's watermark as the joiner sees it: the lowest over the owned partitions (event time, Unix seconds).", []string{"source"}, nil)
	descWMLag       = prometheus.NewDesc("settlemon_source_watermark_lag_seconds", "How far the source's watermark is behind the joiner's now (wall clock when live, highest event time in replay).", []string{"source"}, nil)
	descLagging     = prometheus.NewDesc("settlemon_source_lagging", "1 when the source's watermark is behind now by more than the stall threshold (its absence checks wait), else 0.", []string{"source"}, nil)
	descWithheld    = prometheus.NewDesc("settlemon_source_withheld_checks", "Absence checks waiting for the source's watermark.", []string{"source"}, nil)
)

// Collector exposes a joiner's Stats and its view of the sources on every
// scrape.
type Collector struct {
	j *Joiner
}

// NewCollector returns a collector over j.
func NewCollector(j *Joiner) *Collector { return &Collector{j: j} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descRestored, descCorrupt, descCommits, descGenerations, descRefused, descUnknownCode, descCheckpoints, descRestores, descOwnedN, descOwned, descGeneration, descOpen, descStateBytes,
		descLag, descWatermark, descWMLag, descLagging, descWithheld} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	j := c.j
	s := j.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descRecords, s.Records)
	counter(descRestored, s.Restored)
	counter(descCorrupt, s.Corrupt)
	counter(descCommits, s.Commits)
	counter(descGenerations, s.Generations)
	counter(descUnknownCode, s.UnknownCodes)
	counter(descCheckpoints, s.Checkpoints)
	counter(descRestores, s.Restores)
	ch <- prometheus.MustNewConstMetric(descOwnedN, prometheus.GaugeValue, float64(len(s.Owned.Partitions)))
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(s.Owned.Generation))
	for _, p := range s.Owned.Partitions {
		ch <- prometheus.MustNewConstMetric(descOwned, prometheus.GaugeValue, 1, j.cfg.Group, j.cfg.Topic, strconv.Itoa(p))
	}
	for reason, n := range s.Refused {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.OpenTraces))
	ch <- prometheus.MustNewConstMetric(descStateBytes, prometheus.GaugeValue, float64(s.StateBytes))
	for p, lag := range s.PartitionLag {
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), j.cfg.Group, j.cfg.Topic, strconv.Itoa(p))
	}
	// The same per-source view the joiner writes to source_health.
	for _, r := range j.health.rows(j.cfg.Clock == ClockLive, j.deps.Now(), j.cfg.StallThreshold) {
		if r.Status == "unknown" {
			continue // no watermark yet: absent rather than 1970
		}
		lagging := 0.0
		if r.Status == "lagging" {
			lagging = 1
		}
		ch <- prometheus.MustNewConstMetric(descWatermark, prometheus.GaugeValue, float64(r.Watermark)/float64(time.Second/time.Millisecond), r.Source)
		ch <- prometheus.MustNewConstMetric(descWMLag, prometheus.GaugeValue, float64(r.WatermarkLagS), r.Source)
		ch <- prometheus.MustNewConstMetric(descLagging, prometheus.GaugeValue, lagging, r.Source)
		ch <- prometheus.MustNewConstMetric(descWithheld, prometheus.GaugeValue, float64(r.Withheld), r.Source)
	}
}
