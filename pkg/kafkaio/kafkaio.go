// Package kafkaio is the pipeline's Kafka edge, built on segmentio/kafka-go:
// connection settings (TLS, SASL) shared by every reader and writer, writers
// that route by trace number or to an explicit partition, topic creation, and
// the offset queries that tell how far a consumer group is behind.
//
// It holds no pipeline logic: what is read or written, and when offsets are
// committed, is decided by ingest and the joiner.
package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"settlemon/pkg/text"
)

// Config says how to reach the brokers.
type Config struct {
	Brokers  []string // host:port, at least one
	ClientID string

	TLS       bool
	TLSCAFile string // PEM bundle; empty uses the system roots

	SASLMechanism string // "", "plain", "scram-sha-256" or "scram-sha-512"
	SASLUser      string
	SASLPassword  string // from the environment or a file, never a flag default

	DialTimeout time.Duration
}

// DefaultConfig returns the settings for the embedded broker on loopback.
func DefaultConfig() Config {
	return Config{Brokers: []string{"127.0.0.1:19092"}, ClientID: "settlemon", DialTimeout: 10 * time.Second}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return text.Errorf("error.kafka.no_brokers")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return text.Wrap(err, "error.kafka.broker", strconv.Quote(b), "host:port")
		}
	}
	switch c.SASLMechanism {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		return text.Errorf("error.kafka.sasl_mechanism", strconv.Quote(c.SASLMechanism), "plain, scram-sha-256", "scram-sha-512")
	}
	if c.SASLMechanism != "" && c.SASLUser == "" {
		return text.Errorf("error.kafka.sasl_user", "--kafka-sasl-user")
	}
	return nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: reading TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: no certificates in %s", c.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch c.SASLMechanism {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.SASLUser, Password: c.SASLPassword}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, c.SASLUser, c.SASLPassword)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, c.SASLUser, c.SASLPassword)
	}
	return nil, fmt.Errorf("kafka: unknown SASL mechanism %q", c.SASLMechanism)
}

// Dialer builds a kafka-go dialer for readers and consumer groups.
func (c Config) Dialer() (*kafka.Dialer, error) {
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	timeout := c.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &kafka.Dialer{ClientID: c.ClientID, Timeout: timeout, DualStack: true, TLS: t, SASLMechanism: m}, nil
}

// Transport builds a fresh kafka-go transport for writers and clients. Each
// writer gets its own: the shared default keeps stale connections and
// metadata across broker restarts (COMPAT.md).
func (c Config) Transport() (*kafka.Transport, error) {
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	timeout := c.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &kafka.Transport{ClientID: c.ClientID, DialTimeout: timeout, TLS: t, SASL: m, MetadataTTL: 5 * time.Second}, nil
}

// Client builds an admin/query client on a transport of its own, and the
// function that releases it. Call it when done: a kafka-go transport keeps
// a goroutine per broker that refreshes metadata and redials for as long as
// it lives, so a forgotten one keeps dialing a broker long gone, and reads
// whatever server takes its port next as a Kafka response.
func (c Config) Client() (*kafka.Client, func(), error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr, Timeout: 30 * time.Second}, tr.CloseIdleConnections, nil
}

// LongPoll is the MaxWait of the pipeline's kafka-go readers: how long the
// broker may hold a fetch while a partition has nothing new. It never delays
// data (readers ask for MinBytes 1, so a fetch returns as soon as anything
// arrives); it bounds an idle reader's polling. kafka-go gives the broker a
// quarter of MaxWait less than its own read deadline when MaxWait is under a
// second, which at 200ms left 50ms of slack: a loaded broker answering an
// empty fetch a little late made the reader log an i/o timeout and redial.
// At one second the slack is 250ms.
const LongPoll = time.Second

// PartitionHeader names the header that pins a message to one partition;
// Balancer honours it and hashes the key otherwise.
const PartitionHeader = "x-settlemon-partition"

// ToPartition returns a header pinning a message to partition p.
func ToPartition(p int) kafka.Header {
	return kafka.Header{Key: PartitionHeader, Value: strconv.AppendInt(nil, int64(p), 10)}
}

// NewMessage returns a message for topic, pinned to partition when it is not
// negative, else routed by its key.
func NewMessage(topic string, key, value []byte, partition int) kafka.Message {
	m := kafka.Message{Topic: topic, Key: key, Value: value}
	if partition >= 0 {
		m.Headers = []kafka.Header{ToPartition(partition)}
	}
	return m
}

// Balancer routes a message to the partition its PartitionHeader names, or by
// the murmur2 hash of its key, the way Kafka's own clients do, so that every
// producer of a trace number picks the same partition.
type Balancer struct{ hash kafka.Murmur2Balancer }

// Balance implements kafka.Balancer.
func (b *Balancer) Balance(msg kafka.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key == PartitionHeader {
			if p, err := strconv.Atoi(string(h.Value)); err == nil {
				for _, q := range partitions {
					if q == p {
						return p
					}
				}
			}
			break
		}
	}
	return b.hash.Balance(msg, partitions...)
}

