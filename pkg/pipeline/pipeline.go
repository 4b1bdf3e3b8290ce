// Package pipeline owns the topology of settlemon: which topics exist with how
// many partitions, which consumer group reads which topic, and the order in
// which one ingest consumer per source and the joiner start and drain. It
// runs them in one process (New, Run, Close) and gives the flags that place
// the separate service processes in the same topology (IngestArgs,
// JoinerArgs).
//
// The names themselves are spelled in pkg/event. This package does not
// decode, join or store anything: that is ingest's and the joiner's work.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/lifecycle"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Topics are the pipeline's topics.
type Topics struct {
	Sources  [event.NumSources]string // the producers' topics, in source order
	Events   string                   // ingest → joiner, keyed by trace number
	DLQ      string                   // dead letters
	Profiles string                   // accepted merchant profiles, compacted
}

// DefaultTopics returns the topics of DESIGN §3.
func DefaultTopics() Topics {
	var t Topics
	for s := range event.NumSources {
		t.Sources[s] = s.DefaultTopic()
	}
	t.Events, t.DLQ, t.Profiles = event.EventsTopic, event.DLQTopic, event.ProfilesTopic
	return t
}

// Groups are the pipeline's consumer groups.
type Groups struct {
	Ingest [event.NumSources]string // one per source, in source order
	Joiner string
}

// DefaultGroups returns settlemon-ingest-<source> and settlemon-joiner.
func DefaultGroups() Groups {
	var g Groups
	for s := range event.NumSources {
		g.Ingest[s] = s.IngestGroup()
	}
	g.Joiner = event.JoinerGroup
	return g
}

// Config is the topology and the settings its components share.
type Config struct {
	Topics Topics
	Groups Groups
	// Partitions is the partition count of every topic EnsureTopics
	// creates; existing topics keep theirs.
	Partitions int
	// Ingest holds the settings every ingest consumer shares; its source,
	// topics and group are set per consumer from the topology.
	Ingest ingest.Config
	// Joiner holds the joiner's settings; its topics and groups are set
	// from the topology.
	Joiner joiner.Config
}

// DefaultConfig returns the default topology on 6 partitions with
// ingest.DefaultConfig and joiner.DefaultConfig (the live clock).
func DefaultConfig() Config {
	return Config{Topics: DefaultTopics(), Groups: DefaultGroups(), Partitions: 6,
		Ingest: ingest.DefaultConfig(), Joiner: joiner.DefaultConfig()}
}

// Validate reports a topology or a component setting that cannot work.
func (c Config) Validate() error {
	if c.Partitions <= 0 {
		return text.Errorf("error.pipeline.partitions")
	}
	seen := map[string]string{}
	for _, t := range c.TopicSpecs() {
		if t.Name == "" {
			return text.Errorf("error.pipeline.topic_name")
		}
		if seen[t.Name] != "" {
			return text.Errorf("error.pipeline.topic_twice", strconv.Quote(t.Name))
		}
		seen[t.Name] = t.Name
	}
	for s := range event.NumSources {
		if err := c.IngestConfig(s).Validate(); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
	}
	if err := c.JoinerConfig().Validate(); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	return nil
}

// IngestConfig is the configuration of the source's ingest consumer.
func (c Config) IngestConfig(s event.Source) ingest.Config {
	ic := c.Ingest
	ic.Source, ic.Topic, ic.Group = s, c.Topics.Sources[s], c.Groups.Ingest[s]
	ic.OutTopic, ic.DLQTopic, ic.ProfilesTopic = c.Topics.Events, c.Topics.DLQ, c.Topics.Profiles
	return ic
}

// JoinerConfig is the configuration of the joiner.
func (c Config) JoinerConfig() joiner.Config {
	jc := c.Joiner
	jc.Topic, jc.Group = c.Topics.Events, c.Groups.Joiner
	jc.MerchantsTopic, jc.MerchantsSource = c.Topics.Profiles, c.Topics.Sources[event.Merchants]
	jc.MerchantsGroup = c.Groups.Ingest[event.Merchants]
	return jc
}

