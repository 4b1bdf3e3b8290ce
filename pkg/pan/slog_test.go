package pan

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerMasks(t *testing.T) {
	var buf bytes.Buffer
	for _, format := range []string{"text", "json"} {
		buf.Reset()
		var next slog.Handler = slog.NewTextHandler(&buf, nil)
		if format == "json" {
			next = slog.NewJSONHandler(&buf, nil)
		}
		log := slog.New(NewHandler(next, nil)).With("key", []byte(visa16))
		log.WithGroup("g").Info("paid with "+spell(" ", ascii),
			"note", spell("-", fullWidth), "err", errors.New("bad "+amex15), "n", 42,
			slog.Group("inner", "pan", unionPay19))
		out := buf.String()
		if Default().Contains(buf.Bytes()) {
			t.Errorf("%s: a card number reached the log: %s", format, out)
		}
		for _, want := range []string{"6228 48** **** 3343", "411111******1111", "378282*****0005", "42"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: log lacks %q: %s", format, want, out)
			}
		}
	}
}
