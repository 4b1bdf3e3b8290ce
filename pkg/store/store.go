// Package store owns every SQL statement the project runs against
// ClickHouse: the versioned migrations (schemas.ClickHouse), the batched
// inserts with retries of archives, dead letters and facts, the checkpoints,
// and every read the console, the alerter, the report and explain make. Each
// table is a ReplacingMergeTree keyed by a row's identity, so a retried
// insert never counts twice; only SQL that ClickHouse 18.16 and current
// releases both accept is used (COMPAT.md). With Config.Cluster the same
// migrations are rendered for a sharded, replicated cluster (cluster.go).
// Batching, back-pressure and offset commits are the callers' business.
package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"

	"settlemon/pkg/text"
)

// Config configures a Store.
type Config struct {
	// Addr is host:port of the native protocol, default "127.0.0.1:19000";
	// several comma-separated addresses (the nodes of a cluster) are tried
	// in order, each new connection going to the first that answers.
	Addr      string
	Database  string // default "settle"; created when missing
	User      string // default "default"
	Password  string
	TLS       bool
	TLSCAFile string // PEM bundle to verify the server with; system roots when empty

	DialTimeout time.Duration // default 5s
	ReadTimeout time.Duration // default 60s
	// ConnectWait is how long New waits for the server to answer before it
	// reports it unreachable (UnreachableError). Default (and 0) 15s.
	ConnectWait time.Duration

	// MaxRetryElapsed is the total retry budget of one insert: retryable
	// failures are retried with exponential backoff until it is spent or the
	// context ends. Default 5m.
	MaxRetryElapsed time.Duration

	// Cluster is the ClickHouse cluster (remote_servers) the database lives
	// on; empty for a single server. With a cluster, the migrations create
	// replicated local tables and Distributed tables in front of them, DDL
	// runs ON CLUSTER and inserts are synchronous (cluster.go).
	Cluster string
	// DDLCluster is the cluster, every node a shard of its own, for ALTER of
	// the Distributed tables (which the replicated Cluster refuses, code
	// 371). Default: Cluster + "_all". Unused without Cluster.
	DDLCluster string
}

// DefaultConfig returns the configuration of the local development server
// (deploy/clickhouse/local.sh).
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:19000",
		Database:        "settle",
		User:            "default",
		DialTimeout:     5 * time.Second,
		ReadTimeout:     60 * time.Second,
		ConnectWait:     defaultConnectWait,
		MaxRetryElapsed: 5 * time.Minute,
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Addr == "" {
		return text.Errorf("error.store.addr_empty")
	}
	for _, a := range c.addrs() {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return text.Errorf("error.store.addr", strconv.Quote(a), "host:port")
		}
	}
	if !identifier.MatchString(c.Database) {
		return text.Errorf("error.store.database", strconv.Quote(c.Database))
	}
	if c.TLSCAFile != "" && !c.TLS {
		return text.Errorf("error.store.tls_ca")
	}
	if c.DialTimeout <= 0 {
		return text.Errorf("error.store.dial_timeout", c.DialTimeout.String())
	}
	if c.ReadTimeout <= 0 {
		return text.Errorf("error.store.read_timeout", c.ReadTimeout.String())
	}
	if c.MaxRetryElapsed <= 0 {
		return text.Errorf("error.store.retry_budget", c.MaxRetryElapsed.String())
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		return text.Errorf("error.store.cluster", strconv.Quote(c.Cluster))
	}
	if c.DDLCluster != "" && c.Cluster == "" {
		return text.Errorf("error.store.ddl_cluster")
	}
	if c.DDLCluster != "" && !identifier.MatchString(c.DDLCluster) {
		return text.Errorf("error.store.ddl_cluster_name", strconv.Quote(c.DDLCluster))
	}
	if c.ConnectWait < 0 {
		return text.Errorf("error.store.connect_wait", c.ConnectWait.String())
	}
	return nil
}

// defaultConnectWait bounds how long New waits for the server to answer a
// ping when Config.ConnectWait is 0.
const defaultConnectWait = 15 * time.Second

// maxConns is how many connections the pool opens, and keeps idle between
// queries: as many idle as open (the driver keeps 5 of its 10), so that a
// connection handed back while others are out is kept rather than closed.
// Each connection keeps the buffer it encodes blocks into, as large as its
// largest insert so far; a new one grows it from nothing again, a doubling
// copy of every block's bytes (BenchmarkInsertRawConcurrent: with five
// connections kept, each of eight concurrent archive inserts allocates
// two and a half times what each of four does; with ten, the same).
const maxConns = 10

// ErrInvalidConfig is wrapped by the error New returns for a configuration
// that fails Validate.
var ErrInvalidConfig = errors.New("invalid store config")

