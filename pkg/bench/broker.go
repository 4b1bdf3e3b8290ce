package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"settlemon/pkg/devbroker"
)

// ServeBroker is the child side of BrokerProcess: it runs the embedded broker
// on a loopback port, writes "ready <host:port>" to out, and serves until ctx
// ends or stop reaches EOF (the parent closed the pipe, or died).
func ServeBroker(ctx context.Context, port, partitions int, stop io.Reader, out io.Writer, log *slog.Logger) error {
	b, err := devbroker.New(devbroker.Config{Port: port, Partitions: partitions}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := fmt.Fprintf(out, "ready %s\n", b.Addr()); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stop)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return nil
}

// broker is the bench's broker: in this process, or a child process whose
// CPU and memory are measured apart from the pipeline's.
type broker struct {
	addr  string
	proc  Proc // the process the broker runs in
	child bool

	inline *devbroker.Broker
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan error
	closed sync.Once
}

func startBroker(ctx context.Context, cfg Config, log *slog.Logger) (*broker, error) {
	if len(cfg.BrokerCommand) == 0 {
		b, err := devbroker.New(devbroker.Config{Port: cfg.BrokerPort, Partitions: cfg.Pipeline.Partitions}, log)
		if err != nil {
			return nil, err
		}
		return &broker{addr: b.Addr(), proc: NewProc(0), inline: b}, nil
	}
	cmd := exec.Command(cfg.BrokerCommand[0], cfg.BrokerCommand[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the broker process: %w", err)
	}
	b := &broker{proc: NewProc(cmd.Process.Pid), child: true, cmd: cmd, stdin: stdin, exited: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
		}
		b.exited <- cmd.Wait()
	}()
	select {
	case b.addr = <-ready:
		log.Info("broker process started", "pid", cmd.Process.Pid, "addr", b.addr)
		return b, nil
	case err := <-b.exited:
		return nil, fmt.Errorf("the broker process exited before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		b.Close()
		return nil, errors.New("the broker process did not become ready within 30s")
	case <-ctx.Done():
		b.Close()
		return nil, ctx.Err()
	}
}

// Close stops the broker: the child is asked to stop by closing its stdin,
// and killed if it has not exited 10 seconds later. Closing twice is a no-op.
func (b *broker) Close() { b.closed.Do(b.close) }

func (b *broker) close() {
	if b.inline != nil {
		b.inline.Close()
		return
	}
	_ = b.stdin.Close()
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}
