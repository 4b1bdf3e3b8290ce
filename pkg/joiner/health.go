package joiner

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/store"
)

// feeds are the sources whose watermarks gate absences.
var feeds = []event.Source{event.Auth, event.Clearing, event.Payouts}

// partitionHealth is what one partition last said about the feeds.
type partitionHealth struct {
	watermark [event.NumSources]int64
	withheld  [event.NumSources]int
	now       int64
}

// health aggregates the partitions' snapshots and reports them: a row per
// source in source_health, and a log line when a source starts or stops
// lagging, so that a silent feed is one ops signal, not a thousand
// per-merchant absences.
type health struct {
	mu       sync.Mutex
	parts    map[int]partitionHealth
	lagging  map[event.Source]bool
	instance string
}

func newHealth() *health {
	host, _ := os.Hostname()
	return &health{parts: map[int]partitionHealth{}, lagging: map[event.Source]bool{}, instance: fmt.Sprintf("%s/%d", host, os.Getpid())}
}

func (h *health) observe(id int, s *join.Partition) {
	ph := partitionHealth{now: s.Now()}
	for _, f := range feeds {
		ph.watermark[f] = s.Watermark(f)
		ph.withheld[f] = s.Withheld(f)
	}
	h.mu.Lock()
	h.parts[id] = ph
	h.mu.Unlock()
}

func (h *health) forget(id int) {
	h.mu.Lock()
	delete(h.parts, id)
	h.mu.Unlock()
}

// rows builds one observation per source: the lowest watermark over the
// owned partitions against the instance's now.
func (h *health) rows(live bool, wall time.Time, threshold time.Duration) []store.SourceHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.parts) == 0 {
		return nil
	}
	var now int64
	for _, p := range h.parts {
		now = max(now, p.now)
	}
	if live {
		now = wall.UnixMilli()
	}
	var out []store.SourceHealth
	for _, f := range feeds {
		wm := int64(-1)
		var withheld uint64
		for _, p := range h.parts {
			if wm < 0 || p.watermark[f] < wm {
				wm = p.watermark[f]
			}
			withheld += uint64(p.withheld[f])
		}
		r := store.SourceHealth{Source: f.String(), Reporter: "joiner", Instance: h.instance, ObservedAt: now, Watermark: max(wm, 0),
			ConsumerLag: -1, IdleS: -1, Withheld: withheld, ThresholdS: int64(threshold / time.Second), Status: "ok"}
		switch {
		case wm <= 0:
			r.Status, r.WatermarkLagS = "unknown", -1
		default:
			r.WatermarkLagS = max(now-wm, 0) / 1000
			if now-wm > threshold.Milliseconds() {
				r.Status = "lagging"
			}
		}
		out = append(out, r)
	}
	return out
}

func (j *Joiner) reportHealth(ctx context.Context) {
	t := time.NewTicker(j.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		j.writeHealth(ctx)
	}
}

// writeHealth writes one observation per source and logs transitions. Only
// one goroutine calls it at a time: the reporter, then Run once it stopped.
func (j *Joiner) writeHealth(ctx context.Context) {
	rows := j.health.rows(j.cfg.Clock == ClockLive, j.deps.Now(), j.cfg.StallThreshold)
	for _, r := range rows {
		src, _ := event.ParseSource(r.Source)
		was := j.health.lagging[src]
		now := r.Status == "lagging"
		j.health.lagging[src] = now
		switch {
		case now && !was:
			j.log.Warn("source is lagging: its absence checks are withheld until it catches up",
				"source", r.Source, "watermark", time.UnixMilli(r.Watermark).UTC(), "behind", time.Duration(r.WatermarkLagS)*time.Second,
				"withheld", r.Withheld, "action", "check the "+r.Source+" feed's producer and its ingest consumer (source_health table)")
		case was && !now:
			j.log.Info("source caught up", "source", r.Source, "behind", time.Duration(r.WatermarkLagS)*time.Second)
		}
	}
	if err := j.deps.Store.InsertSourceHealth(ctx, rows); err != nil && ctx.Err() == nil {
		j.log.Warn("writing source health", "err", err)
	}
}