// UnreachableError is New's error when nothing answered at Addr within
// ConnectWait: the server is down, or Addr is wrong.
type UnreachableError struct {
	Addr   string
	Waited time.Duration
	Err    error // the last attempt's error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("ClickHouse at %s is not answering (%v after %v)", e.Addr, e.Err, e.Waited.Round(100*time.Millisecond))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Store writes to and reads from one ClickHouse database.
type Store struct {
	cfg     Config
	conn    driver.Conn
	logger  *slog.Logger
	metrics *metrics      // nil until Instrument (metrics.go)
	seq     atomic.Uint64 // the writer sequence of source health rows (nextSeq)
	slots   checkpointSlots
	tz      *time.Location // the server's time zone, in which toYYYYMM partitions (months.go)
}

// New connects to ClickHouse, waiting a few seconds for it to answer, and
// creates cfg.Database when it does not exist. It does not migrate: call
// Migrate.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}

	// The database may not exist yet, so the first connection uses the
	// server's default database.
	boot, err := open(ctx, cfg, "default", tlsConfig)
	if err != nil {
		return nil, err
	}
	err = ensureDatabase(ctx, boot, cfg)
	_ = boot.Close()
	if err != nil {
		return nil, err
	}

	conn, err := open(ctx, cfg, cfg.Database, tlsConfig)
	if err != nil {
		return nil, err
	}
	logger.Debug("connected to clickhouse", "addr", cfg.Addr, "database", cfg.Database)
	s := &Store{cfg: cfg, conn: conn, logger: logger}
	if v, err := conn.ServerVersion(); err == nil && v.Timezone != nil {
		s.tz = v.Timezone
	}
	return s, nil
}

// zone is the server's time zone (UTC when it did not say).
func (s *Store) zone() *time.Location {
	if s.tz == nil {
		return time.UTC
	}
	return s.tz
}

// addrs are the addresses of Addr, in order.
func (c Config) addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		out = append(out, strings.TrimSpace(a))
	}
	return out
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if addrs := c.addrs(); len(addrs) == 1 {
		tc.ServerName, _, _ = net.SplitHostPort(addrs[0])
	} // several: crypto/tls takes each connection's own host
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading clickhouse TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse TLS CA file %s: no PEM certificates", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// open opens a connection pool to database and pings it, retrying retryable
// failures for cfg.ConnectWait.
func open(ctx context.Context, cfg Config, database string, tlsConfig *tls.Config) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     cfg.addrs(),
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		TLS:          tlsConfig,
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: maxConns,
		MaxIdleConns: maxConns,
	})
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse connection to %s: %w", cfg.Addr, err)
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 2 * time.Second
	wait := cfg.ConnectWait
	if wait == 0 {
		wait = defaultConnectWait
	}
	bo.MaxElapsedTime = wait
	started := time.Now()
	err = backoff.Retry(func() error {
		err := conn.Ping(ctx)
		if err != nil && !Retryable(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(bo, ctx))
	if err != nil {
		_ = conn.Close()
		if notAnswering(err) {
			return nil, &UnreachableError{Addr: cfg.Addr, Waited: time.Since(started), Err: err}
		}
		return nil, fmt.Errorf("connecting to clickhouse at %s (database %s): %w", cfg.Addr, database, err)
	}
	return conn, nil
}

func ensureDatabase(ctx context.Context, conn driver.Conn, cfg Config) error {
	name := cfg.Database
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&n); err != nil {
		return fmt.Errorf("looking up clickhouse database %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	return createDatabase(ctx, conn, cfg)
}

// createDatabase creates cfg.Database, on every node of a cluster.
func createDatabase(ctx context.Context, conn driver.Conn, cfg Config) error {
	name := cfg.Database
	// name is a validated identifier.
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"`"+cfg.onCluster()); err != nil {
		return fmt.Errorf("creating clickhouse database %s: %w", name, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("closing clickhouse connection: %w", err)
	}
	return nil
}

// Database returns the database the store works in.
func (s *Store) Database() string { return s.cfg.Database }

// notAnswering reports whether a failed connect is the server's silence (a
// refused, reset or timed-out connection) rather than its answer (an
// exception such as a wrong password).
func notAnswering(err error) bool {
	var exc *clickhouse.Exception
	return !errors.As(err, &exc) && Retryable(err)
}

// DropDatabase drops the store's database and everything in it: the start
// of a fresh run. The store is unusable for writes until a new one migrates.
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+s.Database()+"`"+s.cfg.onCluster()); err != nil {
		return fmt.Errorf("dropping database %s: %w", s.Database(), err)
	}
	return nil
}

// Ping checks that ClickHouse answers (telemetry's readiness check).
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }
