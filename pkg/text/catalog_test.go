package text

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// englishRun finds two English words in a row: an untranslated sentence.
// Identifiers (payout_paid, T1, MCC 5812) are single tokens and pass.
var englishRun = regexp.MustCompile(`(?i)\b[a-z]{2,}\b[ ,;:]+\b[a-z]{2,}\b`)

func englishWords(s string) string { return englishRun.FindString(s) }

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestCataloguesHaveTheSameKeys fails on a message id one catalogue holds
// and the other lacks, and on a message whose verbs differ between them.
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	en, zh := Messages(English), Messages(Chinese)
	if len(en) == 0 {
		t.Fatal("the English catalogue is empty")
	}
	count := argCount
	for _, l := range []struct {
		name      string
		a, b      map[string]string
		otherName string
	}{{"en", en, zh, "zh-CN"}, {"zh-CN", zh, en, "en"}} {
		for k, v := range l.a {
			w, ok := l.b[k]
			if !ok {
				t.Errorf("message %q is in %s only, not in %s", k, l.name, l.otherName)
				continue
			}
			if count(v) != count(w) {
				t.Errorf("message %q takes %d arguments in %s, %d in %s", k, count(v), l.name, count(w), l.otherName)
			}
		}
	}
}

// TestEveryMessageRenders renders every message in both languages with
// placeholder arguments: no message is missing, none renders a format
// error, and every Chinese message but the pure identifiers is Chinese.
func TestEveryMessageRenders(t *testing.T) {
	en := Messages(English)
	for _, l := range Langs() {
		p := NewPrinter(l, shanghai)
		for k, v := range Messages(l) {
			args := []string{"A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"}[:argCount(en[k])]
			got := p.S(k, args...)
			if strings.Contains(got, "%!") {
				t.Errorf("%s %q renders %q", l, k, got)
			}
			if got == k {
				t.Errorf("%s %q renders its own id: missing", l, k)
			}
			if l == Chinese && strings.TrimFunc(v, func(r rune) bool { return r < 128 }) == "" && !identityInChinese(k) {
				t.Errorf("zh-CN %q = %q is not Chinese", k, v)
			}
			if l == Chinese {
				if w := englishWords(got); w != "" {
					t.Errorf("zh-CN %q = %q keeps English %q", k, got, w)
				}
			}
		}
	}
}

// identityInChinese are the messages that stay ASCII in Chinese: numbers'
// layouts, separators and identifiers.
func identityInChinese(k string) bool {
	switch k {
	case "stage.mcc", "explain.overdue.by", "duration.days_hours", "report.col.p50", "report.col.p95", "report.col.p99":
		return true
	}
	return false
}

// TestEnglishMatchesTheFacts: the English causes, actions and failure
// texts are the words the joiner stores (package fact), so an explanation
// reads the same whether its sentence came from the store or the catalogue.
func TestEnglishMatchesTheFacts(t *testing.T) {
	p := NewPrinter(English, nil)
	for _, k := range fact.Kinds() {
		tx, _ := fact.Describe(k)
		if got := p.Cause(k); got != tx.Cause {
			t.Errorf("cause of %s = %q, fact says %q", k, got, tx.Cause)
		}
		if got := p.Action(k); got != tx.Action {
			t.Errorf("action of %s = %q, fact says %q", k, got, tx.Action)
		}
		if got := p.KindName(k); got != string(k) {
			t.Errorf("English name of %s = %q", k, got)
		}
	}
	for _, r := range []fact.PayoutFailure{fact.AccountInvalid, fact.NameMismatch, fact.AccountFrozen, fact.AccountClosed,
		fact.LimitExceeded, fact.RiskRestricted, fact.OtherFailure, "no_such_reason"} {
		if got := p.FailureAction(r); got != r.Action() {
			t.Errorf("failure %s = %q, fact says %q", r, got, r.Action())
		}
	}
	if got, want := p.S("failure.other"), "payout returned — "+p.S("failure.other.action"); got != want {
		t.Errorf("failure.other = %q, want %q", got, want)
	}
}

