//go:build integration

package main

import (
	"strings"
	"testing"

	"settlemon/pkg/store/storetest"
)

// TestUnknownTraceInChinese: explain of a trace the database holds nothing
// about answers, with --lang zh-CN, in Chinese and exits 1; the trace
// number and the status stay as they are.
func TestUnknownTraceInChinese(t *testing.T) {
	st := storetest.New(t)
	cfg := storetest.Config(t, st.Database())
	t.Setenv("SETTLEMON_CLICKHOUSE_ADDR", cfg.Addr)
	t.Setenv("SETTLEMON_CLICKHOUSE_DATABASE", st.Database())
	var code int
	stdout, stderr := captured(t, func() { code = run([]string{"explain", "--lang", "zh-CN", "NOSUCH0001"}) })
	if code != exitNotFound {
		t.Errorf("exit %d, want %d\n%s%s", code, exitNotFound, stdout, stderr)
	}
	if !hasHan(stdout) || !strings.Contains(stdout, "NOSUCH0001") || !strings.Contains(stdout, "not_found") {
		t.Errorf("explain of an unknown trace in Chinese:\n%s", stdout)
	}
}
