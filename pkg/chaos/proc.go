package chaos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a supervised child process: with restart set it is started again
// whenever it exits, until stop; kill sends SIGKILL and lets the supervisor
// restart it. Its output goes to one log file across restarts.
type child struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string
	restart bool
	log     *slog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has exited
	stopping bool
	killed   bool // the current process was killed on purpose
	starts   int
	kills    int
	crashes  []string // unplanned exits
	peakRSS  int64    // bytes, over every process it ran
	done     chan struct{}
	quick    int // consecutive exits shortly after start, for the restart backoff
}

func newChild(name, path string, args, env []string, logPath string, restart bool, log *slog.Logger) *child {
	return &child{name: name, path: path, args: args, env: env, logPath: logPath, restart: restart,
		log: log.With("child", name), done: make(chan struct{})}
}

// start launches the process; with restart set it is supervised until stop.
func (c *child) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.launchLocked()
}

func (c *child) launchLocked() error {
	out, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the log of %s: %w", c.name, err)
	}
	fmt.Fprintf(out, "\n--- chaos: starting %s at %s\n", c.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.path, c.args...)
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	c.cmd, c.killed = cmd, false
	c.starts++
	exited := make(chan struct{})
	c.exited = exited
	started := time.Now()
	go func() {
		werr := cmd.Wait()
		out.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		close(exited)
		if c.stopping {
			return
		}
		if !c.killed {
			c.crashes = append(c.crashes, fmt.Sprintf("%s exited on its own after %s: %v", c.name, time.Since(started).Round(time.Millisecond), werr))
			c.log.Warn("child exited on its own; restarting it", "err", werr)
		}
		if !c.restart {
			return
		}
		if time.Since(started) < 2*time.Second {
			c.quick++
		} else {
			c.quick = 0
		}
		delay := min(time.Duration(c.quick)*500*time.Millisecond, 5*time.Second)
		go func() {
			select {
			case <-time.After(delay):
			case <-c.done:
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.stopping {
				return
			}
			if err := c.launchLocked(); err != nil {
				c.log.Error("restarting child", "err", err)
			}
		}()
	}()
	return nil
}

// kill sends SIGKILL to the running process; false when none was running.
func (c *child) kill() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.stopping || isClosed(c.exited) {
		return false
	}
	c.sampleLocked()
	c.killed = true
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return false
	}
	c.kills++
	return true
}

// waitExit waits until the current process has exited.
func (c *child) waitExit(timeout time.Duration) bool {
	c.mu.Lock()
	ch := c.exited
	c.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop ends supervision and the process: SIGTERM (it drains and commits),
// SIGKILL after grace.
func (c *child) stop(grace time.Duration) error {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return nil
	}
	c.stopping = true
	close(c.done)
	cmd, ch := c.cmd, c.exited
	if cmd != nil && !isClosed(ch) {
		c.sampleLocked()
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-time.After(grace):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-ch
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", c.name, grace)
}

// relaunch starts a child without restart again after its process exited
// (the broker after a deliberate kill).
func (c *child) relaunch() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return errors.New(c.name + " is stopped")
	}
	if c.exited != nil && !isClosed(c.exited) {
		return errors.New(c.name + " is still running")
	}
	return c.launchLocked()
}

// sample records the process's peak resident memory.
func (c *child) sample() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sampleLocked()
}

func (c *child) sampleLocked() {
	if c.cmd == nil || c.cmd.Process == nil || isClosed(c.exited) {
		return
	}
	if rss, ok := peakRSS(c.cmd.Process.Pid); ok && rss > c.peakRSS {
		c.peakRSS = rss
	}
}

type childStats struct {
	Starts, Kills int
	Crashes       []string
	PeakRSS       int64
}

func (c *child) stats() childStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return childStats{Starts: c.starts, Kills: c.kills, Crashes: append([]string(nil), c.crashes...), PeakRSS: c.peakRSS}
}

func isClosed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// peakRSS reads a process's peak resident set (VmHWM, or VmRSS where the
// kernel does not report the peak) in bytes from /proc.
func peakRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	var hwm, rss int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			hwm = kiB(line)
		case strings.HasPrefix(line, "VmRSS:"):
			rss = kiB(line)
		}
	}
	v := max(hwm, rss)
	return v, v > 0
}

func kiB(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// childEnv is the harness's environment without SETTLEMON_* (every child gets
// its settings as flags, never from the caller's environment) and without
// GOMEMLIMIT, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SETTLEMON_") || strings.HasPrefix(kv, "GOMEMLIMIT=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
