package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"settlemon/pkg/text"
)

// web holds the page: one HTML file, its script, style sheet and icon,
// written by hand (no build step, no CDN, no external fonts).
//
//go:embed web
var web embed.FS

// contentSecurityPolicy lets the page load only its own assets and call only
// its own API: no inline script or style, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// pageMessages is the prefix of the page's messages in the catalogues:
// index.html names them ({{t "page.…"}}), the script gets them all.
const pageMessages = "page."

// page serves index.html at "/", rendered in the language asked for:
// ?lang=, else Accept-Language, else English. The labels come from the
// catalogues (package text); the script's own messages ride along in the
// body's data-messages, so the page holds no second dictionary.
func (c *Console) page() http.Handler {
	src, err := web.ReadFile("web/index.html")
	if err != nil {
		panic("console: the embedded page lacks index.html: " + err.Error()) // a build defect
	}
	pages := make(map[text.Lang][]byte)
	for _, l := range text.Langs() {
		p := text.NewPrinter(l, c.loc)
		tmpl, err := template.New("index").Funcs(template.FuncMap{"t": func(id string) string { return p.S(id) }}).Parse(string(src))
		if err != nil {
			panic("console: index.html: " + err.Error()) // a build defect
		}
		msgs := make(map[string]string)
		for k, v := range text.Messages(l) {
			if strings.HasPrefix(k, pageMessages) {
				msgs[k] = v
			}
		}
		js, err := json.Marshal(msgs)
		if err != nil {
			panic("console: the page's messages: " + err.Error())
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, struct{ Lang, Messages string }{l.String(), string(js)}); err != nil {
			panic("console: index.html: " + err.Error())
		}
		pages[l] = b.Bytes()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := text.MatchAcceptLanguage(r.Header.Get("Accept-Language"))
		if l, err := text.ParseLang(r.URL.Query().Get("lang")); err == nil && r.URL.Query().Has("lang") {
			lang = l // a language the page lacks falls back to the header
		}
		pageHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", lang.String())
		w.Header().Add("Vary", "Accept-Language")
		_, _ = w.Write(pages[lang])
	})
}

// assets serves the page's script, style sheet and icon under /assets/.
func (c *Console) assets() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic("console: " + err.Error())
	}
	files := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		files.ServeHTTP(w, r)
	})
}
