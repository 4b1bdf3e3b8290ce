package pipeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/text"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if c.Joiner.Clock != joiner.ClockLive {
		t.Errorf("default clock %q, want live", c.Joiner.Clock)
	}
	for s := range event.NumSources {
		ic := c.IngestConfig(s)
		if ic.Source != s || ic.Topic != s.DefaultTopic() || ic.Group != s.IngestGroup() ||
			ic.OutTopic != event.EventsTopic || ic.DLQTopic != event.DLQTopic || ic.ProfilesTopic != event.ProfilesTopic {
			t.Errorf("IngestConfig(%v) = %+v", s, ic)
		}
	}
	jc := c.JoinerConfig()
	if jc.Topic != event.EventsTopic || jc.Group != event.JoinerGroup || jc.MerchantsTopic != event.ProfilesTopic ||
		jc.MerchantsSource != event.Merchants.DefaultTopic() || jc.MerchantsGroup != event.Merchants.IngestGroup() {
		t.Errorf("JoinerConfig() = %+v", jc)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"no partitions", func(c *Config) { c.Partitions = 0 }, "partitions"},
		{"a topic named twice", func(c *Config) { c.Topics.DLQ = c.Topics.Events }, "named twice"},
		{"an unnamed topic", func(c *Config) { c.Topics.Sources[event.Payouts] = "" }, "named"},
		{"no joiner group", func(c *Config) { c.Groups.Joiner = "" }, "group"},
		{"no ingest group", func(c *Config) { c.Groups.Ingest[event.Clearing] = "" }, "group"},
		{"a bad ingest setting", func(c *Config) { c.Ingest.MaxBatch = 0 }, "max batch"},
		{"a bad joiner setting", func(c *Config) { c.Joiner.Clock = "sundial" }, "clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tt.err)
			}
		})
	}
}

func TestTopology(t *testing.T) {
	c := DefaultConfig()
	c.Partitions = 3
	var names []string
	for _, s := range c.TopicSpecs() {
		if s.Partitions != 3 {
			t.Errorf("topic %s: %d partitions, want 3", s.Name, s.Partitions)
		}
		if s.Compacted != (s.Name == event.ProfilesTopic || s.Name == event.Merchants.DefaultTopic()) {
			t.Errorf("topic %s: compacted %v", s.Name, s.Compacted)
		}
		names = append(names, s.Name)
	}
	want := []string{"settle.events", "settle.dlq", "settle.merchants", "pos.authorizations", "acq.clearing", "acq.payouts", "acq.merchants"}
	if !slices.Equal(names, want) {
		t.Errorf("topics %v, want %v", names, want)
	}
	cons := c.Consumers()
	if len(cons) != int(event.NumSources)+1 || cons[len(cons)-1] != (Consumer{"settlemon-joiner", "settle.events"}) ||
		cons[0] != (Consumer{"settlemon-ingest-auth", "pos.authorizations"}) {
		t.Errorf("consumers %v: want the ingest groups in source order, then the joiner", cons)
	}
	st := Stages([]string{"a", "b"}, "j")
	if len(st) != 2 || !slices.Equal(st[0], []string{"a", "b"}) || !slices.Equal(st[1], []string{"j"}) {
		t.Errorf("Stages = %v, want the ingests, then the joiner", st)
	}
}

func TestArgs(t *testing.T) {
	c := DefaultConfig()
	c.Topics.Events, c.Groups.Joiner, c.Joiner.Clock = "ev", "jg", joiner.ClockReplay
	ia := strings.Join(c.IngestArgs(event.Merchants), " ")
	if ia != "--source merchants --topic acq.merchants --group settlemon-ingest-merchants --events-topic ev --dlq-topic settle.dlq --profiles-topic settle.merchants" {
		t.Errorf("IngestArgs = %s", ia)
	}
	ja := strings.Join(c.JoinerArgs(), " ")
	if ja != "--events-topic ev --group jg --clock replay --merchants-topic settle.merchants --merchants-source acq.merchants --merchants-group settlemon-ingest-merchants" {
		t.Errorf("JoinerArgs = %s", ja)
	}
}

// TestConfigErrorsInEitherLanguage: the configuration checks of the stages
// the pipeline wires are catalogue messages, so an operator reads them in
// the language asked for.
func TestConfigErrorsInEitherLanguage(t *testing.T) {
	ingestCfg := ingest.DefaultConfig().ForSource(event.Payouts)
	ingestCfg.MaxBatch = 0
	joinerCfg := joiner.DefaultConfig()
	joinerCfg.Join.Horizon = 24 * time.Hour
	pipelineCfg := DefaultConfig()
	pipelineCfg.Partitions = 0
	tests := []struct {
		name   string
		err    error
		en, zh string
	}{
		{"ingest", ingestCfg.Validate(), "ingest: max batch, max wait", "ingest：每批最大条数"},
		{"join", joinerCfg.Validate(), "join: horizon 24h0m0s is shorter than 10 days", "join：保留期 24h0m0s 短于 10 天"},
		{"pipeline", pipelineCfg.Validate(), "pipeline: partitions must be positive", "pipeline：分区数必须为正数"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the configuration was accepted")
			}
			if got := text.NewPrinter(text.English, nil).Error(tc.err); !strings.Contains(got, tc.en) {
				t.Errorf("English %q, want it to contain %q", got, tc.en)
			}
			if got := text.NewPrinter(text.Chinese, nil).Error(tc.err); !strings.Contains(got, tc.zh) {
				t.Errorf("Chinese %q, want it to contain %q", got, tc.zh)
			}
		})
	}
}
