package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"unicode"
)

// captured runs fn with os.Stdout and os.Stderr sent to files, and returns
// what it wrote to each.
func captured(tb testing.TB, fn func()) (stdout, stderr string) {
	tb.Helper()
	dir := tb.TempDir()
	open := func(name string) *os.File {
		f, err := os.Create(dir + "/" + name)
		if err != nil {
			tb.Fatal(err)
		}
		return f
	}
	out, errf := open("stdout"), open("stderr")
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = out, errf
	defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
	fn()
	read := func(f *os.File) string {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(f)
		if err != nil {
			tb.Fatal(err)
		}
		f.Close()
		return string(b)
	}
	return read(out), read(errf)
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestErrorsInChinese runs the commands with --lang zh-CN (or
// SETTLEMON_LANG=zh-CN) for each class of mistake an operator makes: the
// error and the pointer to --help are Chinese, the identifiers in them
// (flags, variables, values, addresses, the command to run) are as given.
func TestErrorsInChinese(t *testing.T) {
	down := closedPort(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		// want are substrings of stderr, in order.
		want []string
	}{
		{"unknown flag", []string{"migrate", "--lang", "zh-CN", "--nope"}, nil, 2,
			[]string{"settlemon migrate: 未定义的参数：-nope", `运行 "settlemon migrate --help" 查看参数说明`}},
		{"unknown flag before --lang", []string{"explain", "--jsn", "--lang=zh-CN", "627100000205"}, nil, 2,
			[]string{"settlemon explain: 未定义的参数：-jsn", "--help"}},
		{"bad value", []string{"find", "--lang", "zh", "--limit", "many"}, nil, 2,
			[]string{`settlemon find: 参数 -limit 的取值 "many" 无效：parse error`, "查看参数说明"}},
		{"bad value in the environment", []string{"migrate"}, map[string]string{"SETTLEMON_LANG": "zh-CN", "SETTLEMON_CLICKHOUSE_CONNECT_WAIT": "soon"}, 2,
			[]string{`settlemon migrate: 环境变量 SETTLEMON_CLICKHOUSE_CONNECT_WAIT="soon" 无效：parse error`, "查看参数说明"}},
		{"a value out of range", []string{"find", "--lang", "zh-CN", "--merchant", "M1", "--day", "2026-10-01", "--amount", "1", "--limit", "0"}, nil, 2,
			[]string{"settlemon find: --limit 0 超出范围：应为 1 至 1000"}},
		{"a bad amount", []string{"find", "--lang", "zh-CN", "--merchant", "M1", "--day", "2026-10-01", "--amount", "12,80"}, nil, 2,
			[]string{`settlemon find: --amount "12,80" 无效：应为以元为单位`, "128.50"}},
		{"a store setting", []string{"migrate", "--lang", "zh-CN", "--clickhouse-addr", "ch-1"}, nil, 2,
			[]string{`settlemon migrate: ClickHouse 地址 "ch-1" 无效：应为 host:port`}},
		{"missing argument", []string{"explain", "--lang", "zh-CN"}, nil, 2,
			[]string{"settlemon explain: 缺少交易流水号", "查看参数说明"}},
		{"two arguments", []string{"explain", "--lang", "zh-CN", "T1", "T2"}, nil, 2,
			[]string{"settlemon explain: 只能给出一个交易流水号，实际给出 2 个：T1 T2"}},
		{"invalid trace number", []string{"explain", "--lang", "zh-CN", "no/such"}, nil, 2,
			[]string{`settlemon explain: "no/such" 有误：交易流水号无效`, "A-Z a-z 0-9 _ -"}},
		{"an unsupported language", []string{"explain", "--lang", "fr", "T1"}, map[string]string{"SETTLEMON_LANG": "zh-CN"}, 2,
			[]string{`settlemon explain: --lang: language "fr": want one of en, zh-CN`}},
		{"unreachable ClickHouse", []string{"migrate", "--lang", "zh-CN", "--clickhouse-addr", down, "--clickhouse-connect-wait", "200ms"}, nil, 1,
			[]string{"settlemon migrate: ClickHouse（" + down + "）无应答，已等待 ", "请用 `make clickhouse-start` 启动，或通过 --clickhouse-addr、SETTLEMON_CLICKHOUSE_ADDR 指定地址：", "connection refused"}},
		{"unreachable ClickHouse, explain", []string{"explain", "627100000205", "--clickhouse-addr", down, "--clickhouse-connect-wait", "200ms"}, map[string]string{"SETTLEMON_LANG": "zh-CN"}, 1,
			[]string{"settlemon explain: ClickHouse（" + down + "）无应答", "make clickhouse-start"}},
		{"unknown command", []string{"runn", "--lang", "zh-CN"}, nil, 2,
			[]string{`settlemon: 未知命令 "runn"`, `运行 "settlemon --help" 查看可用命令`}},
		{"a development command", []string{"bench"}, map[string]string{"SETTLEMON_LANG": "zh-CN"}, 2,
			[]string{`settlemon: "bench" 是开发命令：请运行 "settlemon-dev bench"`}},
		{"probe: not a URL", []string{"probe", "--lang", "zh-CN", "127.0.0.1:9101/readyz"}, nil, 2,
			[]string{`settlemon probe: 需要 http(s) 地址，实际为 "127.0.0.1:9101/readyz"`, "查看参数说明"}},
		{"probe: bad value", []string{"probe", "http://" + down + "/readyz", "--lang", "zh-CN", "--timeout", "x"}, nil, 2,
			[]string{`settlemon probe: 参数 -timeout 的取值 "x" 无效`}},
		{"probe: no answer", []string{"probe", "http://" + down + "/readyz", "--timeout", "1s"}, map[string]string{"SETTLEMON_LANG": "zh-CN"}, 1,
			[]string{"settlemon probe: 无应答：", "connection refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SETTLEMON_LANG", "SETTLEMON_CLICKHOUSE_CONNECT_WAIT", "SETTLEMON_CLICKHOUSE_ADDR"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var code int
			_, stderr := captured(t, func() { code = run(tc.args) })
			if code != tc.code {
				t.Errorf("settlemon %s: exit status %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			rest := stderr
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stderr lacks %q (in this order):\n%s", w, stderr)
					break
				}
				rest = rest[i+len(w):]
			}
			if tc.name != "an unsupported language" && !hasHan(stderr) {
				t.Errorf("stderr is not Chinese:\n%s", stderr)
			}
		})
	}
}

// TestErrorsInEnglish: without --lang, and with --lang en over
// SETTLEMON_LANG=zh-CN, the errors read as they always have.
func TestErrorsInEnglish(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"migrate", "--nope"}, "", "settlemon migrate: flag provided but not defined: -nope\nrun \"settlemon migrate --help\" for the flags\n"},
		{[]string{"explain", "--lang", "en"}, "zh-CN", "settlemon explain: missing the trace number\nrun \"settlemon explain --help\" for the flags\n"},
		{[]string{"find", "--limit", "x"}, "", "settlemon find: invalid value \"x\" for flag -limit: parse error\nrun \"settlemon find --help\" for the flags\n"},
		{[]string{"runn"}, "", "settlemon: unknown command \"runn\"\nrun \"settlemon --help\" for the commands\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("SETTLEMON_LANG", tc.env)
			_, stderr := captured(t, func() { run(tc.args) })
			if stderr != tc.want {
				t.Errorf("stderr = %q, want %q", stderr, tc.want)
			}
		})
	}
}