// TestEveryKeyIsUsed fails on a catalogue message no Go source of the
// module names: a literal id (a report column's id may end in ">", its
// right alignment), or a literal prefix ending in "." that an id is built
// from ("cause." + kind).
func TestEveryKeyIsUsed(t *testing.T) {
	lits := map[string]bool{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				if s, err := strconv.Unquote(b.Value); err == nil {
					lits[strings.TrimSuffix(s, ">")] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var unused []string
	for k := range Messages(English) {
		if lits[k] {
			continue
		}
		used := false
		for i := strings.LastIndexByte(k, '.'); i > 0 && !used; i = strings.LastIndexByte(k[:i], '.') {
			used = lits[k[:i+1]]
		}
		if !used {
			unused = append(unused, k)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("catalogue messages no source names: %v", unused)
	}
}

var verbs = regexp.MustCompile(`%(\[\d+\])?[a-z]`)

// argCount is how many arguments a format string takes.
func argCount(s string) int {
	n, max := 0, 0
	for _, m := range verbs.FindAllStringSubmatch(s, -1) {
		if m[1] != "" {
			i, _ := strconv.Atoi(strings.Trim(m[1], "[]"))
			max = maxInt(max, i)
		} else {
			n++
		}
	}
	return maxInt(n, max)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func TestLang(t *testing.T) {
	for in, want := range map[string]Lang{
		"": English, "en": English, "en-US": English, "EN": English,
		"zh": Chinese, "zh-CN": Chinese, "zh-cn": Chinese, "zh-Hans": Chinese, "zh-Hans-CN": Chinese,
	} {
		if got, err := ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"fr", "zh-TW", "x?", "klingon-"} {
		if got, err := ParseLang(in); err == nil {
			t.Errorf("ParseLang(%q) = %q, want an error", in, got)
		}
	}
	for in, want := range map[string]Lang{
		"": English, "zh-CN,zh;q=0.9,en;q=0.8": Chinese, "zh": Chinese, "en-US,en;q=0.9": English,
		"fr-FR, zh;q=0.5": Chinese, "fr": English, "de, en;q=0.1, zh-CN;q=0.9": Chinese, "garbage;;": English,
		"zh-TW": Chinese, // negotiation: Simplified serves a Traditional reader better than English
	} {
		if got := MatchAcceptLanguage(in); got != want {
			t.Errorf("MatchAcceptLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMoneyAndTime(t *testing.T) {
	en, zh := NewPrinter(English, shanghai), NewPrinter(Chinese, shanghai)
	for fen, want := range map[int64][2]string{
		128800: {"1288.00", "¥1,288.00"}, 5: {"0.05", "¥0.05"}, -123456789: {"-1234567.89", "-¥1,234,567.89"}, 0: {"0.00", "¥0.00"},
	} {
		if got := en.Money(fen); got != want[0] {
			t.Errorf("en Money(%d) = %q, want %q", fen, got, want[0])
		}
		if got := zh.Money(fen); got != want[1] {
			t.Errorf("zh Money(%d) = %q, want %q", fen, got, want[1])
		}
	}
	if got := zh.MoneySigned(-50); got != "-¥0.50" {
		t.Errorf("zh MoneySigned(-50) = %q", got)
	}
	if got := zh.MoneySigned(50); got != "+¥0.50" {
		t.Errorf("zh MoneySigned(50) = %q", got)
	}
	at := ms(t, "2026-02-24 18:00")
	for _, c := range []struct{ got, want string }{
		{en.Time(at), "Tue 2026-02-24 18:00"},
		{zh.Time(at), "2026年2月24日（周二）18:00"},
		{zh.Time(at + 7000), "2026年2月24日（周二）18:00:07"},
		{en.Instant(at), "Tue 2026-02-24 18:00 +08:00"},
		{zh.Instant(at), "2026年2月24日（周二）18:00"},
		{zh.Duration(51 * 3_600_000), "2天3小时"},
		{zh.Duration(65 * 60_000), "1小时5分钟"},
		{zh.Duration(30_000), "30秒"},
		{zh.Span(95*time.Second + 120*time.Millisecond), "1分钟35秒"},
		{zh.Span(24 * time.Hour), "24小时"},
		{zh.Span(15*time.Hour + 30*time.Minute), "15小时30分钟"},
		{zh.Span(0), "0秒"},
		{en.Span(24 * time.Hour), "24h0m0s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestDue pins the sentence that explains a payout deadline, in both
// languages.
func TestDue(t *testing.T) {
	cal, err := calendar.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := calendar.NewSchedule(calendar.DefaultScheduleConfig(), cal)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode   event.Mode
		auth   string
		en, zh string
	}{
		{event.T1, "2026-02-15 10:00", "T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23)",
			"T1 结算：预计 2026年2月24日（周二）18:00 前到账（春节假期 2月15日至2月23日顺延）"},
		{event.T1, "2026-02-13 10:00", "T1 payout due Sat 2026-02-14 18:00 (a weekend working day)",
			"T1 结算：预计 2026年2月14日（周六）18:00 前到账（该日为调休上班日）"},
		{event.T1, "2026-03-06 10:00", "T1 payout due Mon 2026-03-09 18:00", "T1 结算：预计 2026年3月9日（周一）18:00 前到账"},
		{event.T1, "2026-09-30 10:00", "T1 payout due Thu 2026-10-08 18:00 (National Day 10-01..10-07)",
			"T1 结算：预计 2026年10月8日（周四）18:00 前到账（国庆节假期 10月1日至10月7日顺延）"},
		{event.T1, "2026-09-24 10:00", "T1 payout due Mon 2026-09-28 18:00 (Mid-Autumn 09-25..09-27)",
			"T1 结算：预计 2026年9月28日（周一）18:00 前到账（中秋节假期 9月25日至9月27日顺延）"},
		{event.T1, "2025-12-31 10:00", "T1 payout due Sun 2026-01-04 18:00 (New Year 01-01..01-03; a weekend working day)",
			"T1 结算：预计 2026年1月4日（周日）18:00 前到账（元旦假期 1月1日至1月3日顺延；该日为调休上班日）"},
		{event.T1, "2027-01-08 10:00", "T1 payout due Mon 2027-01-11 18:00 (calendar lacks 2027: weekends only)",
			"T1 结算：预计 2027年1月11日（周一）18:00 前到账（日历缺少 2027 年数据，仅按周末计算）"},
		{event.ModeUnknown, "2026-02-13 10:00", "T1 payout due Sat 2026-02-14 18:00 (settlement mode unknown: assumed T1; a weekend working day)",
			"T1 结算：预计 2026年2月14日（周六）18:00 前到账（结算周期未知，按 T1 计算；该日为调休上班日）"},
		{event.D1, "2026-02-16 10:00", "D1 payout due Tue 2026-02-17 18:00 (calendar day: Spring Festival 02-15..02-23 does not delay D1)",
			"D1 结算：预计 2026年2月17日（周二）18:00 前到账（D1 按自然日计算，春节假期 2月15日至2月23日不顺延）"},
		{event.D1, "2026-03-06 10:00", "D1 payout due Sat 2026-03-07 18:00", "D1 结算：预计 2026年3月7日（周六）18:00 前到账"},
		{event.D0, "2026-02-13 22:00", "D0 payout due Sat 2026-02-14 02:00 (4h after the sale)",
			"D0 结算：预计 2026年2月14日（周六）02:00 前到账（交易后 4小时 内）"},
		{event.T0, "2026-02-13 10:00:07", "T0 payout due Fri 2026-02-13 10:30:07 (30m after the sale)",
			"T0 结算：预计 2026年2月13日（周五）10:30:07 前到账（交易后 30分钟 内）"},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+" "+tt.auth, func(t *testing.T) {
			auth := ms(t, tt.auth[:16])
			if len(tt.auth) > 16 {
				sec, _ := strconv.Atoi(tt.auth[17:])
				auth += int64(sec) * 1000
			}
			d := s.Due(tt.mode, auth)
			if got := NewPrinter(English, cal.Location()).Due(d); got != tt.en {
				t.Errorf("en Due =\n  %q\nwant\n  %q", got, tt.en)
			}
			if got := NewPrinter(Chinese, cal.Location()).Due(d); got != tt.zh {
				t.Errorf("zh-CN Due =\n  %q\nwant\n  %q", got, tt.zh)
			}
		})
	}
}
