package console

import (
	"embed"
	"io/fs"
	"net/http"
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

// page serves index.html at "/".
func (c *Console) page() http.Handler {
	index, err := web.ReadFile("web/index.html")
	if err != nil {
		panic("console: the embedded page lacks index.html: " + err.Error()) // a build defect
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		pageHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
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
