package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// commands builds every command under services/ once, into a
// temporary folder removed by TestMain.
func commands(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "settlemon-cli-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "./services/...")
		cmd.Dir = filepath.Join("..", "..") // the repository root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New("go build ./services/...: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// closedPort is a loopback port nothing listens on.
func closedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestExitCodesAndMessages runs the built commands as a newcomer would and
// checks the exit status and what they print: usage errors exit 2 with the
// one problem and a pointer to --help, other errors exit 1 naming the fix.
func TestExitCodesAndMessages(t *testing.T) {
	down := closedPort(t)
	_, brokerPort, _ := net.SplitHostPort(closedPort(t))
	tests := []struct {
		name string
		bin  string
		args []string
		code int
		// want are substrings of stderr, in order; stderr has at most lines lines.
		want  []string
		lines int
	}{
		{"run: unknown flag", "settlemon-dev", []string{"run", "--dayz", "3"}, 2,
			[]string{"settlemon-dev run: flag provided but not defined: -dayz", `run "settlemon-dev run --help" for the flags`}, 2},
		{"run: zero days is one error", "settlemon-dev", []string{"run", "--days", "0"}, 2,
			[]string{"settlemon-dev run: --days 0: want at least 1 simulated day", "--help"}, 2},
		{"run: a language without a catalogue", "settlemon-dev", []string{"run", "--lang", "ja"}, 2,
			[]string{`settlemon-dev run: --lang: language "ja": want one of en, zh-CN`, "--help"}, 2},
		{"run: a value that does not parse", "settlemon-dev", []string{"run", "--seed", "seven"}, 2,
			[]string{`invalid value "seven" for flag -seed`, "--help"}, 2},
		{"run: an outage the user puts after the run", "settlemon-dev", []string{"run", "--days", "3", "--payout-outage-day", "5"}, 2,
			[]string{"payout outage day 5: want a traffic day in 1..3", "--help"}, 3},
		{"run: ClickHouse down names the fix", "settlemon-dev", []string{"run", "--days", "1", "--broker-port", brokerPort, "--clickhouse-addr", down, "--clickhouse-connect-wait", "200ms"}, 1,
			[]string{"ClickHouse at " + down + " is not answering", "start it with `make clickhouse-start` (or set --clickhouse-addr"}, 0},
		{"migrate: ClickHouse down names the fix", "settlemon", []string{"migrate", "--clickhouse-addr", down, "--clickhouse-connect-wait", "200ms"}, 1,
			[]string{"settlemon migrate: ClickHouse at " + down + " is not answering", "make clickhouse-start"}, 1},
		{"migrate: extra argument", "settlemon", []string{"migrate", "now"}, 2, []string{`settlemon migrate: unexpected argument "now"`, "--help"}, 2},
		{"explain: no trace number", "settlemon", []string{"explain"}, 2, []string{"settlemon explain: missing the trace number", "--help"}, 2},
		{"explain: unknown flag", "settlemon", []string{"explain", "--jsn", "627100000205"}, 2, []string{"-jsn", "--help"}, 2},
		{"explain: a language without a catalogue", "settlemon", []string{"explain", "--lang", "fr", "627100000205"}, 2,
			[]string{`settlemon explain: --lang: language "fr": want one of en, zh-CN`, "--help"}, 2},
		{"find: a bad amount", "settlemon", []string{"find", "--merchant", "M1", "--day", "2026-10-01", "--amount", "12,80"}, 2,
			[]string{`settlemon find: --amount "12,80": want yuan with at most two decimals`, "--help"}, 2},
		{"find: no merchant", "settlemon", []string{"find", "--day", "2026-10-01", "--amount", "1"}, 2, []string{`settlemon find: --merchant "": want the merchant id`, "--help"}, 2},
		{"score: unknown flag", "settlemon-dev", []string{"score", "--truht", "x"}, 2, []string{"settlemon-dev score: flag provided but not defined: -truht", "--help"}, 2},
		{"probe: not a URL", "settlemon", []string{"probe", "127.0.0.1:9101/readyz"}, 2, []string{"settlemon probe: want an http(s) URL", "--help"}, 2},
		{"bench: unknown flag", "settlemon-dev", []string{"bench", "--nope"}, 2, []string{"-nope", "--help"}, 2},
		{"broker: unknown flag", "settlemon-dev", []string{"broker", "--nope"}, 2, []string{"-nope", "--help"}, 2},
		{"chaos: unknown flag", "settlemon-dev", []string{"chaos", "--nope"}, 2, []string{"-nope", "--help"}, 2},
		{"chaos: bad seeds", "settlemon-dev", []string{"chaos", "--seeds", "x"}, 2, []string{"--seeds", "--help"}, 2},
		{"unknown command", "settlemon", []string{"runn"}, 2, []string{`settlemon: unknown command "runn"`, "settlemon --help"}, 2},
		{"a development command names settlemon-dev", "settlemon", []string{"run", "--days", "1"}, 2, []string{`settlemon: "run" is a development command: run "settlemon-dev run"`}, 1},
		{"dev: unknown command", "settlemon-dev", []string{"migrate"}, 2, []string{`settlemon-dev: unknown command "migrate"`, "settlemon-dev --help"}, 2},
		{"alerter: URL without scheme", "alerter", []string{"--alertmanager-url", "127.0.0.1:19821"}, 2,
			[]string{`alerter: --alertmanager-url "127.0.0.1:19821": the URL needs http://`, "--help"}, 2},
		{"alerter: no receiver", "alerter", nil, 2, []string{"alerter: no receiver", "--help"}, 2},
		{"alerter: a language without a catalogue", "alerter", []string{"--webhook-url", "http://127.0.0.1:19821/hook", "--lang", "de"}, 2,
			[]string{`alerter: --lang: language "de": want one of en, zh-CN`, "--help"}, 2},
		{"alerter: Chinese annotations pass the check", "alerter", []string{"--webhook-url", "http://127.0.0.1:19821/hook", "--lang", "zh-CN", "--check-config"}, 0, nil, 0},
		{"joiner: no stuttering prefix", "joiner", []string{"--clock", "wall"}, 2, []string{`joiner: clock "wall" is neither live nor replay`}, 2},
		{"joiner: unknown flag", "joiner", []string{"--clok", "live"}, 2, []string{"joiner: flag provided but not defined: -clok", `run "joiner --help" for the flags`}, 2},
		{"ingest: no source", "ingest", nil, 2, []string{"ingest: --source", "--help"}, 2},
		{"ingest: ClickHouse down", "ingest", []string{"--source", "auth", "--clickhouse-addr", down, "--clickhouse-connect-wait", "200ms", "--ops-listen", closedPort(t)}, 1,
			[]string{"ClickHouse at " + down + " is not answering", "make clickhouse-start"}, 0},
		{"simulator: zero days", "simulator", []string{"--days", "0"}, 2, []string{"simulator: --days 0: want at least 1 simulated day", "--help"}, 2},
		{"console: beyond loopback without a token", "console", []string{"--listen", "0.0.0.0:8080", "--check-config"}, 2, []string{"set a token", "--help"}, 2},
		{"console: extra argument", "console", []string{"serve"}, 2, []string{`console: unexpected argument "serve"`}, 2},
		{"console: beyond loopback without a token, in Chinese", "console", []string{"--lang", "zh-CN", "--listen", "0.0.0.0:8080", "--check-config"}, 2,
			[]string{`console: 控制台监听地址 "0.0.0.0:8080" 超出本机回环：请用 --token 设置访问令牌，或改为监听 127.0.0.1`, `运行 "console --help" 查看参数说明`}, 2},
		{"ingest: a broker without a port, in Chinese", "ingest", []string{"--lang", "zh-CN", "--source", "auth", "--kafka-brokers", "nohost", "--check-config"}, 2,
			[]string{`ingest: kafka: 代理服务器地址 "nohost" 不是 host:port 形式：`, "missing port", "查看参数说明"}, 2},
		{"joiner: unknown flag, in Chinese", "joiner", []string{"--lang", "zh-CN", "--clok", "live"}, 2,
			[]string{"joiner: 未定义的参数：-clok", `运行 "joiner --help" 查看参数说明`}, 2},
		{"alerter: URL without scheme, in Chinese", "alerter", []string{"--lang", "zh-CN", "--alertmanager-url", "127.0.0.1:19821"}, 2,
			[]string{`alerter: --alertmanager-url "127.0.0.1:19821"：地址须以 http:// 或 https:// 开头`, "查看参数说明"}, 2},
		{"joiner: a bad clock, in Chinese", "joiner", []string{"--lang", "zh-CN", "--clock", "wall"}, 2,
			[]string{`joiner: 时钟 "wall" 无效：应为 live 或 replay`, "查看参数说明"}, 2},
		{"alerter: a negative minimum duration, in Chinese", "alerter", []string{"--lang", "zh-CN", "--webhook-url", "http://127.0.0.1:19821/hook", "--for", "SourceLagging=-1s", "--check-config"}, 2,
			[]string{`alerter: 参数 -for 的取值 "SourceLagging=-1s" 无效："SourceLagging=-1s" 中的时长不能为负`, "查看参数说明"}, 2},
		{"help is success", "joiner", []string{"--help"}, 0, nil, 0},
		{"check-config passes", "ingest", []string{"--source", "payouts", "--check-config"}, 0, nil, 0},
	}
	dir := commands(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(dir, tc.bin), tc.args...)
			cmd.Env = []string{"HOME=" + t.TempDir()} // no SETTLEMON_* of this machine
			cmd.Dir = t.TempDir()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			out := stderr.String()
			if code != tc.code {
				t.Errorf("%s %s: exit status %d, want %d\n%s", tc.bin, strings.Join(tc.args, " "), code, tc.code, out)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stderr lacks %q (in this order):\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(strings.TrimSpace(out), "\n") + 1; tc.lines > 0 && n > tc.lines {
				t.Errorf("stderr has %d lines, want at most %d:\n%s", n, tc.lines, out)
			}
			if strings.Contains(out, tc.bin+": "+tc.bin+":") || strings.Contains(out, "Flags (each also settable") {
				t.Errorf("stderr repeats a prefix or prints the help:\n%s", out)
			}
		})
	}
}

