// Package browsertest drives a headless Chromium through the DevTools
// protocol for end-to-end tests of the pages Intake serves, and records
// what a user would not see but must not happen: uncaught exceptions,
// console errors, Content-Security-Policy violations, failed loads, and any
// request that leaves loopback.
//
// The browser is cut off from every network but loopback: host names other
// than 127.0.0.1 do not resolve, and everything not on loopback goes to a
// proxy that is not there. A page that loads completely so proves that it
// needs nothing from the internet.
//
// Chromium is found at INTAKE_CHROMIUM, /usr/bin/chromium or on PATH.
// Without it (or when it cannot start) the test is skipped, except with CI
// set, where it fails: .ci/run installs Chromium.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Width and Height are the browser window's size.
const Width, Height = 1280, 800

// Browser is one tab of a Chromium started for a test.
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx context.Context

	mu       sync.Mutex
	problems []string
	requests []string
}

// Path returns the Chromium to run, or "".
func Path() string {
	if p := os.Getenv("INTAKE_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// unavailable skips the test, or fails it under CI, where the browser
// tests must run.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("browser tests cannot run under CI: %s", msg)
	}
	t.Skipf("skipped: %s (apt-get install chromium, or set INTAKE_CHROMIUM; with CI set this fails)", msg)
}

// Start starts a Chromium with a fresh profile and opens a tab; both end
// with the test.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := Path()
	if path == "" {
		unavailable(t, "no Chromium found")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(Width, Height),
		chromedp.Flag("disable-quic", true),
		// Without these, Chromium keeps connecting to Google's services,
		// which the closed network refuses.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		// No network but loopback: names do not resolve, and what is not
		// for loopback (which Chromium never proxies) goes to a closed port.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.ProxyServer("http://127.0.0.1:9"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser and binds it to its context:
	// that must be ctx itself, not a context with a deadline of its own,
	// which would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		unavailable(t, "Chromium at %s does not start: %v", path, err)
	}
	b.Ctx = ctx
	return b
}

// listen runs in the tab's event loop: it only records.
func (b *Browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *runtime.EventConsoleAPICalled:
		if t := string(ev.Type); t == "error" || t == "assert" {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, strings.Trim(string(a.Value), `"`))
				}
			}
			b.problem("console.%s: %s", t, strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		// Failed loads, CSP violations ("security") and the like.
		if e := ev.Entry; e.Level == "error" || e.Source == "security" {
			b.problem("browser log (%s, %s): %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	case *network.EventRequestWillBeSent:
		b.request(ev.Request.URL)
	case *network.EventWebSocketCreated:
		b.request(ev.URL)
	}
}

func (b *Browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

func (b *Browser) request(raw string) {
	b.mu.Lock()
	if strings.HasPrefix(raw, "data:") && len(raw) > 40 {
		b.requests = append(b.requests, raw[:40]+"…") // the playground's fonts
	} else {
		b.requests = append(b.requests, raw)
	}
	b.mu.Unlock()
	if !Loopback(raw) {
		b.problem("a request left loopback: %s", raw)
	}
}

// Loopback reports whether a URL the page requested stays on this
// machine: 127.0.0.1, ::1 or localhost, or a data: or blob: URL, which
// fetch nothing.
func Loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob":
		return true
	case "http", "https", "ws", "wss":
		h := u.Hostname()
		return h == "127.0.0.1" || h == "::1" || h == "localhost"
	}
	return false
}

// Requests returns every URL the tab requested so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Problems returns what went wrong in the tab so far, and forgets it.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// Check fails the test for every problem recorded so far.
func (b *Browser) Check(t testing.TB) {
	t.Helper()
	for _, p := range b.Problems() {
		t.Errorf("in the browser: %s", p)
	}
}

// Do runs actions in the tab, failing the test (with what the browser
// recorded) on error. Each call is bounded by a minute.
func (b *Browser) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.Check(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page and returns its value.
func Eval[T any](t testing.TB, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Check(t)
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Wait waits until the JavaScript expression is truthy, for at most
// timeout, then fails the test saying what it waited for.
func (b *Browser) Wait(t testing.TB, what, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		// A page that was replaced while the poll ran (a navigation) took
		// the poll's JavaScript context with it: poll the new page.
		if gone := strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed"); gone && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b.Check(t)
		text, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, text)
	}
}

// Screenshot returns a PNG of the window.
func (b *Browser) Screenshot(t testing.TB) []byte {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}
