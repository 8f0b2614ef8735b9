package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/server"
	"github.com/intake/intake/web"
)

// What the playground and the console are served with, without a browser
// (server/browser_test.go drives them in one).

func webGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// localRef is a src or href of the pages: every one must be on the
// server (a relative path) or a data: URL.
var localRef = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestPlaygroundAndConsoleServed(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t, dbtest.Open(t, dialect.SQLite))
	manifest, err := web.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, title, script string }{
		{"/", "<title>Intake playground</title>", `src="assets/playground.js"`},
		{"/console", "<title>Intake console</title>", `src="assets/console.js"`},
	} {
		resp, body := webGet(t, app.URL+tc.path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, tc.title) || !strings.Contains(body, tc.script) {
			t.Fatalf("GET %s: %d %s\n%s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		host := strings.TrimPrefix(app.URL, "http://")
		for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self'", "connect-src 'self' ws://" + host + " wss://" + host + ";", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: the policy %q lacks %q", tc.path, csp, want)
			}
		}
		if tc.path == "/" {
			// GraphiQL's dialogs' <style>, by a nonce new in every answer.
			m := regexp.MustCompile(`<meta name="csp-nonce" content="([A-Za-z0-9+/=]{24})">`).FindStringSubmatch(body)
			if m == nil || !strings.Contains(csp, "style-src 'self' 'nonce-"+m[1]+"';") {
				t.Errorf("GET /: the page's nonce %q is not the policy's: %q", m, csp)
			}
			if _, again := webGet(t, app.URL+"/"); m != nil && strings.Contains(again, m[1]) {
				t.Error("GET /: the same nonce twice")
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: the policy allows %q", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("GET %s: inline script or style", tc.path)
		}
		for _, m := range localRef.FindAllStringSubmatch(body, -1) {
			if ref := m[1]; strings.Contains(ref, "//") || (strings.Contains(ref, ":") && !strings.HasPrefix(ref, "data:")) {
				t.Errorf("GET %s: %q is not on the server", tc.path, ref)
			}
		}
	}

	// Every asset, with its type and its hash as ETag; a second request
	// with that ETag is answered 304.
	for name, sum := range manifest {
		if strings.HasSuffix(name, ".html") {
			continue
		}
		resp, body := webGet(t, app.URL+"/assets/"+name)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"`+sum[:32]+`"` || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET /assets/%s: %d, ETag %s", name, resp.StatusCode, resp.Header.Get("ETag"))
		}
		want := map[string]string{".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
		for ext, ct := range want {
			if strings.HasSuffix(name, ext) && !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) {
				t.Errorf("GET /assets/%s: Content-Type %s", name, resp.Header.Get("Content-Type"))
			}
		}
		if len(body) == 0 && !strings.HasSuffix(name, ".txt") {
			t.Errorf("GET /assets/%s: empty", name)
		}
		req, _ := http.NewRequest(http.MethodGet, app.URL+"/assets/"+name, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET /assets/%s with its ETag: %d, want 304", name, again.StatusCode)
		}
	}
	for _, path := range []string{"/assets/nothing.js", "/assets/console.html", "/assets/" + web.ManifestName + "x", "/assets/../go.mod"} {
		if resp, _ := webGet(t, app.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestConsoleWithoutIntrospection: the playground needs introspection and
// goes with it; the console does not, and stays.
func TestConsoleWithoutIntrospection(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t, dbtest.Open(t, dialect.SQLite), func(c *server.Config) { c.Introspection = false })
	if resp, _ := webGet(t, app.URL+"/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / without introspection: %d, want 404", resp.StatusCode)
	}
	if resp, body := webGet(t, app.URL+"/console"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Intake console") {
		t.Errorf("GET /console without introspection: %d", resp.StatusCode)
	}
}
