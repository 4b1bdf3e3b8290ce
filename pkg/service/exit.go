package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Exit statuses shared by every command.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed: a server did not answer, a file is missing, …
	ExitUsage = 2 // the command was invoked wrongly: an unknown flag, a bad value, a missing argument
)

// UsageError is a mistake in how a command was invoked: a flag or variable
// that does not parse, a value out of range, a missing or extra argument.
// ExitCode gives it status 2 and points to --help.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as a usage error (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{Err: err}
}

// Usagef is a usage error with a formatted message.
func Usagef(format string, a ...any) error { return &UsageError{Err: fmt.Errorf(format, a...)} }

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// Exit prints a command's errors in its language and gives its exit
// status: a command makes one with NewExit from its arguments and returns
// Code of its outcome.
type Exit struct {
	Command string
	Lang    text.Lang
}

// NewExit is the Exit of command run with args (ScanLang).
func NewExit(command string, args []string) Exit { return Exit{Command: command, Lang: ScanLang(args)} }

// Code turns the command's outcome into its exit status and prints the
// error on stderr; see ExitCodeTo.
func (e Exit) Code(err error) int { return e.codeTo(os.Stderr, err) }

func (e Exit) codeTo(w io.Writer, err error) int { return ExitCodeTo(w, e.Lang, e.Command, err) }

// Print prints err like Code, without the pointer to --help, and returns
// ExitError: for a failure after the command started.
func (e Exit) Print(err error) int {
	fmt.Fprintln(os.Stderr, MessageIn(text.NewPrinter(e.Lang, nil), e.Command, err))
	return ExitError
}

// ExitCodeTo turns a command's outcome into its exit status: 0 for success
// and for --help; 2 for a usage error, printed as one line plus a pointer
// to --help; otherwise 1 after printing the error. The error is prefixed
// with the command's name once: an error that already starts with it (a
// package named like the command) is not prefixed again. It is written in
// lang: the sentences of the catalogues' errors (text.Error) in that
// language, the causes they wrap as they are.
func ExitCodeTo(w io.Writer, lang text.Lang, command string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	p := text.NewPrinter(lang, nil)
	fmt.Fprintln(w, MessageIn(p, command, err))
	if IsUsage(err) {
		fmt.Fprintln(w, p.S("error.see_help", strconv.Quote(command+" --help")))
		return ExitUsage
	}
	return ExitError
}

// Message is err as one line prefixed with the command's name, without
// repeating a prefix the error already carries ("joiner: joiner: …"), in
// English.
func Message(command string, err error) string {
	return MessageIn(text.NewPrinter(text.English, nil), command, err)
}

// MessageIn is Message in p's language.
func MessageIn(p *text.Printer, command string, err error) string {
	msg := p.Error(err)
	short := command[strings.LastIndexByte(command, ' ')+1:]
	for _, p := range []string{command + ": ", short + ": "} {
		for strings.HasPrefix(msg, p) {
			msg = strings.TrimPrefix(msg, p)
		}
	}
	return command + ": " + msg
}

// OpenStore connects to ClickHouse and, when migrate is set, applies the
// migrations first. The caller closes the store. A server that does not
// answer is reported with how to start it (StoreError).
func OpenStore(ctx context.Context, cfg store.Config, log *slog.Logger, migrate bool) (*store.Store, error) {
	st, err := store.New(ctx, cfg, log)
	if err != nil {
		return nil, StoreError(err)
	}
	if migrate {
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// StoreError adds the fix to an error of store.New: a ClickHouse that does
// not answer is started with `make clickhouse-start` or is elsewhere; an
// invalid configuration is a usage error.
func StoreError(err error) error {
	var down *store.UnreachableError
	switch {
	case errors.As(err, &down):
		return text.Wrap(down.Err, "error.clickhouse_unreachable", down.Addr, down.Waited.Round(100*time.Millisecond).String(),
			"make clickhouse-start", "--clickhouse-addr", "SETTLEMON_CLICKHOUSE_ADDR")
	case errors.Is(err, store.ErrInvalidConfig):
		return Usage(err)
	}
	return err
}

// Invalid joins the results of a command's Validate calls into one usage
// error, or nil when all of them passed.
func Invalid(errs ...error) error { return Usage(errors.Join(errs...)) }

// CheckURL reports a receiver URL a command cannot use, naming the flag and
// the fix: it needs http:// or https:// and a host.
func CheckURL(flagName, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Errorf("error.url", "--"+flagName, strconv.Quote(raw), "http://127.0.0.1:9093")
	}
	return nil
}
