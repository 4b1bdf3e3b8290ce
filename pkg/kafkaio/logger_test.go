package kafkaio

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestErrorLoggerDemotesIdlePolls(t *testing.T) {
	tests := []struct {
		msg       string
		args      []any
		wantLevel string
	}{
		{"the kafka reader got an unknown error reading partition %d of %s at offset %d: %v", []any{3, "acq.payouts", 120,
			"read tcp 127.0.0.1:51234->127.0.0.1:19092: i/o timeout"}, "level=DEBUG"},
		{"failed to dial: %v", []any{"dial tcp 127.0.0.1:19092: connect: connection refused"}, "level=WARN"},
		{"Failed to join group: %v", []any{"[27] Rebalance In Progress"}, "level=WARN"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ErrorLogger(log, "kafka reader").Printf(tt.msg, tt.args...)
		out := buf.String()
		if !strings.Contains(out, tt.wantLevel) || !strings.Contains(out, "kafka reader: ") {
			t.Errorf("%q logged %q, want %s with the prefix", tt.msg, out, tt.wantLevel)
		}
	}
}
