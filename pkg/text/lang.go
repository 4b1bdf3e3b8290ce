package text

import (
	"strconv"

	"golang.org/x/text/language"
)

// Lang is a language the catalogues hold: English (the default) or
// Simplified Chinese. Its value is the BCP 47 tag the API and the flags take.
type Lang string

// The languages of the catalogues.
const (
	English Lang = "en"
	Chinese Lang = "zh-CN"
)

// Langs lists the languages of the catalogues, English first.
func Langs() []Lang { return []Lang{English, Chinese} }

func (l Lang) tag() language.Tag {
	if l == Chinese {
		return language.SimplifiedChinese
	}
	return language.English
}

// String returns the tag, "en" or "zh-CN".
func (l Lang) String() string { return string(l) }

// matcher matches requested tags to the catalogues' languages, in the
// order of Langs.
var matcher = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})

// ParseLang parses a requested language: "en", "zh-CN", "zh", "zh-Hans",
// "en-US" and the like. Empty means English. A tag the catalogues cannot
// serve with confidence (zh-TW, fr) is an error.
func ParseLang(s string) (Lang, error) {
	if s == "" {
		return English, nil
	}
	t, err := language.Parse(s)
	if err != nil {
		return English, Wrap(err, "error.lang_tag", strconv.Quote(s))
	}
	_, i, conf := matcher.Match(t)
	if conf < language.High {
		return English, Errorf("error.lang_unsupported", strconv.Quote(s), "en, zh-CN")
	}
	return Langs()[i], nil
}

// MatchAcceptLanguage picks the language for an Accept-Language header;
// English when the header is empty, malformed or names nothing the
// catalogues serve.
func MatchAcceptLanguage(header string) Lang {
	if header == "" {
		return English
	}
	_, i := language.MatchStrings(matcher, header)
	return Langs()[i]
}
