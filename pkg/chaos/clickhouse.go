package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// clickhouse is the harness's own ClickHouse server, started and stopped with
// deploy/clickhouse/local.sh on its own ports with its own run folder, so
// stopping it never touches another server.
type clickhouse struct {
	script   string // deploy/clickhouse/local.sh
	runDir   string
	port     int
	httpPort int
	logPath  string
}

func (c *clickhouse) addr() string { return "127.0.0.1:" + strconv.Itoa(c.port) }

func (c *clickhouse) do(ctx context.Context, action string) error {
	env := childEnv("RUN_DIR="+c.runDir, "SETTLEMON_CH_PORT="+strconv.Itoa(c.port), "SETTLEMON_CH_HTTP_PORT="+strconv.Itoa(c.httpPort))
	if err := runScript(ctx, c.script, c.logPath, env, action); err != nil {
		return fmt.Errorf("clickhouse %s (local.sh, port %d): %w", action, c.port, err)
	}
	return nil
}

// runScript runs a deploy script with env, appending its output to logPath;
// the error carries the output's last lines.
func runScript(ctx context.Context, script, logPath string, env []string, args ...string) error {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = env
	var tail strings.Builder
	cmd.Stdout, cmd.Stderr = out, &tailWriter{w: out, tail: &tail}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(lastLines(tail.String(), 5)))
	}
	return nil
}

func (c *clickhouse) start(ctx context.Context) error { return c.do(ctx, "start") }
func (c *clickhouse) stop(ctx context.Context) error  { return c.do(ctx, "stop") }

// tailWriter copies to w and keeps what was written for error messages.
type tailWriter struct {
	w    *os.File
	tail *strings.Builder
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.tail.Len() < 64<<10 {
		t.tail.Write(p)
	}
	return t.w.Write(p)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FindRepoRoot walks up from dir to the folder holding the settlemon
// module's go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module settlemon") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no settlemon source tree (go.mod) at or above %s", dir)
		}
	}
}