// TopicSpecs are the topics the pipeline reads and writes: the events, the
// dead letters and the profiles (compacted), then the sources in source
// order (merchants compacted).
func (c Config) TopicSpecs() []kafkaio.TopicSpec {
	n := c.Partitions
	specs := []kafkaio.TopicSpec{{Name: c.Topics.Events, Partitions: n}, {Name: c.Topics.DLQ, Partitions: n},
		{Name: c.Topics.Profiles, Partitions: n, Compacted: true}}
	for s, t := range c.Topics.Sources {
		specs = append(specs, kafkaio.TopicSpec{Name: t, Partitions: n, Compacted: event.Source(s) == event.Merchants})
	}
	return specs
}

// EnsureTopics creates the topics of TopicSpecs that do not exist yet.
func (c Config) EnsureTopics(ctx context.Context, k kafkaio.Config) error {
	return kafkaio.EnsureTopics(ctx, k, c.TopicSpecs())
}

// Consumer is a consumer group and the topic it reads.
type Consumer struct{ Group, Topic string }

// Consumers are the groups in start and drain order: the ingest consumers
// in source order, then the joiner.
func (c Config) Consumers() []Consumer {
	var out []Consumer
	for s, t := range c.Topics.Sources {
		out = append(out, Consumer{c.Groups.Ingest[s], t})
	}
	return append(out, Consumer{c.Groups.Joiner, c.Topics.Events})
}

// Stages orders a pipeline's components, whatever runs them, for start and
// for drain: the ingest consumers together first, then the joiner instances
// together. Draining ingest first lets the joiner commit what ingest
// forwarded last.
func Stages[T any](ingests []T, joiners ...T) [][]T { return [][]T{ingests, joiners} }

// IngestArgs are the flags that place a services/ingest process in this
// topology as the source's consumer.
func (c Config) IngestArgs(s event.Source) []string {
	return []string{"--source", s.String(), "--topic", c.Topics.Sources[s], "--group", c.Groups.Ingest[s],
		"--events-topic", c.Topics.Events, "--dlq-topic", c.Topics.DLQ, "--profiles-topic", c.Topics.Profiles}
}

// JoinerArgs are the flags that place a services/joiner process in this
// topology, with its clock.
func (c Config) JoinerArgs() []string {
	return []string{"--events-topic", c.Topics.Events, "--group", c.Groups.Joiner, "--clock", c.Joiner.Clock,
		"--merchants-topic", c.Topics.Profiles, "--merchants-source", c.Topics.Sources[event.Merchants],
		"--merchants-group", c.Groups.Ingest[event.Merchants]}
}

// Deps are what the pipeline's components talk to.
type Deps struct {
	Kafka    kafkaio.Config
	Store    *store.Store
	Schedule *calendar.Schedule
	Logger   *slog.Logger
	// JoinerNow is the joiner's wall clock for the live clock; default
	// time.Now. Ingest always reads the real one.
	JoinerNow func() time.Time
	// JoinerStart, when set, holds the joiner back until it is closed (an
	// embedded run closes it once the merchant profiles are published); nil:
	// the joiner starts right after ingest.
	JoinerStart <-chan struct{}
}

// Pipeline is ingest ×N and the joiner in one process.
type Pipeline struct {
	cfg     Config
	deps    Deps
	ingests []*ingest.Ingest
	joiner  *joiner.Joiner
	runs    lifecycle.Runs
}

// New builds the components; nothing connects until Run.
func New(cfg Config, deps Deps) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	p := &Pipeline{cfg: cfg, deps: deps}
	for s := range event.NumSources {
		in, err := ingest.New(cfg.IngestConfig(s), ingest.Deps{Kafka: deps.Kafka, Store: deps.Store, Logger: deps.Logger})
		if err != nil {
			return nil, err
		}
		p.ingests = append(p.ingests, in)
	}
	jn, err := joiner.New(cfg.JoinerConfig(), joiner.Deps{Kafka: deps.Kafka, Store: deps.Store, Schedule: deps.Schedule,
		Logger: deps.Logger, Now: deps.JoinerNow})
	if err != nil {
		return nil, err
	}
	p.joiner = jn
	return p, nil
}