// TestDaysAdaptTheOutage checks that a default outage follows --days and
// that the user's own outage day is validated as given.
func TestDaysAdaptTheOutage(t *testing.T) {
	dir := commands(t)
	for _, tc := range []struct {
		days, outage string
		code         int
		want         string
	}{
		{"3", "", 0, "the payout-feed outage is on day 3 (2026-09-30), the last of --days 3"},
		{"1", "", 0, "the payout-feed outage is on day 1 (2026-09-28), the last of --days 1"},
		{"5", "", 0, ""},
		{"3", "0", 0, ""},
		{"3", "4", 2, "payout outage day 4: want a traffic day in 1..3"},
	} {
		t.Run("days="+tc.days+",outage="+tc.outage, func(t *testing.T) {
			args := []string{"--days", tc.days, "--check-config"}
			if tc.outage != "" {
				args = append(args, "--payout-outage-day", tc.outage)
			}
			cmd := exec.Command(filepath.Join(dir, "simulator"), args...)
			cmd.Env = []string{}
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			if code != tc.code {
				t.Fatalf("simulator %v: exit %d, want %d\n%s", args, code, tc.code, out)
			}
			if tc.want != "" && !strings.Contains(string(out), tc.want) {
				t.Errorf("simulator %v: output lacks %q:\n%s", args, tc.want, out)
			}
			if tc.want == "" && strings.Contains(string(out), "note:") {
				t.Errorf("simulator %v: a note although nothing was adapted:\n%s", args, out)
			}
		})
	}
}
