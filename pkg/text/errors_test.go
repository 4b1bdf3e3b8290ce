package text

import (
	"errors"
	"fmt"
	"testing"
)

// TestError renders catalogue errors, alone and inside the wrappers of fmt
// and errors, in both languages: the sentences translated, the causes and
// the wrappers' own text as they are.
func TestError(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	unreachable := Wrap(cause, "error.clickhouse_unreachable", "127.0.0.1:1", "200ms", "make clickhouse-start", "--clickhouse-addr", "SETTLEMON_CLICKHOUSE_ADDR")
	tests := []struct {
		name   string
		err    error
		en, zh string
	}{
		{"plain", errors.New("boom"), "boom", "boom"},
		{"catalogue", Errorf("error.explain.no_trace"), "missing the trace number", "缺少交易流水号"},
		{"with a cause", unreachable,
			"ClickHouse at 127.0.0.1:1 is not answering after 200ms: start it with `make clickhouse-start` (or set --clickhouse-addr, SETTLEMON_CLICKHOUSE_ADDR): " + cause.Error(),
			"ClickHouse（127.0.0.1:1）无应答，已等待 200ms：请用 `make clickhouse-start` 启动，或通过 --clickhouse-addr、SETTLEMON_CLICKHOUSE_ADDR 指定地址：" + cause.Error()},
		{"inside fmt.Errorf", fmt.Errorf("opening: %w", Errorf("error.explain.no_trace")), "opening: missing the trace number", "opening: 缺少交易流水号"},
		{"joined", errors.Join(Errorf("error.store.addr_empty"), errors.New("other")), "clickhouse address is empty\nother", "未设置 ClickHouse 地址\nother"},
		{"two %w", fmt.Errorf("%w: %w", errors.New("invalid"), Errorf("error.store.addr_empty")), "invalid: clickhouse address is empty", "invalid: 未设置 ClickHouse 地址"},
	}
	en, zh := NewPrinter(English, nil), NewPrinter(Chinese, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := en.Error(tc.err); got != tc.en || tc.err.Error() != tc.en {
				t.Errorf("en = %q (Error %q), want %q", got, tc.err.Error(), tc.en)
			}
			if got := zh.Error(tc.err); got != tc.zh {
				t.Errorf("zh-CN = %q, want %q", got, tc.zh)
			}
		})
	}
	if !errors.Is(unreachable, cause) {
		t.Error("the cause is not unwrapped")
	}
}
