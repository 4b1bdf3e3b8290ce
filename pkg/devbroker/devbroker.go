// Package devbroker hosts a Kafka-protocol broker in-process for the embedded
// default and for tests: franz-go's kfake on loopback, one node or a cluster
// of several (partition leaders and group coordinators spread over them and
// movable through Cluster), with an optional data directory so that a restart
// keeps topics, records and committed offsets. It is a development broker:
// no replication, compaction only when asked. Production runs a real Kafka.
package devbroker

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config says where the broker listens and what it keeps.
type Config struct {
	Port       int    // loopback port of the first node; 0 picks a free one
	Brokers    int    // nodes; 0 means 1. Nodes after the first take free ports
	DataDir    string // empty: in memory only, lost on Close
	SyncWrites bool   // fsync every produce (slower; survives kill -9 of this process)
	Partitions int    // partitions of topics it creates on demand, default 6
	Topics     []string
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("devbroker: port %d out of range", c.Port)
	}
	if c.Brokers < 0 {
		return errors.New("devbroker: negative broker count")
	}
	if c.Partitions < 0 {
		return errors.New("devbroker: negative partition count")
	}
	return nil
}

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
}

// New starts a broker on 127.0.0.1.
func New(cfg Config, logger *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	opts := []kfake.Opt{
		kfake.Ports(ports(cfg)...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.GroupMinSessionTimeout(1000),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on port %d: %w", cfg.Port, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, errors.New("embedded broker has no listener")
	}
	if logger != nil {
		logger.Info("embedded Kafka broker started", "addrs", addrs, "data_dir", cfg.DataDir)
	}
	return &Broker{cluster: c, addrs: addrs}, nil
}

// ports lists a port per node: the configured one first, then 0 (free).
func ports(cfg Config) []int {
	out := make([]int, max(cfg.Brokers, 1))
	out[0] = cfg.Port
	return out
}

// Addr is the first node's host:port, enough to bootstrap a client.
func (b *Broker) Addr() string { return b.addrs[0] }

// Addrs are every node's host:port.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Cluster exposes kfake for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker; with a data directory its state is kept.
func (b *Broker) Close() { b.cluster.Close() }