// Config is the pipeline's configuration.
func (p *Pipeline) Config() Config { return p.cfg }

// Ingests are the ingest consumers in source order.
func (p *Pipeline) Ingests() []*ingest.Ingest { return p.ingests }

// Joiner is the joiner.
func (p *Pipeline) Joiner() *joiner.Joiner { return p.joiner }

// Stats are the components' counters.
type Stats struct {
	Ingest ingest.Stats // summed over the consumers
	Joiner joiner.Stats
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	var st Stats
	for _, in := range p.ingests {
		s := in.Stats()
		st.Ingest.Consumed += s.Consumed
		st.Ingest.Archived += s.Archived
		st.Ingest.Control += s.Control
		st.Ingest.DeadLettered += s.DeadLettered
		st.Ingest.Forwarded += s.Forwarded
		st.Ingest.Declined += s.Declined
		st.Ingest.Batches += s.Batches
		st.Ingest.ArchiveInserts += s.ArchiveInserts
	}
	st.Joiner = p.joiner.Stats()
	return st
}

// Behind is the number of messages the consumer groups have not committed
// yet, over every group.
func (p *Pipeline) Behind(ctx context.Context) (int64, error) {
	var sum int64
	for _, c := range p.cfg.Consumers() {
		lag, err := kafkaio.GroupLag(ctx, p.deps.Kafka, c.Group, c.Topic)
		if err != nil {
			return 0, err
		}
		for _, v := range lag {
			sum += v
		}
	}
	return sum, nil
}

// CaughtUp reports whether every group has committed everything, asking
// the groups in drain order and stopping at the first one behind.
func (p *Pipeline) CaughtUp(ctx context.Context) (bool, error) {
	for _, c := range p.cfg.Consumers() {
		lag, err := kafkaio.GroupLag(ctx, p.deps.Kafka, c.Group, c.Topic)
		if err != nil {
			return false, err
		}
		for _, v := range lag {
			if v > 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

// Run starts the ingest consumers, then the joiner (once Deps.JoinerStart
// is closed), and runs until ctx is done, Close is called or a component
// fails. It then drains in Stages order: the ingest consumers finish their
// batches and commit, then the joiner flushes and commits. It returns the
// first component error; a clean drain returns nil.
func (p *Pipeline) Run(ctx context.Context) error {
	ctx, done := p.runs.Start(ctx)
	defer done()
	ingests := make([]func(context.Context) error, len(p.ingests))
	for i, in := range p.ingests {
		ingests[i] = in.Run
	}
	failed := make(chan error, len(p.ingests)+1)
	var started []*stage
	defer func() {
		for _, s := range started {
			s.stop()
		}
	}()
	for i, runs := range Stages(ingests, p.joiner.Run) {
		if i > 0 && p.deps.JoinerStart != nil {
			select {
			case <-p.deps.JoinerStart:
			case <-ctx.Done():
			case err := <-failed:
				failed <- err
			}
		}
		if ctx.Err() != nil || len(failed) > 0 {
			break
		}
		started = append(started, startStage(ctx, runs, failed))
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	for _, s := range started {
		s.stop()
	}
	started = nil
	if err == nil {
		select {
		case err = <-failed:
		default:
		}
	}
	return err
}

// Close ends a running Run as cancelling its context does and returns once
// it has drained. It is safe to call more than once.
func (p *Pipeline) Close() error {
	p.runs.Close()
	return nil
}

// stage is components started together and stopped together.
type stage struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startStage runs each of runs under a context of its own that only stop
// cancels, so that stages drain in order; a component error other than
// cancellation goes to failed.
func startStage(ctx context.Context, runs []func(context.Context) error, failed chan<- error) *stage {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &stage{cancel: cancel}
	for _, run := range runs {
		s.wg.Go(func() {
			if err := run(sctx); err != nil && !errors.Is(err, context.Canceled) {
				select {
				case failed <- err:
				default:
				}
			}
		})
	}
	return s
}

func (s *stage) stop() {
	s.cancel()
	s.wg.Wait()
}
