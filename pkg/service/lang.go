package service

import (
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"

	"settlemon/pkg/text"
)

// LangFlag is the flag, and LangEnv the environment variable, that choose
// the language of what a command writes for a person: its errors (ExitCode)
// and, for the commands that write sentences, those.
const (
	LangFlag = "lang"
	LangEnv  = EnvPrefix + "LANG"
)

// ScanLang returns the language of a command's errors: that of --lang (or
// -lang, with its value after a space or "=") among args, else of
// SETTLEMON_LANG, else English; a value the catalogues cannot serve counts
// as English (the flag's own check reports it). It reads args before they
// are parsed, so that a mistake in the flags is reported in the language
// asked for (NewExit).
func ScanLang(args []string) text.Lang {
	v, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != LangFlag {
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		v, found = val, true
	}
	if !found {
		v = os.Getenv(LangEnv)
	}
	l, err := text.ParseLang(v)
	if err != nil {
		l = text.English
	}
	return l
}

// Errorf is a usage error whose sentence is catalogue message id.
func Errorf(id string, args ...string) error { return &UsageError{Err: text.Errorf(id, args...)} }

// FlagError is the usage error of an error of fs.Parse, in the
// catalogue's words (for a command that parses without Flags).
func FlagError(fs *flag.FlagSet, err error) error { return Usage(flagError(fs, err)) }

// flagError turns an error of fs.Parse into the catalogue's sentence: the
// flag package writes English, in a few fixed shapes, and keeps of a
// value's own error only its text, so the value is set again to get the
// error itself (a catalogue error of a flag.Value). An error of another
// shape is kept as it is.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	for _, s := range []struct{ prefix, id string }{
		{"flag provided but not defined: ", "error.flag.unknown"},
		{"flag needs an argument: ", "error.flag.needs_argument"},
		{"bad flag syntax: ", "error.flag.syntax"},
	} {
		if rest, ok := strings.CutPrefix(msg, s.prefix); ok {
			return text.Errorf(s.id, rest)
		}
	}
	// invalid value "x" for flag -n: cause; invalid boolean value "x" for -n: cause
	for _, s := range []struct{ prefix, sep, id string }{
		{"invalid value ", " for flag ", "error.flag.value"},
		{"invalid boolean value ", " for ", "error.flag.bool_value"},
	} {
		rest, ok := strings.CutPrefix(msg, s.prefix)
		if !ok {
			continue
		}
		value, rest, ok := strings.Cut(rest, s.sep)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ": ")
		var cause error
		if _, c, ok := strings.Cut(rest, ": "); ok {
			cause = errors.New(c)
		}
		if v, uerr := strconv.Unquote(value); uerr == nil {
			if fl := fs.Lookup(strings.TrimLeft(name, "-")); fl != nil {
				if serr := fl.Value.Set(v); serr != nil && cause != nil && serr.Error() == cause.Error() {
					cause = serr
				}
			}
		}
		return text.Wrap(cause, s.id, value, name)
	}
	return err
}