// MaxBatchBytes bounds what one produce request carries for one partition:
// a broker refuses a record batch larger than its message.max.bytes
// (1,048,588 by default, kfake's too) with MESSAGE_TOO_LARGE, and a retry
// cannot fix that. It leaves room for the batch's own framing.
const MaxBatchBytes = 1_000_000

// TooLarge reports whether err, from a write, says that a message or batch
// exceeded the broker's size limit: retrying the same write cannot succeed.
func TooLarge(err error) bool {
	if errors.Is(err, kafka.MessageSizeTooLarge) {
		return true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if errors.Is(e, kafka.MessageSizeTooLarge) {
				return true
			}
		}
	}
	return false
}

// WriterConfig tunes a writer; zero values take defaults.
type WriterConfig struct {
	BatchSize    int           // messages per produce request per partition, default 2000
	BatchBytes   int64         // default MaxBatchBytes
	BatchTimeout time.Duration // how long a partial batch waits, default 2ms: callers write whole batches synchronously
	MaxAttempts  int           // kafka-go's own retries, default 5
}

// NewWriter returns a synchronous writer to topic that acknowledges only when
// every in-sync replica has the batch. kafka-go has no idempotent producer: a
// retried batch can be stored twice, so every consumer of what it writes must
// de-duplicate by event id.
func NewWriter(c Config, topic string, wc WriterConfig) (*kafka.Writer, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	if wc.BatchSize == 0 {
		wc.BatchSize = 2000
	}
	if wc.BatchBytes == 0 {
		wc.BatchBytes = MaxBatchBytes
	}
	if wc.BatchTimeout == 0 {
		wc.BatchTimeout = 2 * time.Millisecond
	}
	if wc.MaxAttempts == 0 {
		wc.MaxAttempts = 5
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Topic:        topic,
		Balancer:     &Balancer{},
		BatchSize:    wc.BatchSize,
		BatchBytes:   wc.BatchBytes,
		BatchTimeout: wc.BatchTimeout,
		MaxAttempts:  wc.MaxAttempts,
		RequiredAcks: kafka.RequireAll,
		Transport:    &partitionCounts{next: tr, ttl: time.Second},
	}, nil
}

// CloseWriter closes a writer of NewWriter and releases its transport
// (kafka-go's Writer.Close leaves a transport it was given open; see Client).
func CloseWriter(w *kafka.Writer) error {
	err := w.Close()
	if pc, ok := w.Transport.(*partitionCounts); ok {
		if t, ok := pc.next.(*kafka.Transport); ok {
			t.CloseIdleConnections()
		}
	}
	return err
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name       string
	Partitions int
	Compacted  bool
}

// EnsureTopics creates the topics that do not exist yet; existing topics are
// left as they are.
func EnsureTopics(ctx context.Context, c Config, specs []TopicSpec) error {
	cl, release, err := c.Client()
	if err != nil {
		return err
	}
	defer release()
	req := &kafka.CreateTopicsRequest{Addr: cl.Addr}
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: -1}
		if s.Compacted {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		req.Topics = append(req.Topics, tc)
	}
	res, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for name, e := range res.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", name, e)
		}
	}
	return nil
}

// Partitions returns the partition ids of topic.
func Partitions(ctx context.Context, c Config, topic string) ([]int, error) {
	cl, release, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer release()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Addr: cl.Addr, Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		return sortInts(ids), nil
	}
	return nil, fmt.Errorf("topic %s does not exist", topic)
}

func sortInts(s []int) []int {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// Offsets are the first and end offsets of one partition.
type Offsets struct {
	Partition int
	First     int64
	End       int64 // the offset the next message will get
}

// TopicOffsets lists the first and end offsets of every partition of topic.
func TopicOffsets(ctx context.Context, c Config, topic string) ([]Offsets, error) {
	parts, err := Partitions(ctx, c, topic)
	if err != nil {
		return nil, err
	}
	cl, release, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer release()
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Addr: cl.Addr, Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	out := make([]Offsets, 0, len(parts))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("listing offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out = append(out, Offsets{Partition: po.Partition, First: po.FirstOffset, End: po.LastOffset})
	}
	return out, nil
}

// GroupLag returns, per partition of topic, how many messages group has not
// committed yet (end offset minus committed offset; a partition the group never
// committed counts from its first offset).
func GroupLag(ctx context.Context, c Config, group, topic string) (map[int]int64, error) {
	offs, err := TopicOffsets(ctx, c, topic)
	if err != nil {
		return nil, err
	}
	cl, release, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer release()
	committed, err := cl.ConsumerOffsets(ctx, kafka.TopicAndGroup{Topic: topic, GroupId: group})
	if err != nil {
		return nil, fmt.Errorf("reading offsets of group %s on %s: %w", group, topic, err)
	}
	lag := make(map[int]int64, len(offs))
	for _, o := range offs {
		at, ok := committed[o.Partition]
		if !ok || at < o.First {
			at = o.First
		}
		lag[o.Partition] = o.End - at
	}
	return lag, nil
}

func kafkaTopicAndGroup(topic, group string) kafka.TopicAndGroup {
	return kafka.TopicAndGroup{Topic: topic, GroupId: group}
}
