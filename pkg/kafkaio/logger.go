package kafkaio

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/segmentio/kafka-go"
)

// ErrorLogger is the ErrorLogger of a kafka-go reader or consumer group:
// each message at WARN, prefixed with what, except the ones a healthy
// long-polling client produces on an idle topic — a fetch the broker held
// until the read deadline ("i/o timeout"), after which kafka-go redials and
// carries on — which go to DEBUG. A broker that is really gone shows as
// connection errors, a stuck group and failing readiness, not as these.
func ErrorLogger(log *slog.Logger, what string) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		text := what + ": " + fmt.Sprintf(msg, args...)
		level := slog.LevelWarn
		if idlePoll(text) {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, text)
	})
}

// idlePoll reports whether a kafka-go error message is the timeout of an
// idle long poll.
func idlePoll(text string) bool {
	return strings.Contains(text, "i/o timeout")
}
