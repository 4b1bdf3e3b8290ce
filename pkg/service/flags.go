// Package service is the common frame of every settlemon command: flags that
// can also be set by environment variables (SETTLEMON_<FLAG>), the shared
// flag groups for Kafka, ClickHouse, the calendar and logging, and a context
// that ends on SIGINT or SIGTERM.
//
// It wires configuration; it contains no pipeline logic.
package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/text"
)

// EnvPrefix prefixes every environment variable a command reads.
const EnvPrefix = "SETTLEMON_"

// EnvName is the environment variable that sets flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Flags is a flag set whose every flag can also come from the environment.
// A flag given on the command line wins over the environment, which wins over
// the default.
type Flags struct {
	*flag.FlagSet
	summary string
	// help receives --help (default stdout); notes, notes about defaults
	// that were adapted (default stderr).
	help, notes io.Writer
	// args: positional arguments are allowed (AllowArgs).
	args bool
	// check is the --check-config flag, when registered (CheckConfigFlag).
	check *bool
	// after run at the end of a successful Parse, in order: defaults that
	// depend on other flags.
	after []func()
	// lang is the --lang flag every command has; parsed, in Lang.
	lang   *string
	parsed text.Lang
}

// NewFlags returns a flag set for command name; summary is the first lines of
// its --help.
func NewFlags(name, summary string) *Flags {
	f := &Flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), summary: summary, help: os.Stdout, notes: os.Stderr}
	// The flag package prints nothing itself: Parse prints the help for
	// --help and returns every other mistake as one UsageError.
	f.SetOutput(io.Discard)
	f.Usage = func() {}
	f.lang = f.String(LangFlag, string(text.English), "language of the errors and of the sentences the command writes: en or zh-CN (zh)")
	return f
}

// SetLangUsage replaces the --help line of --lang: what the language
// chooses for this command besides its errors.
func (f *Flags) SetLangUsage(usage string) { f.Lookup(LangFlag).Usage = usage }

// Lang is the language --lang (or SETTLEMON_LANG) chose, after Parse.
func (f *Flags) Lang() text.Lang { return f.parsed }

// SetOutputs sends --help (and the --check-config verdict) to help instead
// of stdout, and notes about adapted defaults to notes instead of stderr.
func (f *Flags) SetOutputs(help, notes io.Writer) { f.help, f.notes = help, notes }

// SetDefault changes the default of a registered flag; an unknown name is
// ignored.
func (f *Flags) SetDefault(name, value string) {
	fl := f.Lookup(name)
	if fl == nil {
		return
	}
	_ = fl.Value.Set(value)
	fl.DefValue = value
}

// Notes is where notes about adapted defaults go (default stderr).
func (f *Flags) Notes() io.Writer { return f.notes }

// IsSet reports whether flag name was given on the command line or in the
// environment (after Parse).
func (f *Flags) IsSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	if !set {
		_, set = os.LookupEnv(EnvName(name))
	}
	return set
}

// AllowArgs lets Parse accept positional arguments (f.Args()); without it a
// positional argument is a usage error.
func (f *Flags) AllowArgs() { f.args = true }

// CheckConfigFlag registers --check-config: the command parses its flags and
// environment, validates every configuration and exits 0 without connecting
// to anything (CheckOnly reports it).
func (f *Flags) CheckConfigFlag() {
	f.check = f.Bool("check-config", false, "parse the flags and environment, validate the configuration and exit 0 without connecting to anything (exit 2 naming the problem otherwise)")
}

// CheckOnly reports whether --check-config was given.
func (f *Flags) CheckOnly() bool { return f.check != nil && *f.check }

// ConfigOK ends a --check-config run: it prints that the configuration of
// command is valid and returns nil.
func (f *Flags) ConfigOK(command string) error {
	fmt.Fprintf(f.help, "%s: the configuration is valid\n", command)
	return nil
}

// PrintUsage writes the help text: the summary, then every flag with its
// environment variable and default.
func (f *Flags) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nFlags (each also settable as the environment variable shown):\n", strings.TrimSpace(f.summary))
	f.VisitAll(func(fl *flag.Flag) {
		def := ""
		if fl.DefValue != "" {
			def = " (default " + fl.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s  [%s]%s\n      %s\n", fl.Name, EnvName(fl.Name), def, fl.Usage)
	})
}

// Parse reads args, then the environment for every flag not given in args.
// It returns flag.ErrHelp after printing help for -h/--help, and a
// UsageError for an unknown flag, a value that does not parse (on the
// command line or in the environment) and, unless AllowArgs, a positional
// argument.
func (f *Flags) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.PrintUsage(f.help)
			return err
		}
		return Usage(flagError(f.FlagSet, err))
	}
	if !f.args && f.NArg() > 0 {
		return Errorf("error.unexpected_argument", strconv.Quote(f.Arg(0)))
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if set[fl.Name] {
			return
		}
		if v, ok := os.LookupEnv(EnvName(fl.Name)); ok {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, text.Wrap(err, "error.env_value", EnvName(fl.Name), strconv.Quote(v)))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Usage(err)
	}
	l, err := text.ParseLang(*f.lang)
	if err != nil {
		return Usage(text.Wrap(err, "error.lang"))
	}
	f.parsed = l
	for _, fn := range f.after {
		fn()
	}
	return nil
}

// EnvVars lists the environment variables the flag set reads, sorted.
func (f *Flags) EnvVars() []string {
	var out []string
	f.VisitAll(func(fl *flag.Flag) { out = append(out, EnvName(fl.Name)) })
	sort.Strings(out)
	return out
}

// List is a comma-separated flag value.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }

// Set replaces the list.
func (l *List) Set(s string) error {
	*l = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// ListVar defines a comma-separated list flag.
func (f *Flags) ListVar(p *[]string, name string, def []string, usage string) {
	*p = append([]string(nil), def...)
	f.Var((*List)(p), name, usage)
}

// SecretVar defines a secret flag: its value may be given directly (better by
// environment) or, with the flag name plus "-file", read from a file.
// Resolve with ReadSecretFiles after Parse.
func (f *Flags) SecretVar(p *string, name, usage string) {
	f.StringVar(p, name, "", usage+" (prefer the environment variable or --"+name+"-file)")
	f.Func(name+"-file", "file holding --"+name, func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return text.Wrap(err, "error.secret_file")
		}
		*p = strings.TrimRight(string(b), "\r\n")
		return nil
	})
}

// DurationVar is flag.DurationVar (re-exported for symmetry).
func (f *Flags) DurationVar(p *time.Duration, name string, def time.Duration, usage string) {
	f.FlagSet.DurationVar(p, name, def, usage)
}
