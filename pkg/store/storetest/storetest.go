// Package storetest gives integration tests a migrated, private ClickHouse
// database on a real server. It is meant for tests built with the
// "integration" tag; it never starts a server itself.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"settlemon/pkg/store"
)

// AddrEnv names the environment variable holding the server's host:port.
const AddrEnv = "SETTLEMON_CLICKHOUSE_ADDR"

// Config returns the store configuration for a test against the server named
// by SETTLEMON_CLICKHOUSE_ADDR, with database set to database. Without the
// variable the test is skipped, or fails when CI=true.
func Config(tb testing.TB, database string) store.Config {
	tb.Helper()
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		msg := AddrEnv + " is not set: start a server with `deploy/clickhouse/local.sh start` and run with " +
			AddrEnv + "=127.0.0.1:19000"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = database
	cfg.MaxRetryElapsed = 30 * time.Second
	return cfg
}

// New returns a Store on a fresh, uniquely named database, migrated. The
// database is dropped when the test ends.
func New(tb testing.TB) *store.Store {
	tb.Helper()
	cfg := Config(tb, UniqueName(tb))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	logger := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := store.New(ctx, cfg, logger)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx); err != nil {
			tb.Errorf("storetest: dropping database %s: %v", s.Database(), err)
		}
		if err := s.Close(); err != nil {
			tb.Errorf("storetest: %v", err)
		}
	})
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	return s
}

// Conn opens a connection of the test's own to st's database, for
// assertions the store has no query for. The store keeps its connection to
// itself; this one is closed when the test ends.
func Conn(tb testing.TB, st *store.Store) driver.Conn {
	tb.Helper()
	cfg := Config(tb, st.Database())
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth:     clickhouse.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
	})
	if err != nil {
		tb.Fatalf("storetest: opening a connection to %s: %v", cfg.Addr, err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// UniqueName returns a database name unique to this test run: "t_", a
// sanitized test name, and random hex.
func UniqueName(tb testing.TB) string {
	tb.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%s", name, hex.EncodeToString(b[:]))
}

// testWriter sends log lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
