package service

import (
	"bytes"
	"strings"
	"testing"

	"settlemon/pkg/text"
)

// TestParseErrorsInTheLanguageAsked: a flag set's mistakes print in the
// language of --lang or SETTLEMON_LANG, even when the mistake comes before
// --lang; the flag names and values stay as given.
func TestParseErrorsInTheLanguageAsked(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"unknown flag", []string{"--nope", "--lang", "zh-CN"}, "", "x: 未定义的参数：-nope\n运行 \"x --help\" 查看参数说明\n"},
		{"bad value", []string{"-lang=zh", "--n", "seven"}, "", "x: 参数 -n 的取值 \"seven\" 无效：parse error\n运行 \"x --help\" 查看参数说明\n"},
		{"argument", []string{"extra"}, "zh-CN", "x: 多余的参数 \"extra\"\n运行 \"x --help\" 查看参数说明\n"},
		{"English by default", []string{"--nope"}, "", "x: flag provided but not defined: -nope\nrun \"x --help\" for the flags\n"},
		{"--lang over the environment", []string{"--lang", "en", "--n", "x"}, "zh-CN", "x: invalid value \"x\" for flag -n: parse error\nrun \"x --help\" for the flags\n"},
		{"an unsupported language reads English", []string{"--lang", "fr", "--nope"}, "", "x: flag provided but not defined: -nope\nrun \"x --help\" for the flags\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(LangEnv, tc.env)
			f := NewFlags("x", "x")
			f.Int("n", 0, "n")
			var b bytes.Buffer
			if code := NewExit("x", tc.args).codeTo(&b, f.Parse(tc.args)); code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if b.String() != tc.want {
				t.Errorf("printed %q, want %q", b.String(), tc.want)
			}
		})
	}
	// A value's own catalogue error is rendered too, not only its English text.
	t.Setenv(LangEnv, "zh-CN")
	f := NewFlags("x", "x")
	f.Func("trace", "a trace", func(string) error { return text.Errorf("error.explain.no_trace") })
	var b bytes.Buffer
	args := []string{"--trace", "?"}
	NewExit("x", args).codeTo(&b, f.Parse(args))
	if want := "x: 参数 -trace 的取值 \"?\" 无效：缺少交易流水号\n"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("printed %q, want %q first", b.String(), want)
	}
	t.Setenv(LangEnv, "")
	f = NewFlags("x", "x")
	args = []string{"--lang", "zh"}
	if err := f.Parse(args); err != nil || f.Lang() != text.Chinese || NewExit("x", args).Lang != text.Chinese {
		t.Errorf("--lang zh: %v, Lang %q, the errors' language %q", err, f.Lang(), NewExit("x", args).Lang)
	}
	err := f.Parse([]string{"--lang", "ja"})
	if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), `--lang: language "ja": want one of en, zh-CN`) {
		t.Errorf("--lang ja: %v", err)
	}
}
