package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/schema/schematype"
)

// fastRetry keeps retries quick; tests change single fields where needed.
var fastRetry = RetryPolicy{
	MaxAttempts:    3,
	BaseDelay:      time.Millisecond,
	MaxDelay:       5 * time.Millisecond,
	MaxRetryAfter:  3 * time.Second,
	AttemptTimeout: 5 * time.Second,
}

// received is one request as the test server saw it.
type received struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time
}

// handlerFunc answers attempt n (1-based) of the requests the server receives.
type handlerFunc func(w http.ResponseWriter, r *http.Request, n int)

type bundle struct {
	srv    *httptest.Server
	client *Client
	// stop is closed when the test ends, releasing blocked handlers.
	stop <-chan struct{}

	mu   sync.Mutex
	reqs []received
}

// requests returns a copy of what the server received so far.
func (b *bundle) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.reqs...)
}

// block waits until the client abandons r or the test ends.
func (b *bundle) block(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-b.stop:
	}
}

// setup starts a loopback server answering with h and a client for it whose
// base URL has the path prefix /api.
func setup(t *testing.T, h handlerFunc) *bundle {
	t.Helper()
	stop := make(chan struct{})
	b := &bundle{stop: stop}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, received{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, At: time.Now(),
		})
		n := len(b.reqs)
		b.mu.Unlock()
		h(w, r, n)
	}))
	// Cleanups run last-in first-out: release handlers, then close.
	t.Cleanup(b.srv.Close)
	t.Cleanup(func() { close(stop) })

	c, err := NewClient(schematype.ProviderZvoove, b.srv.URL+"/api", Options{Retry: fastRetry})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.ErrorMessage = providerMessage
	b.client = c
	return b
}

// providerMessage reads an error body shaped {"error":{"message":"..."}}.
func providerMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Message
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func providerError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, fmt.Sprintf(`{"error":{"message":%q}}`, msg))
}

// asError returns err as *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *connector.Error", err, err)
	}
	return e
}

func wantRequests(t *testing.T, b *bundle, n int) []received {
	t.Helper()
	reqs := b.requests()
	if len(reqs) != n {
		t.Fatalf("server received %d requests, want %d", len(reqs), n)
	}
	return reqs
}

// doAsync runs Do in a goroutine; the result arrives on the channel.
func doAsync(ctx context.Context, c *Client, req Request) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Do(ctx, req, &struct{}{}) }()
	return done
}

// waitDone is a liveness guard far above any expected duration.
func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Do did not return after its context was cancelled")
		return nil
	}
}

var get = Request{Method: http.MethodGet, Path: "/contacts", Retry: true}

