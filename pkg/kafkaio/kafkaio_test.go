package kafkaio

import (
	"fmt"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestBalancer(t *testing.T) {
	parts := []int{0, 1, 2, 3, 4, 5}
	var b Balancer
	var murmur kafka.Murmur2Balancer
	for i := 0; i < 200; i++ {
		key := []byte(fmt.Sprintf("6271%08d", i))
		got := b.Balance(kafka.Message{Key: key}, parts...)
		if want := murmur.Balance(kafka.Message{Key: key}, parts...); got != want {
			t.Fatalf("key %s → %d, want murmur2's %d (all producers of a trace must agree)", key, got, want)
		}
	}
	for _, p := range parts {
		m := kafka.Message{Key: []byte("anything"), Headers: []kafka.Header{ToPartition(p)}}
		if got := b.Balance(m, parts...); got != p {
			t.Errorf("pinned to %d, routed to %d", p, got)
		}
	}
	// A pin to a partition that does not exist falls back to the key hash.
	m := kafka.Message{Key: []byte("k"), Headers: []kafka.Header{ToPartition(9)}}
	if got, want := b.Balance(m, parts...), murmur.Balance(kafka.Message{Key: []byte("k")}, parts...); got != want {
		t.Errorf("pin to a missing partition → %d, want the hash %d", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"no brokers", Config{}, false},
		{"not host:port", Config{Brokers: []string{"kafka"}}, false},
		{"unknown SASL", Config{Brokers: []string{"k:9092"}, SASLMechanism: "gssapi"}, false},
		{"SASL without user", Config{Brokers: []string{"k:9092"}, SASLMechanism: "plain"}, false},
		{"SCRAM", Config{Brokers: []string{"k:9092"}, SASLMechanism: "scram-sha-512", SASLUser: "u", SASLPassword: "p"}, true},
	}
	for _, tc := range tests {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if _, err := (Config{Brokers: []string{"k:1"}, SASLMechanism: "scram-sha-256", SASLUser: "u", SASLPassword: "p"}).Dialer(); err != nil {
		t.Errorf("SCRAM dialer: %v", err)
	}
	if _, err := (Config{Brokers: []string{"k:1"}, TLS: true, TLSCAFile: "/nonexistent"}).Transport(); err == nil {
		t.Error("a missing TLS CA file must be an error")
	}
}
