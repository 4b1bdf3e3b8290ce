package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"settlemon/schemas"
)

func TestRetryable(t *testing.T) {
	exc := func(code int32) error { return &clickhouse.Exception{Code: code, Name: "DB::Exception"} }
	opErr := func(errno error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: errno}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"io.EOF", io.EOF, true},
		{"wrapped io.EOF", fmt.Errorf("sending: %w", io.EOF), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, true},
		{"connection reset", opErr(syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"socket deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), true},
		{"closed network connection", net.ErrClosed, true},
		{"driver closed connection", fmt.Errorf("sending 3 rows: %w", errors.New("attempted sending on closed connection")), true},
		{"pool acquire timeout", clickhouse.ErrAcquireConnTimeout, true},
		{"context canceled", context.Canceled, false},
		{"context deadline", fmt.Errorf("insert: %w", context.DeadlineExceeded), false},
		{"memory limit", exc(241), true},
		{"too many simultaneous queries", exc(202), true},
		{"too many parts", exc(252), true},
		{"timeout exceeded", exc(159), true},
		{"table read-only", exc(242), true},
		{"wrapped overload", fmt.Errorf("sending: %w", exc(202)), true},
		{"replicated table read-only without ZooKeeper", fmt.Errorf("preparing insert into anomalies: %w", exc(242)), true},
		{"ZooKeeper session expired (ON CLUSTER DDL)", exc(999), true},
		{"no ZooKeeper", exc(225), true},
		{"distributed DDL task timeout", exc(159), true},
		{"no live replica of a shard", exc(279), true},
		{"ALTER ON CLUSTER of a table that is not replicated", exc(371), false},
		{"double-distributed IN", exc(288), false},
		{"type mismatch", exc(53), false},
		{"cannot parse", exc(27), false},
		{"unknown table", exc(60), false},
		{"syntax error", exc(62), false},
		{"no such column", exc(16), false},
		{"readonly user", exc(164), false},
		{"wrong password", exc(193), false},
		{"wrapped bad data", fmt.Errorf("sending: %w", exc(53)), false},
		{"invalid batch", clickhouse.ErrBatchInvalid, false},
		{"conversion error", errors.New("clickhouse [AppendRow]: converting string to Decimal is unsupported"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRetryableRealDialError pings a port nobody listens on through the real
// driver and checks the error it returns is classified as retryable.
func TestRetryableRealDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Ping(context.Background())
	if err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	if !Retryable(err) {
		t.Errorf("Retryable(%v) = false, want true", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"tls with ca", func(c *Config) { c.TLS = true; c.TLSCAFile = "ca.pem" }, ""},
		{"empty addr", func(c *Config) { c.Addr = "" }, "address is empty"},
		{"addr without port", func(c *Config) { c.Addr = "127.0.0.1" }, "want host:port"},
		{"several addrs", func(c *Config) { c.Addr = "ch-1:9000, ch-2:9000" }, ""},
		{"one of several without port", func(c *Config) { c.Addr = "ch-1:9000,ch-2" }, `"ch-2": want host:port`},
		{"trailing comma", func(c *Config) { c.Addr = "ch-1:9000," }, `"": want host:port`},
		{"empty database", func(c *Config) { c.Database = "" }, "database"},
		{"database injection", func(c *Config) { c.Database = "x`; DROP DATABASE y" }, "database"},
		{"database starts with digit", func(c *Config) { c.Database = "1settle" }, "database"},
		{"ca without tls", func(c *Config) { c.TLSCAFile = "ca.pem" }, "TLS is off"},
		{"zero dial timeout", func(c *Config) { c.DialTimeout = 0 }, "dial timeout"},
		{"negative read timeout", func(c *Config) { c.ReadTimeout = -time.Second }, "read timeout"},
		{"zero retry budget", func(c *Config) { c.MaxRetryElapsed = 0 }, "retry budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"only comments", "-- a\n-- b;\n", nil, false},
		{"two statements", "CREATE TABLE a (x UInt8) ENGINE = Memory;\nCREATE TABLE b (x UInt8) ENGINE = Memory;\n",
			[]string{"CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE TABLE b (x UInt8) ENGINE = Memory"}, false},
		{"last without semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1", "SELECT 2"}, false},
		{"comment with semicolon", "SELECT 1 -- not; a split\n, 2;", []string{"SELECT 1 \n, 2"}, false},
		{"block comment", "SELECT /* ; */ 1;", []string{"SELECT   1"}, false},
		{"semicolon in string", "SELECT 'a;b', 'it''s', 'x\\'y';", []string{"SELECT 'a;b', 'it''s', 'x\\'y'"}, false},
		{"dashes in string", "SELECT '--x';", []string{"SELECT '--x'"}, false},
		{"quoted identifiers", "SELECT `a;b`, \"c;d\" FROM t;", []string{"SELECT `a;b`, \"c;d\" FROM t"}, false},
		{"empty statements", ";;\n;SELECT 1;;", []string{"SELECT 1"}, false},
		{"unterminated quote", "SELECT 'abc;", nil, true},
		{"unterminated comment", "SELECT 1 /* abc;", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitStatements(tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("splitStatements error = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitStatements = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	stmt := &fstest.MapFile{Data: []byte("SELECT 1;\n")}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string
		wantErr string
	}{
		{"ordered by version", fstest.MapFS{"0010_b.sql": stmt, "0002_a.sql": stmt, "README.md": stmt}, []string{"0002_a.sql", "0010_b.sql"}, ""},
		{"none", fstest.MapFS{}, nil, ""},
		{"bad name", fstest.MapFS{"core.sql": stmt}, nil, "NNNN_name.sql"},
		{"zero version", fstest.MapFS{"0000_core.sql": stmt}, nil, "positive"},
		{"duplicate version", fstest.MapFS{"0001_a.sql": stmt, "1_b.sql": stmt}, nil, "same version"},
		{"no statements", fstest.MapFS{"0001_a.sql": {Data: []byte("-- nothing\n")}}, nil, "no statements"},
		{"bad sql", fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 'x;\n")}}, nil, "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadMigrations error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("names = %v, want %v", names, tt.want)
			}
		})
	}
}

// TestEmbeddedMigrations checks the shipped migrations parse, and that every
// insert shape names only columns of the table the migrations create.
func TestEmbeddedMigrations(t *testing.T) {
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("want migrations starting at version 1, got %d", len(ms))
	}
	var all strings.Builder
	for _, m := range ms {
		for _, s := range m.statements {
			if strings.Contains(strings.ToUpper(s), "DEDUPLICATE") {
				t.Errorf("%s: OPTIMIZE … DEDUPLICATE crashes ClickHouse 18.16", m.name)
			}
			for _, banned := range []string{"DateTime64", "LowCardinality", "TTL ", "Enum8", "Enum16"} {
				if strings.Contains(s, banned) {
					t.Errorf("%s: uses %s, which 18.16 lacks or COMPAT.md forbids", m.name, banned)
				}
			}
			all.WriteString(s)
			all.WriteString("\n")
		}
	}
	ddl := all.String()
	check := func(table string, cols []string) {
		t.Helper()
		body := createBody(t, ddl, table)
		for _, c := range cols {
			if !strings.Contains(body, " "+c+" ") && !strings.Contains(body, "`"+c+"`") &&
				!strings.Contains(ddl, "ALTER TABLE "+table+" ADD COLUMN "+c+" ") {
				t.Errorf("table %s: insert names column %s the migration does not create", table, c)
			}
		}
	}
	for _, rt := range rawTables {
		check(rt.name, names(rt.cols))
	}
	check(controlTable.name, names(controlTable.cols))
	check(deadLetterTable.name, names(deadLetterTable.cols))
	check(lagTable.name, names(lagTable.cols))
	check(anomalyTable.name, names(anomalyTable.cols))
}

func names[T any](cols []column[T]) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// createBody returns the column list of CREATE TABLE table in ddl.
func createBody(t *testing.T, ddl, table string) string {
	t.Helper()
	i := strings.Index(ddl, "CREATE TABLE IF NOT EXISTS "+table+"\n")
	if i < 0 {
		t.Fatalf("no CREATE TABLE %s in the migrations", table)
	}
	rest := ddl[i:]
	end := strings.Index(rest, "ENGINE")
	return rest[:end]
}

func TestDateTime(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "1970-01-01T00:00:00Z"},
		{-5, "1970-01-01T00:00:00Z"},
		{1700000000999, "2023-11-14T22:13:20Z"},
		{4294967295999, "2106-02-07T06:28:15Z"},
		{4294967296000, "2106-02-07T06:28:15Z"},
		{1 << 62, "2106-02-07T06:28:15Z"},
	}
	for _, tt := range tests {
		if got := time.Unix(dateTimeSec(tt.ms), 0).UTC().Format(time.RFC3339); got != tt.want {
			t.Errorf("dateTimeSec(%d) = %s, want %s", tt.ms, got, tt.want)
		}
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{0, "0"},
		{1, "0.01"},
		{123450, "1234.5"},
		{-99, "-0.99"},
		{999_999_999_999_999_999, "9999999999999999.99"},
		{-999_999_999_999_999_999, "-9999999999999999.99"},
	}
	for _, tt := range tests {
		if got := fenDecimal(tt.fen).String(); got != tt.want {
			t.Errorf("fenDecimal(%d) = %s, want %s", tt.fen, got, tt.want)
		}
	}
}

func TestWithRetry(t *testing.T) {
	tests := []struct {
		name      string
		budget    time.Duration
		errs      []error // returned by successive attempts; nil after the list ends
		wantCalls int
		wantErr   error
	}{
		{"success", time.Minute, nil, 1, nil},
		{"retryable then success", time.Minute, []error{io.EOF, syscall.ECONNRESET}, 3, nil},
		{"permanent", time.Minute, []error{&clickhouse.Exception{Code: 53}}, 1, &clickhouse.Exception{}},
		{"retryable then permanent", time.Minute, []error{io.EOF, &clickhouse.Exception{Code: 53}}, 2, &clickhouse.Exception{}},
		{"budget spent", 300 * time.Millisecond, []error{io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF}, -1, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxRetryElapsed = tt.budget
			s := &Store{cfg: cfg, logger: slog.New(slog.DiscardHandler)}
			calls := 0
			err := s.withRetry(context.Background(), "inserting things", 1, func() error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if tt.wantCalls >= 0 && calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if tt.wantCalls < 0 && (calls < 2 || calls >= len(tt.errs)) {
				t.Errorf("calls = %d, want a few retries then giving up", calls)
			}
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			case *clickhouse.Exception:
				var exc *clickhouse.Exception
				if !errors.As(err, &exc) {
					t.Fatalf("err = %v, want a clickhouse exception", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if err != nil && !strings.HasPrefix(err.Error(), "inserting things: ") {
				t.Errorf("err = %q, want the operation as context", err)
			}
		})
	}
}

func TestWithRetryStopsOnCancel(t *testing.T) {
	s := &Store{cfg: DefaultConfig(), logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := s.withRetry(ctx, "inserting things", 1, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return io.EOF
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want context.Canceled carrying the last error", err)
	}
	if calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}
}

func TestColumnExists(t *testing.T) {
	exists := &clickhouse.Exception{Code: codeColumnExists, Message: "Cannot add column bank_code: column with this name already exists"}
	for _, tt := range []struct {
		stmt string
		err  error
		want bool
	}{
		{"ALTER TABLE anomalies ADD COLUMN bank_code String DEFAULT ''", exists, true},
		{"alter table anomalies\n  add column bank_code String", fmt.Errorf("exec: %w", exists), true},
		{"ALTER TABLE anomalies ADD COLUMN bank_code String", &clickhouse.Exception{Code: 62}, false},
		{"CREATE TABLE x (a UInt8) ENGINE = Memory", exists, false},
		{"ALTER TABLE anomalies ADD COLUMN bank_code String", errors.New("connection refused"), false},
	} {
		if got := columnExists(tt.stmt, tt.err); got != tt.want {
			t.Errorf("columnExists(%q, %v) = %v, want %v", tt.stmt, tt.err, got, tt.want)
		}
	}
}
