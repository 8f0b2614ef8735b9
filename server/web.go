package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/intake/intake/web"
)

// The playground and the console are static files embedded from web/dist,
// served with a Content-Security-Policy that lets them reach only this
// server: a page that is compromised, or a package of the bundle that
// misbehaves, can load and send nothing elsewhere.

// contentSecurityPolicy is the policy of the pages and their assets.
// Fonts and icons of the playground's stylesheet are data: URLs, which
// fetch nothing. connect-src names the websocket of the page's own host
// besides 'self', for browsers that do not count ws: and wss: as 'self'.
// No 'unsafe-inline' and no 'unsafe-eval': the pages have no inline
// script, and set styles through the CSSOM, which CSP does not restrict.
// The one exception, the <style> element GraphiQL's dialogs add while
// open, carries the page's nonce (nonce != ""), which style-src allows:
// its content depends on the scrollbar's width, so no hash would fit.
func contentSecurityPolicy(host, nonce string) string {
	connect := "'self'"
	if cspHost.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	style := "'self'"
	if nonce != "" {
		style += " 'nonce-" + nonce + "'"
	}
	return "default-src 'self'; script-src 'self'; style-src " + style + "; img-src 'self' data:; font-src 'self' data:; " +
		"connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// noncePlaceholder is what a page holds where its nonce goes
// (<meta name="csp-nonce" content="CSP-NONCE">).
var noncePlaceholder = []byte(`content="CSP-NONCE"`)

// cspHost is a Host header that may be written into the policy as it is.
var cspHost = regexp.MustCompile(`^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// webHeaders sets the headers of every page and asset.
func webHeaders(w http.ResponseWriter, r *http.Request, nonce string) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy(r.Host, nonce))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidated on every load (cheap: the ETag is the file's hash), so
	// a new binary's assets are picked up at once.
	h.Set("Cache-Control", "no-cache")
}

// webFile is one embedded file, read once.
type webFile struct {
	name, etag, contentType string
	body                    []byte
}

// webFiles are the files of web/dist that the manifest lists, by name.
// A file missing from the manifest, or one whose hash differs, is not
// served: web/web_test.go keeps them in agreement.
var webFiles = func() map[string]*webFile {
	manifest, err := web.Manifest()
	if err != nil {
		panic("web: " + err.Error())
	}
	out := make(map[string]*webFile, len(manifest))
	for name, sum := range manifest {
		b, err := fs.ReadFile(web.Files(), name)
		if err != nil {
			panic("web: " + err.Error())
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" || strings.HasSuffix(name, ".txt") {
			ct = "text/plain; charset=utf-8"
		}
		out[name] = &webFile{name: name, etag: `"` + sum[:32] + `"`, contentType: ct, body: b}
	}
	return out
}()

func serveWebFile(w http.ResponseWriter, r *http.Request, f *webFile) {
	webHeaders(w, r, "")
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// pageHandler serves one of the HTML pages.
func pageHandler(name string) http.Handler {
	f := webFiles[name]
	if f == nil {
		panic("web: no page " + name)
	}
	if !bytes.Contains(f.body, noncePlaceholder) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveWebFile(w, r, f) })
	}
	// A new nonce for every response: one an attacker could learn from an
	// earlier response would let their styles in.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 18)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		nonce := base64.StdEncoding.EncodeToString(b)
		webHeaders(w, r, nonce)
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(bytes.Replace(f.body, noncePlaceholder, []byte(`content="`+nonce+`"`), 1))
	})
}

// assetsHandler serves /assets/{file}: the scripts and stylesheets the
// pages load, and the license texts of what the bundles contain.
func assetsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		f := webFiles[name]
		if f == nil || strings.HasSuffix(name, ".html") {
			http.NotFound(w, r)
			return
		}
		serveWebFile(w, r, f)
	})
}
