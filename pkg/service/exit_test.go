package service

import (
	"settlemon/pkg/text"

	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestExitCodeTo(t *testing.T) {
	tests := []struct {
		name    string
		command string
		err     error
		code    int
		out     string
	}{
		{"success", "joiner", nil, 0, ""},
		{"help", "joiner", flag.ErrHelp, 0, ""},
		{"error", "joiner", errors.New("kafka: no brokers configured"), 1, "joiner: kafka: no brokers configured\n"},
		{"no stutter", "joiner", errors.New("joiner: clock \"x\" is neither live nor replay"), 1, "joiner: clock \"x\" is neither live nor replay\n"},
		{"no stutter of the subcommand", "settlemon run", fmt.Errorf("run: %w", errors.New("boom")), 1, "settlemon run: boom\n"},
		{"usage", "ingest", Usagef("--source: unknown source %q", "x"), 2, "ingest: --source: unknown source \"x\"\nrun \"ingest --help\" for the flags\n"},
		{"wrapped usage", "ingest", fmt.Errorf("starting: %w", Usage(errors.New("bad"))), 2, "ingest: starting: bad\nrun \"ingest --help\" for the flags\n"},
		{"joined validations", "console", Invalid(nil, errors.New("a"), nil), 2, "console: a\nrun \"console --help\" for the flags\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if got := ExitCodeTo(&b, text.English, tc.command, tc.err); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
			if b.String() != tc.out {
				t.Errorf("printed %q, want %q", b.String(), tc.out)
			}
		})
	}
	if Invalid(nil, nil) != nil {
		t.Error("Invalid of passing checks is not nil")
	}
}

func TestParseUsageErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		allow bool
		want  string // "" success
	}{
		{"unknown flag", []string{"--nope"}, nil, false, "flag provided but not defined: -nope"},
		{"bad value", []string{"--n", "x"}, nil, false, `invalid value "x" for flag -n`},
		{"bad environment", nil, map[string]string{"SETTLEMON_N": "x"}, false, "SETTLEMON_N"},
		{"positional argument", []string{"extra"}, nil, false, `unexpected argument "extra"`},
		{"positional argument allowed", []string{"extra"}, nil, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := NewFlags("x", "x — test")
			f.Int("n", 1, "n")
			var help bytes.Buffer
			f.SetOutputs(&help, &help)
			if tc.allow {
				f.AllowArgs()
			}
			err := f.Parse(tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tc.want)
			}
			if help.Len() > 0 {
				t.Errorf("a usage error printed %q; only --help prints the flags", help.String())
			}
		})
	}
	f := NewFlags("x", "x — test")
	var help bytes.Buffer
	f.SetOutputs(&help, &help)
	if err := f.Parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "x — test") {
		t.Errorf("--help: err %v, printed %q", err, help.String())
	}
}
