package service

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pan"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// KafkaFlags registers the broker flags and returns the config they fill.
func KafkaFlags(f *Flags) *kafkaio.Config {
	c := kafkaio.DefaultConfig()
	f.ListVar(&c.Brokers, "kafka-brokers", c.Brokers, "Kafka bootstrap brokers, comma-separated host:port")
	f.StringVar(&c.ClientID, "kafka-client-id", c.ClientID, "client id sent to the brokers")
	f.BoolVar(&c.TLS, "kafka-tls", false, "connect to the brokers with TLS")
	f.StringVar(&c.TLSCAFile, "kafka-tls-ca-file", "", "PEM CA bundle for broker TLS (system roots when empty)")
	f.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: none)")
	f.StringVar(&c.SASLUser, "kafka-sasl-user", "", "SASL user")
	f.SecretVar(&c.SASLPassword, "kafka-sasl-password", "SASL password")
	return &c
}

// StoreFlags registers the ClickHouse flags and returns the config they fill.
// The user defaults to the local server's full-access "default": the
// commands that write (ingest, joiner, alerter, migrate, run) need it.
func StoreFlags(f *Flags) *store.Config {
	c := store.DefaultConfig()
	f.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native-protocol address host:port; several comma-separated (a cluster's nodes) are tried in order")
	f.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (created if missing)")
	f.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user")
	f.SecretVar(&c.Password, "clickhouse-password", "ClickHouse password")
	storeTLSFlags(f, &c)
	return &c
}

// The read-only ClickHouse user that deploy/clickhouse/local.sh and the
// compose stack create (profile readonly=1, loopback or the stack's network
// only), and the password both give it unless SETTLEMON_ANALYST_PASSWORD
// says otherwise. Anywhere else, set the password (SETTLEMON_CLICKHOUSE_PASSWORD
// or --clickhouse-password-file).
const (
	AnalystUser            = "analyst"
	AnalystDefaultPassword = "analyst"
)

// ReaderStoreFlags registers the ClickHouse flags of a command that only
// reads (the console): the same flags as StoreFlags, but the user defaults
// to the read-only analyst, so a reader never holds write access unless told
// to. An empty password for the analyst means its local and compose default.
func ReaderStoreFlags(f *Flags) *store.Config {
	c := store.DefaultConfig()
	c.User = AnalystUser
	f.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native-protocol address host:port; several comma-separated (a cluster's nodes) are tried in order")
	f.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (must exist: settlemon migrate creates it)")
	f.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user; give a read-only one (readonly=1), not the writer")
	f.SecretVar(&c.Password, "clickhouse-password", "ClickHouse password; empty for the user "+AnalystUser+
		" means "+strconv.Quote(AnalystDefaultPassword)+", its default in deploy/clickhouse/local.sh and the compose stack")
	storeTLSFlags(f, &c)
	f.after = append(f.after, func() { c.Password = ReaderPassword(c.User, c.Password) })
	return &c
}

// ReaderPassword is password, or the analyst's local default when user is
// the analyst and password is empty.
func ReaderPassword(user, password string) string {
	if user == AnalystUser && password == "" {
		return AnalystDefaultPassword
	}
	return password
}

// InteractiveConnectWait is the --clickhouse-connect-wait default of the
// commands a person runs: a local server is up within it or not running. The
// services keep the store's longer default, for a stack that starts together.
const InteractiveConnectWait = "3s"

// storeTLSFlags registers the ClickHouse TLS, retry and cluster flags.
func storeTLSFlags(f *Flags, c *store.Config) {
	f.BoolVar(&c.TLS, "clickhouse-tls", false, "connect to ClickHouse with TLS")
	f.StringVar(&c.TLSCAFile, "clickhouse-tls-ca-file", "", "PEM CA bundle for ClickHouse TLS")
	f.DurationVar(&c.MaxRetryElapsed, "clickhouse-retry-budget", c.MaxRetryElapsed, "how long one insert is retried while ClickHouse is unavailable before the service gives up")
	f.DurationVar(&c.ConnectWait, "clickhouse-connect-wait", c.ConnectWait, "how long to wait at start for ClickHouse to answer before giving up")
	f.StringVar(&c.Cluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers) the database lives on; empty for a single server. "+
		"With a cluster, migrations create replicated tables and Distributed ones in front, ON CLUSTER, and inserts are synchronous")
	f.StringVar(&c.DDLCluster, "clickhouse-ddl-cluster", "", "cluster with every node a shard of its own, for ALTER of the Distributed tables "+
		"(default: the cluster's name + \"_all\"; used only with --clickhouse-cluster)")
}

// CalendarConfig is the business-day calendar and the settlement schedule.
type CalendarConfig struct {
	File     string
	Schedule calendar.ScheduleConfig
}

// CalendarFlags registers the calendar flags.
func CalendarFlags(f *Flags) *CalendarConfig {
	c := &CalendarConfig{Schedule: calendar.DefaultScheduleConfig()}
	f.StringVar(&c.File, "calendar-file", "", "business-day calendar JSON (default: the bundled mainland China calendar)")
	f.DurationVar(&c.Schedule.NetworkCutoff, "network-cutoff", c.Schedule.NetworkCutoff, "local time of day after which a sale belongs to the next trade date")
	f.DurationVar(&c.Schedule.ClearingCutoff, "clearing-cutoff", c.Schedule.ClearingCutoff, "clearing of trade date D is due by D+1 at this local time")
	f.DurationVar(&c.Schedule.T1PayoutCutoff, "t1-payout-cutoff", c.Schedule.T1PayoutCutoff, "T1 payouts are due by this local time on the next business day")
	f.DurationVar(&c.Schedule.D1PayoutCutoff, "d1-payout-cutoff", c.Schedule.D1PayoutCutoff, "D1 payouts are due by this local time on the next calendar day")
	f.DurationVar(&c.Schedule.D0Window, "d0-window", c.Schedule.D0Window, "D0 payouts are due within this long after the sale")
	f.DurationVar(&c.Schedule.T0Window, "t0-window", c.Schedule.T0Window, "T0 payouts are due within this long after the sale")
	return c
}

// DeadlineHorizonDays is how far past an event its deadline can fall at
// most, in days (a T1 payout across the longest holiday is due within about
// two weeks): the years an event's deadline can reach.
const DeadlineHorizonDays = 31

// Years lists the years from the one of first to the one of last, the
// years a command computes deadlines in.
func Years(first, last time.Time) []int {
	var out []int
	for y := first.Year(); y <= last.Year(); y++ {
		out = append(out, y)
	}
	return out
}

// Load builds the schedule. It warns, once and in one line, about the years
// among years that the calendar lacks (deadlines in them count weekends
// only): commands pass the years their deadlines fall in — a live joiner
// this year and, near its end, the next; a simulation the years it spans.
// Commands that show deadlines one by one (explain, the console) pass none:
// each deadline computed without holidays says so itself.
func (c *CalendarConfig) Load(logger *slog.Logger, years ...int) (*calendar.Schedule, error) {
	var cal *calendar.Calendar
	var err error
	if c.File == "" {
		cal, err = calendar.Default()
	} else {
		cal, err = calendar.LoadFile(c.File)
	}
	if err != nil {
		return nil, text.Wrap(err, "error.calendar")
	}
	var missing []int
	for _, y := range years {
		if !cal.Known(y) && !slices.Contains(missing, y) {
			missing = append(missing, y)
		}
	}
	if len(missing) > 0 {
		logger.Warn("the calendar has no holidays for a year its deadlines fall in: deadlines there count weekends only and are flagged",
			"years", missing, "calendar", cal.Version(), "action", "update the calendar file (--calendar-file) when the State Council publishes the schedule")
	}
	return calendar.NewSchedule(c.Schedule, cal)
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string
	Level  string
}

// LogFlags registers the logging flags.
func LogFlags(f *Flags) *LogConfig {
	c := &LogConfig{}
	f.StringVar(&c.Format, "log-format", "text", "log format: text or json")
	f.StringVar(&c.Level, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

// Logger builds the logger, writing to stderr. Card numbers are masked in
// every line (pan.Handler).
func (c *LogConfig) Logger() (*slog.Logger, error) { return c.LoggerTo(os.Stderr) }

// LoggerTo is Logger writing to w.
func (c *LogConfig) LoggerTo(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, text.Wrap(err, "error.log_level", strconv.Quote(c.Level))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(c.Format) {
	case "text":
		return slog.New(pan.NewHandler(slog.NewTextHandler(w, opts), nil)), nil
	case "json":
		return slog.New(pan.NewHandler(slog.NewJSONHandler(w, opts), nil)), nil
	}
	return nil, text.Errorf("error.log_format", strconv.Quote(c.Format), "text", "json")
}
