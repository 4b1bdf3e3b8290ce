package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/cenkalti/backoff/v4"
)

// Server error codes that mean "try again later": overload, timeouts, lost
// connections between servers, replicas temporarily read-only (242 while
// ZooKeeper is away), ZooKeeper errors and distributed-DDL timeouts (999,
// 159: ON CLUSTER statements are idempotent and retried). Every other
// server code is a problem with the data or the query and is not retried.
var retryableCodes = map[int32]string{
	3:   "UNEXPECTED_END_OF_FILE",
	23:  "CANNOT_READ_FROM_ISTREAM",
	24:  "CANNOT_WRITE_TO_OSTREAM",
	32:  "ATTEMPT_TO_READ_AFTER_EOF",
	159: "TIMEOUT_EXCEEDED",
	160: "TOO_SLOW",
	201: "QUOTA_EXCEEDED",
	202: "TOO_MANY_SIMULTANEOUS_QUERIES",
	203: "NO_FREE_CONNECTION",
	209: "SOCKET_TIMEOUT",
	210: "NETWORK_ERROR",
	225: "NO_ZOOKEEPER",
	241: "MEMORY_LIMIT_EXCEEDED",
	242: "TABLE_IS_READ_ONLY",
	252: "TOO_MANY_PARTS",
	279: "ALL_CONNECTION_TRIES_FAILED",
	285: "TOO_FEW_LIVE_REPLICAS",
	319: "UNKNOWN_STATUS_OF_INSERT",
	373: "SESSION_IS_LOCKED",
	425: "SYSTEM_ERROR",
	439: "CANNOT_SCHEDULE_TASK",
	999: "KEEPER_EXCEPTION",
}

// Retryable reports whether err is worth retrying: a network failure, a
// timeout, a connection the server or the pool dropped, or a server error code
// meaning overload or temporary unavailability. A server exception about the
// data or the query, a conversion error in the client and a cancelled context
// are not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var exc *clickhouse.Exception
	if errors.As(err, &exc) {
		_, ok := retryableCodes[exc.Code]
		return ok
	}
	switch {
	case errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, clickhouse.ErrAcquireConnTimeout),
		errors.Is(err, clickhouse.ErrConnectionClosed):
		return true
	}
	// The driver reports use of a connection it already closed with untyped
	// errors ("attempted sending on closed connection").
	if strings.Contains(err.Error(), "on closed connection") {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		// dial, read and write failures on the socket
		return true
	}
	return false
}

// withRetry runs op until it succeeds, fails with a non-retryable error, the
// context ends or the retry budget is spent. what names the operation in logs
// and errors.
func (s *Store) withRetry(ctx context.Context, what string, rows int, op func() error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 200 * time.Millisecond
	bo.MaxInterval = 15 * time.Second
	bo.MaxElapsedTime = s.cfg.MaxRetryElapsed

	attempt := 0
	var last error
	err := backoff.RetryNotify(func() error {
		attempt++
		err := op()
		if err == nil {
			return nil
		}
		last = err
		if !Retryable(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		s.logger.Warn("clickhouse write failed, retrying",
			"op", what, "rows", rows, "attempt", attempt, "next_wait", wait, "err", err)
	})
	if err == nil {
		if attempt > 1 {
			s.logger.Info("clickhouse write succeeded after retries", "op", what, "rows", rows, "attempts", attempt)
		}
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && last != nil && !errors.Is(last, ctxErr) {
		return fmt.Errorf("%s: %w (after %d attempts, last error: %w)", what, ctxErr, attempt, last)
	}
	if Retryable(err) {
		return fmt.Errorf("%s: giving up after %d attempts: %w", what, attempt, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