func TestNewClient(t *testing.T) {
	t.Parallel()

	t.Run("refuses a bad base URL as a credential error", func(t *testing.T) {
		t.Parallel()
		_, err := NewClient(schematype.ProviderZvoove, "ftp://example.com", Options{})
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Key != "baseURL" {
			t.Fatalf("err = %v, want *CredentialError for baseURL", err)
		}
	})

	t.Run("fills defaults", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(schematype.ProviderHubSpot, "https://api.example.com/", Options{Retry: RetryPolicy{MaxAttempts: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Provider != schematype.ProviderHubSpot || c.BaseURL.String() != "https://api.example.com" {
			t.Errorf("provider %s, base URL %s", c.Provider, c.BaseURL)
		}
		if c.HTTP == nil || c.HTTP.Timeout != DefaultTimeout {
			t.Errorf("HTTP client %+v, want timeout %s", c.HTTP, DefaultTimeout)
		}
		if c.Logger == nil {
			t.Error("Logger is nil")
		}
		want := DefaultRetry
		want.MaxAttempts = 2
		if c.Retry != want {
			t.Errorf("Retry = %+v, want %+v", c.Retry, want)
		}
	})

	t.Run("keeps the given HTTP client", func(t *testing.T) {
		t.Parallel()
		hc := &http.Client{}
		c, err := NewClient(schematype.ProviderHubSpot, "https://api.example.com", Options{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTP != hc || c.Retry != DefaultRetry {
			t.Errorf("HTTP %p (want %p), Retry %+v", c.HTTP, hc, c.Retry)
		}
	})
}

func TestRequestOp(t *testing.T) {
	t.Parallel()
	r := Request{Method: "GET", Path: "/v1/people", Query: url.Values{"email": {"a@example.com"}}}
	if got := r.Op(); got != "GET /v1/people" {
		t.Errorf("Op() = %q", got)
	}
}

func TestClientDo(t *testing.T) {
	t.Parallel()

	t.Run("decodes a 2xx JSON response", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `{"id":"42","tags":["a","b"]}`)
		})
		var out struct {
			ID   string   `json:"id"`
			Tags []string `json:"tags"`
		}
		if err := b.client.Do(t.Context(), get, &out); err != nil {
			t.Fatal(err)
		}
		if out.ID != "42" || strings.Join(out.Tags, ",") != "a,b" {
			t.Errorf("out = %+v", out)
		}
		wantRequests(t, b, 1)
	})

	t.Run("sends method path query headers and body", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusCreated, `{}`)
		})
		req := Request{
			Method: http.MethodPost,
			Path:   "/contacts/42/notes",
			Query:  url.Values{"b": {"2"}, "a": {"1 x"}},
			Body:   map[string]any{"text": "hello", "n": 1},
			Header: http.Header{"Idempotency-Key": {"delivery-7:note"}, "X-Extra": {"v"}},
			Retry:  true,
		}
		if err := b.client.Do(t.Context(), req, nil); err != nil {
			t.Fatal(err)
		}
		got := wantRequests(t, b, 1)[0]
		if got.Method != http.MethodPost || got.Path != "/api/contacts/42/notes" || got.RawQuery != "a=1+x&b=2" {
			t.Errorf("request %s %s?%s", got.Method, got.Path, got.RawQuery)
		}
		for k, v := range map[string]string{
			"Idempotency-Key": "delivery-7:note",
			"X-Extra":         "v",
			"Accept":          "application/json",
			"Content-Type":    "application/json",
		} {
			if g := got.Header.Get(k); g != v {
				t.Errorf("header %s = %q, want %q", k, g, v)
			}
		}
		if string(got.Body) != `{"n":1,"text":"hello"}` {
			t.Errorf("body = %s", got.Body)
		}
	})

	t.Run("sends no content type without a body", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `{}`)
		})
		if err := b.client.Do(t.Context(), get, nil); err != nil {
			t.Fatal(err)
		}
		got := wantRequests(t, b, 1)[0]
		if ct := got.Header.Get("Content-Type"); ct != "" || len(got.Body) != 0 {
			t.Errorf("Content-Type %q, body %q", ct, got.Body)
		}
	})

	t.Run("treats 204 as success without decoding", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusNoContent)
		})
		out := map[string]any{"kept": true}
		if err := b.client.Do(t.Context(), Request{Method: http.MethodDelete, Path: "/x/1"}, &out); err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out["kept"] != true {
			t.Errorf("out = %v", out)
		}
	})

	t.Run("ignores the body when out is nil", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `not json`)
		})
		if err := b.client.Do(t.Context(), get, nil); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, b, 1)
	})

	t.Run("authorizes every attempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n < 3 {
				providerError(w, http.StatusInternalServerError, "boom")
				return
			}
			writeJSON(w, http.StatusOK, `{}`)
		})
		var calls int
		b.client.Authorize = func(ctx context.Context, r *http.Request) error {
			calls++
			r.Header.Set("Authorization", "Bearer token-"+strconv.Itoa(calls))
			return nil
		}
		if err := b.client.Do(t.Context(), get, nil); err != nil {
			t.Fatal(err)
		}
		reqs := wantRequests(t, b, 3)
		if calls != 3 {
			t.Errorf("Authorize called %d times, want 3", calls)
		}
		for i, r := range reqs {
			if got, want := r.Header.Get("Authorization"), "Bearer token-"+strconv.Itoa(i+1); got != want {
				t.Errorf("attempt %d: Authorization %q, want %q", i+1, got, want)
			}
		}
	})

	t.Run("returns an Authorize error without sending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `{}`)
		})
		errToken := errors.New("fetching token: refused")
		b.client.Authorize = func(context.Context, *http.Request) error { return errToken }
		if err := b.client.Do(t.Context(), get, nil); !errors.Is(err, errToken) {
			t.Fatalf("err = %v, want %v", err, errToken)
		}
		wantRequests(t, b, 0)
	})

	t.Run("returns an encoding error without sending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `{}`)
		})
		err := b.client.Do(t.Context(), Request{Method: http.MethodPost, Path: "/x", Body: make(chan int)}, nil)
		if err == nil || !strings.Contains(err.Error(), "encoding request") {
			t.Fatalf("err = %v, want an encoding error", err)
		}
		wantRequests(t, b, 0)
	})

	for _, status := range []int{
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusRequestTimeout, http.StatusTooManyRequests,
	} {
		t.Run(fmt.Sprintf("retries %d then succeeds", status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n < 3 {
					providerError(w, status, "try later")
					return
				}
				writeJSON(w, http.StatusOK, `{"ok":true}`)
			})
			req := Request{
				Method: http.MethodPost, Path: "/notes", Body: map[string]string{"text": "hi"},
				Header: http.Header{"Idempotency-Key": {"k1:note"}}, Retry: true,
			}
			var out struct{ OK bool }
			if err := b.client.Do(t.Context(), req, &out); err != nil {
				t.Fatal(err)
			}
			if !out.OK {
				t.Error("response not decoded")
			}
			for i, r := range wantRequests(t, b, 3) {
				if string(r.Body) != `{"text":"hi"}` || r.Header.Get("Idempotency-Key") != "k1:note" {
					t.Errorf("attempt %d: body %s, Idempotency-Key %q", i+1, r.Body, r.Header.Get("Idempotency-Key"))
				}
			}
		})
	}

	t.Run("reports the provider message when retries are exhausted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			providerError(w, http.StatusServiceUnavailable, "down for maintenance")
		})
		err := b.client.Do(t.Context(), get, nil)
		e := asError(t, err)
		if e.StatusCode != http.StatusServiceUnavailable || !e.Temporary || e.Message != "down for maintenance" ||
			e.Provider != schematype.ProviderZvoove || e.Op != "GET /contacts" {
			t.Errorf("error = %+v", e)
		}
		if want := "ZVOOVE: GET /contacts: HTTP 503: down for maintenance"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
		if !IsTemporary(err) {
			t.Error("IsTemporary = false")
		}
		wantRequests(t, b, fastRetry.MaxAttempts)
	})

	// A body the provider's ErrorMessage cannot read is described, never
	// quoted: it may be an internal service's answer, secrets included.
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		want        string
	}{
		{"does not quote a plain text body", "text/plain", "  INTERNAL-SECRET db-password=hunter2 \n", "no readable error message (text/plain)"},
		{"does not quote an HTML page", "text/html; charset=utf-8", "<html><body>INTERNAL-SECRET</body></html>", "no readable error message (text/html)"},
		{"does not quote JSON of another shape", "application/json", `{"secret":"INTERNAL-SECRET"}`, "no readable error message (application/json)"},
		{"does not quote binary", "application/octet-stream", "\x00\x01INTERNAL-SECRET\xff", "no readable error message (application/octet-stream)"},
		{"does not repeat an unknown content type", "application/x-INTERNAL-SECRET", "INTERNAL-SECRET", "no readable error message"},
		{"says the body was empty", "", "", "empty response"},
		{"bounds the provider's message", "application/json", fmt.Sprintf(`{"error":{"message":%q}}`, strings.Repeat("x", 600)), strings.Repeat("x", MaxMessage-1) + "…"},
		{"strips control characters from the provider's message", "application/json", `{"error":{"message":"bad\r\nlevel=ERROR msg=forged\u202e\u0000 request"}}`, "bad level=ERROR msg=forged request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tc.body)
			})
			err := b.client.Do(t.Context(), get, nil)
			if e := asError(t, err); e.Message != tc.want {
				t.Errorf("Message = %q, want %q", e.Message, tc.want)
			}
			if strings.Contains(err.Error(), "INTERNAL-SECRET") {
				t.Errorf("error %q quotes the body", err)
			}
		})
	}

	for _, status := range []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity,
	} {
		t.Run(fmt.Sprintf("does not retry %d", status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
				providerError(w, status, "no way")
			})
			e := asError(t, b.client.Do(t.Context(), get, nil))
			if e.StatusCode != status || e.Temporary || e.Message != "no way" {
				t.Errorf("error = %+v", e)
			}
			wantRequests(t, b, 1)
		})
	}

	t.Run("does not retry when Retry is false", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			providerError(w, http.StatusInternalServerError, "boom")
		})
		req := Request{Method: http.MethodPost, Path: "/notes", Body: map[string]string{"text": "hi"}}
		e := asError(t, b.client.Do(t.Context(), req, nil))
		if e.StatusCode != http.StatusInternalServerError || !e.Temporary {
			t.Errorf("error = %+v", e)
		}
		wantRequests(t, b, 1)
	})

	t.Run("waits for Retry-After seconds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				providerError(w, http.StatusTooManyRequests, "slow down")
				return
			}
			writeJSON(w, http.StatusOK, `{}`)
		})
		if err := b.client.Do(t.Context(), get, nil); err != nil {
			t.Fatal(err)
		}
		reqs := wantRequests(t, b, 2)
		if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
			t.Errorf("retried after %s, want at least the 1s of Retry-After", gap)
		}
	})

	t.Run("waits until a Retry-After date", func(t *testing.T) {
		t.Parallel()
		dates := make(chan time.Time, 1)
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				date := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Second)
				dates <- date
				w.Header().Set("Retry-After", date.Format(http.TimeFormat))
				providerError(w, http.StatusServiceUnavailable, "maintenance")
				return
			}
			writeJSON(w, http.StatusOK, `{}`)
		})
		if err := b.client.Do(t.Context(), get, nil); err != nil {
			t.Fatal(err)
		}
		reqs := wantRequests(t, b, 2)
		if date := <-dates; reqs[1].At.Before(date) {
			t.Errorf("retried at %s, before the Retry-After date %s", reqs[1].At.UTC(), date)
		}
	})

	t.Run("returns at once when Retry-After exceeds MaxRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "120")
			providerError(w, http.StatusTooManyRequests, "quota exhausted")
		})
		err := b.client.Do(t.Context(), get, nil)
		e := asError(t, err)
		if !e.Temporary || e.RetryAfter != 120*time.Second || e.StatusCode != http.StatusTooManyRequests {
			t.Errorf("error = %+v", e)
		}
		if d, ok := IsRateLimited(err); !ok || d != 120*time.Second {
			t.Errorf("IsRateLimited = %s, %v", d, ok)
		}
		wantRequests(t, b, 1)
	})

	t.Run("retries an attempt that times out", func(t *testing.T) {
		t.Parallel()
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				b.block(r)
				return
			}
			writeJSON(w, http.StatusOK, `{"ok":true}`)
		})
		b.client.Retry.AttemptTimeout = time.Second
		var out struct{ OK bool }
		if err := b.client.Do(t.Context(), get, &out); err != nil {
			t.Fatal(err)
		}
		if !out.OK {
			t.Error("response not decoded")
		}
		if n := len(b.requests()); n < 2 {
			t.Errorf("server received %d requests, want a retry after the timeout", n)
		}
	})

	t.Run("names the timeout when every attempt is slow", func(t *testing.T) {
		t.Parallel()
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) { b.block(r) })
		b.client.Retry.AttemptTimeout = 100 * time.Millisecond
		b.client.Retry.MaxAttempts = 2
		err := b.client.Do(t.Context(), get, nil)
		e := asError(t, err)
		if !e.Temporary || e.StatusCode != 0 || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error %q = %+v, want a temporary timeout", err, e)
		}
		if n := len(b.requests()); n > 2 {
			t.Errorf("server received %d requests, want at most MaxAttempts", n)
		}
	})

	t.Run("names the timeout when the body is slow", func(t *testing.T) {
		t.Parallel()
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"items":[`)
			w.(http.Flusher).Flush()
			b.block(r)
		})
		b.client.Retry.AttemptTimeout = 50 * time.Millisecond
		err := b.client.Do(t.Context(), Request{Method: http.MethodGet, Path: "/contacts"}, &struct{}{})
		e := asError(t, err)
		if !e.Temporary || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error %q = %+v, want a temporary timeout", err, e)
		}
	})

	t.Run("stops when the context is cancelled during a request", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			arrived <- struct{}{}
			b.block(r)
		})
		b.client.Retry.AttemptTimeout = time.Minute
		ctx, cancel := context.WithCancel(t.Context())
		done := doAsync(ctx, b.client, get)
		<-arrived
		cancel()
		err := waitDone(t, done)
		if !errors.Is(err, context.Canceled) || IsTemporary(err) {
			t.Errorf("err = %v (temporary %v), want context.Canceled, not temporary", err, IsTemporary(err))
		}
		wantRequests(t, b, 1)
	})

	t.Run("stops when the context is cancelled while reading the body", func(t *testing.T) {
		t.Parallel()
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"items":[`)
			w.(http.Flusher).Flush()
			b.block(r)
		})
		reading := make(chan struct{})
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		b.client.HTTP = &http.Client{Transport: signalRead{tr, reading}}
		b.client.Retry.AttemptTimeout = time.Minute
		ctx, cancel := context.WithCancel(t.Context())
		done := doAsync(ctx, b.client, Request{Method: http.MethodGet, Path: "/contacts"})
		<-reading
		cancel()
		err := waitDone(t, done)
		if !errors.Is(err, context.Canceled) || IsTemporary(err) {
			t.Errorf("err = %v (temporary %v), want context.Canceled, not temporary", err, IsTemporary(err))
		}
	})

	t.Run("stops when the context is cancelled during backoff", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			providerError(w, http.StatusInternalServerError, "boom")
			arrived <- struct{}{}
		})
		b.client.Retry.BaseDelay = time.Hour
		b.client.Retry.MaxDelay = time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		done := doAsync(ctx, b.client, get)
		<-arrived
		cancel()
		err := waitDone(t, done)
		if !errors.Is(err, context.Canceled) || IsTemporary(err) {
			t.Errorf("err = %v (temporary %v), want context.Canceled, not temporary", err, IsTemporary(err))
		}
		wantRequests(t, b, 1)
	})

	t.Run("retries malformed JSON then succeeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				writeJSON(w, http.StatusOK, `{"id":"4`)
				return
			}
			writeJSON(w, http.StatusOK, `{"id":"42"}`)
		})
		var out struct{ ID string }
		if err := b.client.Do(t.Context(), get, &out); err != nil {
			t.Fatal(err)
		}
		if out.ID != "42" {
			t.Errorf("ID = %q", out.ID)
		}
		wantRequests(t, b, 2)
	})

	t.Run("reports malformed JSON when it persists", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `<html>gateway</html>`)
		})
		err := b.client.Do(t.Context(), get, &struct{}{})
		e := asError(t, err)
		if !e.Temporary || e.StatusCode != http.StatusOK || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("error %q = %+v", err, e)
		}
		wantRequests(t, b, fastRetry.MaxAttempts)
	})

	t.Run("refuses a response larger than the limit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusOK)
			chunk := bytes.Repeat([]byte(" "), 1<<20)
			for written := 0; written <= maxResponseBytes; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		err := b.client.Do(t.Context(), get, &struct{}{})
		e := asError(t, err)
		if e.Temporary || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("error %q = %+v, want a permanent size error", err, e)
		}
		wantRequests(t, b, 1)
	})

	t.Run("reports connection refused as temporary", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, err := NewClient(schematype.ProviderZvoove, "http://"+addr, Options{Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(t.Context(), get, nil)
		e := asError(t, err)
		if !e.Temporary || e.StatusCode != 0 || !strings.Contains(err.Error(), "refused") {
			t.Errorf("error %q = %+v, want a temporary connection error", err, e)
		}
	})
}

// signalRead is a transport whose response bodies close reading on their
// first Read, that is once the response headers reached the caller.
type signalRead struct {
	http.RoundTripper
	reading chan struct{}
}

func (s signalRead) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &signalBody{ReadCloser: resp.Body, reading: s.reading}
	}
	return resp, err
}

type signalBody struct {
	io.ReadCloser
	reading chan struct{}
	once    sync.Once
}

func (b *signalBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	return b.ReadCloser.Read(p)
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestClientKeepsQueryOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	const secret = "jane.doe+s3cr3t@example.com"
	req := Request{Method: http.MethodGet, Path: "/search", Query: url.Values{"email": {secret}}, Retry: true}

	for _, tc := range []struct {
		name   string
		h      handlerFunc
		policy func(*RetryPolicy)
		cancel bool
	}{
		{name: "retries exhausted", h: func(w http.ResponseWriter, r *http.Request, n int) {
			providerError(w, http.StatusBadGateway, "bad gateway")
		}},
		{name: "not found", h: func(w http.ResponseWriter, r *http.Request, n int) {
			providerError(w, http.StatusNotFound, "no such contact")
		}},
		{name: "malformed JSON", h: func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, `{"results":[`)
		}},
		{name: "timeout", h: nil, policy: func(p *RetryPolicy) { p.AttemptTimeout = time.Second; p.MaxAttempts = 1 }},
		{name: "cancelled", h: nil, cancel: true, policy: func(p *RetryPolicy) { p.AttemptTimeout = time.Minute }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{}, 1)
			var b *bundle
			b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if tc.h != nil {
					tc.h(w, r, n)
					return
				}
				select {
				case arrived <- struct{}{}:
				default:
				}
				b.block(r)
			})
			var logs lockedBuffer
			b.client.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if tc.policy != nil {
				tc.policy(&b.client.Retry)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := doAsync(ctx, b.client, req)
			if tc.cancel {
				<-arrived
				cancel()
			}
			err := waitDone(t, done)
			if err == nil {
				t.Fatal("Do succeeded, want an error")
			}
			if reqs := b.requests(); len(reqs) == 0 || !strings.Contains(reqs[0].RawQuery, "s3cr3t") {
				t.Fatalf("server got %+v, the secret was not sent", reqs)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "email=") {
				t.Errorf("error leaks the query: %q", err)
			}
			if !strings.Contains(err.Error(), "ZVOOVE") || !strings.Contains(err.Error(), "GET /search") {
				t.Errorf("error %q does not name the provider and operation", err)
			}
			if l := logs.String(); strings.Contains(l, "s3cr3t") || strings.Contains(l, "email=") {
				t.Errorf("logs leak the query:\n%s", l)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 7 ", 7 * time.Second},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Tuesday, 04-Mar-25 10:02:00 GMT", 2 * time.Minute}, // RFC 850
		{"Tue Mar  4 10:00:30 2025", 30 * time.Second},       // ANSI C
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Format(http.TimeFormat), 0},
	} {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}

	// Values too large for a time.Duration must still read as a long wait
	// (so Do gives up at once), never wrap around to a short or negative one.
	for _, in := range []string{"18446744074", "9223372037", "99999999999999", "99999999999999999999"} {
		if got := ParseRetryAfter(in, now); got < 24*time.Hour {
			t.Errorf("ParseRetryAfter(%q) = %s, want a very long wait", in, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, p := range []RetryPolicy{
		{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		{BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second},
		{BaseDelay: time.Second, MaxDelay: time.Second},
		{BaseDelay: 3 * time.Nanosecond, MaxDelay: time.Hour},
		{BaseDelay: time.Minute, MaxDelay: time.Hour},
		{BaseDelay: 1<<34 + 1, MaxDelay: time.Hour}, // shifting left overflows int64
	} {
		for attempt := 1; attempt <= 70; attempt++ {
			d := expectedBackoff(p, attempt)
			var lo, hi time.Duration = p.MaxDelay, 0
			for range 200 {
				got := backoff(p, attempt)
				lo, hi = min(lo, got), max(hi, got)
			}
			if lo < d/2 || hi > d || hi > p.MaxDelay {
				t.Errorf("policy %+v attempt %d: backoff in [%s, %s], want within [%s, %s]", p, attempt, lo, hi, d/2, d)
				break
			}
		}
	}
}

// expectedBackoff is BaseDelay doubled per retry, capped at MaxDelay,
// without overflow.
func expectedBackoff(p RetryPolicy, attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://api.example.com":             "https://api.example.com",
		"https://api.example.com/":            "https://api.example.com",
		"http://127.0.0.1:8080/zvoove":        "http://127.0.0.1:8080/zvoove",
		"http://127.0.0.1:8080/zvoove///":     "http://127.0.0.1:8080/zvoove",
		"HTTPS://Tenant.Example.com/api/v1":   "https://Tenant.Example.com/api/v1",
		"http://[::1]:9000":                   "http://[::1]:9000",
		"https://tenant.example.com/api/v1/x": "https://tenant.example.com/api/v1/x",
	} {
		u, err := ParseBaseURL(in)
		if err != nil {
			t.Errorf("ParseBaseURL(%q): %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("ParseBaseURL(%q) = %q, want %q", in, u, want)
		}
	}

	for _, in := range []string{
		"",
		"/",
		"api.example.com",
		"localhost:8080",
		"//api.example.com",
		"ftp://api.example.com",
		"file:///etc/passwd",
		"mailto:a@example.com",
		"https://",
		"https:///path",
		"https://user:pass@api.example.com",
		"https://user@api.example.com",
		"https://api.example.com?key=1",
		"https://api.example.com/v1?x",
		"https://api.example.com#frag",
		"https://api.example.com/%zz",
		" https://api.example.com",
		"https://api.example.com/\n",
	} {
		_, err := ParseBaseURL(in)
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Key != "baseURL" {
			t.Errorf("ParseBaseURL(%q) err = %v, want *CredentialError for baseURL", in, err)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"  plain  ", "plain"},
		{"line one\nline two\r\n\tend", "line one line two end"},
		{"ansi \x1b[31mred\x1b[0m", "ansi [31mred [0m"},
		{"rtl \u202eevil\u200b!", "rtl evil !"},
		{"invalid \xff\xfe utf-8", "invalid utf-8"},
		{strings.Repeat("ä", MaxMessage), strings.Repeat("ä", MaxMessage)},
		{strings.Repeat("ä", MaxMessage+1), strings.Repeat("ä", MaxMessage-1) + "…"},
		{"", ""},
	} {
		got := CleanMessage(tc.in)
		if got != tc.want {
			t.Errorf("CleanMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > MaxMessage {
			t.Errorf("CleanMessage(%q) has %d characters", tc.in, n)
		}
	}
}

// TestClientEgress runs the client through an egress policy whose dialer
// connects to loopback only, and fails the test on any other address.
func TestClientEgress(t *testing.T) {
	t.Parallel()
	var d net.Dialer
	guard := func(t *testing.T) egress.DialFunc {
		return func(ctx context.Context, network, address string) (net.Conn, error) {
			if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().IsLoopback() {
				t.Errorf("dial to %s attempted", address)
				return nil, errors.New("not loopback")
			}
			return d.DialContext(ctx, network, address)
		}
	}
	// serve starts a loopback server counting its requests.
	serve := func(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv, &n
	}
	// client returns a client of srv whose policy allows exactly allowed.
	client := func(t *testing.T, srv *httptest.Server, allowed ...*httptest.Server) *Client {
		var allow egress.Allow
		for _, s := range allowed {
			r, err := egress.ParseRule(strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			allow = append(allow, r)
		}
		c, err := NewClient(schematype.ProviderTalention, srv.URL, Options{Retry: fastRetry, Egress: &egress.Policy{Allow: allow, Dial: guard(t)}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantRefused := func(t *testing.T, err error, says string) {
		t.Helper()
		e := asError(t, err)
		if e.Temporary || e.StatusCode != 0 || !strings.Contains(e.Message, says) {
			t.Fatalf("error %+v, want a permanent refusal saying %q", e, says)
		}
	}
	get := Request{Method: http.MethodGet, Path: "/jobs", Retry: true}

	t.Run("refuses loopback without dialing or retrying", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
		err := client(t, srv).Do(t.Context(), get, nil)
		wantRefused(t, err, "127.0.0.1 is a loopback address")
		if _, ok := egress.IsRefused(err); !ok {
			t.Errorf("error %v does not wrap the refusal", err)
		}
		if n.Load() != 0 {
			t.Errorf("the server received %d requests", n.Load())
		}
	})

	t.Run("reaches an allowed address", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
		if err := client(t, srv, srv).Do(t.Context(), get, nil); err != nil || n.Load() != 1 {
			t.Fatalf("error %v, %d requests", err, n.Load())
		}
	})

	t.Run("refuses a redirect to an address not allowed", func(t *testing.T) {
		t.Parallel()
		inner, innerN := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "INTERNAL-SECRET") })
		outer, outerN := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, inner.URL+"/metrics", http.StatusFound)
		})
		err := client(t, outer, outer).Do(t.Context(), get, nil)
		wantRefused(t, err, "loopback")
		if outerN.Load() != 1 || innerN.Load() != 0 {
			t.Errorf("requests: allowed server %d, redirect target %d; want 1 and 0", outerN.Load(), innerN.Load())
		}
	})

	t.Run("follows a bounded number of redirects", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) })
		err := client(t, srv, srv).Do(t.Context(), get, nil)
		wantRefused(t, err, "redirects")
		if n.Load() != maxRedirects {
			t.Errorf("%d requests, want %d", n.Load(), maxRedirects)
		}
	})

	t.Run("refuses a redirect to another scheme", func(t *testing.T) {
		t.Parallel()
		srv, n := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		})
		wantRefused(t, client(t, srv, srv).Do(t.Context(), get, nil), "non-http(s)")
		if n.Load() != 1 {
			t.Errorf("%d requests, want 1", n.Load())
		}
	})
}

// recordingLimiter grants every request and records how each ended.
type recordingLimiter struct {
	mu    sync.Mutex
	waits int
	ends  []string // "status search limit-header", one per ended request
}

func (l *recordingLimiter) Wait(_ context.Context, search bool) (func(int, http.Header), error) {
	l.mu.Lock()
	l.waits++
	l.mu.Unlock()
	return func(status int, h http.Header) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.ends = append(l.ends, fmt.Sprintf("%d %v %q", status, search, h.Get("X-Test-Limit")))
	}, nil
}

// Every attempt the limiter grants ends exactly once: with its answer's
// status and headers as soon as they arrive, or with 0 when it got no
// answer or was never sent.
func TestClientEndsEveryGrant(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test-Limit", "9")
		switch r.URL.Path {
		case "/flaky":
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		case "/hang":
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	open := func(l *recordingLimiter, authorize func(context.Context, *http.Request) error) *Client {
		c, err := NewClient(schematype.ProviderHubSpot, srv.URL, Options{HTTPClient: srv.Client(), Retry: fastRetry, Limiter: l})
		if err != nil {
			t.Fatal(err)
		}
		c.Authorize = authorize
		return c
	}
	for _, tc := range []struct {
		name      string
		req       Request
		authorize func(context.Context, *http.Request) error
		timeout   time.Duration
		want      []string
	}{
		{name: "answered", req: Request{Method: http.MethodPost, Path: "/search", Search: true}, want: []string{`200 true "9"`}},
		{name: "retried", req: Request{Method: http.MethodGet, Path: "/flaky", Retry: true}, want: []string{`503 false "9"`, `200 false "9"`}},
		{name: "no answer", req: Request{Method: http.MethodGet, Path: "/hang"}, timeout: 100 * time.Millisecond, want: []string{`0 false ""`}},
		{name: "never sent", req: Request{Method: http.MethodGet, Path: "/x"}, authorize: func(context.Context, *http.Request) error { return errors.New("no token") },
			want: []string{`0 false ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &recordingLimiter{}
			c := open(l, tc.authorize)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			_ = c.Do(ctx, tc.req, nil)
			if l.waits != len(tc.want) || fmt.Sprint(l.ends) != fmt.Sprint(tc.want) {
				t.Errorf("%d grants ended %q, want %q", l.waits, l.ends, tc.want)
			}
		})
	}
}
