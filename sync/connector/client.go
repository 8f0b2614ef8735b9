package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/schema/schematype"
)

// RetryPolicy bounds the retries of one request.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included.
	MaxAttempts int
	// BaseDelay is the first backoff; each retry doubles it, with full
	// jitter, up to MaxDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest Retry-After waited for in place; a longer
	// one ends the request with a temporary *Error carrying RetryAfter.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt, response body included.
	AttemptTimeout time.Duration
}

// DefaultRetry is the policy of production connectors.
var DefaultRetry = RetryPolicy{
	MaxAttempts:    5,
	BaseDelay:      500 * time.Millisecond,
	MaxDelay:       30 * time.Second,
	MaxRetryAfter:  60 * time.Second,
	AttemptTimeout: 30 * time.Second,
}

// DefaultTimeout bounds a whole request when Options.HTTPClient is nil.
const DefaultTimeout = 5 * time.Minute

// transport is shared by every client without Options.HTTPClient and
// Options.Egress, so that connections to a provider are reused across
// integrations and jobs. Its idle pool per host is sized for many
// deliveries to one provider at once: http.DefaultTransport keeps two, and
// every other request would open a new connection.
var transport = newTransport(nil)

// policyTransports holds the shared transport of each egress policy
// (*egress.Policy -> *http.Transport). A process has one policy, so this
// holds one transport; tests hold one per app they start.
var policyTransports sync.Map

func newTransport(policy *egress.Policy) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	if policy != nil {
		t.DialContext = policy.DialContext
		// Through a proxy, the connection would go to the proxy and the
		// policy would check the proxy's address, not the destination's.
		t.Proxy = nil
	}
	return t
}

// transportFor returns the shared transport that dials through policy.
func transportFor(policy *egress.Policy) *http.Transport {
	if policy == nil {
		return transport
	}
	if t, ok := policyTransports.Load(policy); ok {
		return t.(*http.Transport)
	}
	t, _ := policyTransports.LoadOrStore(policy, newTransport(policy))
	return t.(*http.Transport)
}

// NewHTTPClient returns an HTTP client for other outbound requests made on
// a tenant's behalf (such as screening): it shares the connectors'
// transport that dials through policy, and their redirect rules. It sets
// no timeout; bound each request with its context.
func NewHTTPClient(policy *egress.Policy) *http.Client {
	return &http.Client{Transport: transportFor(policy), CheckRedirect: checkRedirect}
}

// maxRedirects bounds the redirects one request follows.
const maxRedirects = 5

// redirectError is a redirect the client refuses to follow.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect bounds redirects and keeps them on http(s). Where a
// redirect leads is checked like any other destination: a new connection
// is dialed through the egress policy.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return &redirectError{fmt.Sprintf("stopped after %d redirects", maxRedirects)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &redirectError{"refused a redirect to a non-http(s) URL"}
	}
	return nil
}

// maxResponseBytes bounds a response body read into memory.
const maxResponseBytes = 32 << 20

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetry.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetry.MaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultRetry.MaxRetryAfter
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = DefaultRetry.AttemptTimeout
	}
	return p
}

// Client is the JSON-over-HTTP client every connector builds on: it joins
// paths to the base URL, authorises, retries temporary failures with
// backoff (honouring Retry-After), bounds time and response size, and turns
// failures into *Error. It never logs credentials, query strings or bodies.
type Client struct {
	Provider schematype.ProviderKey
	BaseURL  *url.URL
	HTTP     *http.Client
	Retry    RetryPolicy
	Logger   *slog.Logger
	// Authorize adds authentication to each attempt's request.
	Authorize func(ctx context.Context, r *http.Request) error
	// ErrorMessage extracts the provider's message from the documented
	// fields of an error body, or returns "" for a body of another shape.
	// The client bounds and cleans what it returns (see CleanMessage); a
	// body it cannot read is never quoted, only described.
	ErrorMessage func(body []byte) string
	// Limiter paces the attempts (nil: none); see Options.Limiter.
	Limiter Limiter
}

// NewClient returns a client for provider at baseURL, which must be an
// absolute http(s) URL; a bad one is a *CredentialError for "baseURL".
func NewClient(provider schematype.ProviderKey, baseURL string, opts Options) (*Client, error) {
	u, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout, Transport: transportFor(opts.Egress), CheckRedirect: checkRedirect}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{Provider: provider, BaseURL: u, HTTP: hc, Retry: opts.Retry.withDefaults(), Logger: logger, Limiter: opts.Limiter}, nil
}

// ParseBaseURL validates the baseURL credential.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, &CredentialError{Key: "baseURL", Message: "must be an absolute http(s) URL without credentials, query or fragment"}
	}
	return u, nil
}

// Request is one API call.
type Request struct {
	Method string
	Path   string // joined to the base URL's path
	Query  url.Values
	Body   any // JSON-encoded when non-nil
	Header http.Header
	// Retry allows retrying after a temporary failure: set it for reads,
	// for writes that are idempotent by nature (a PUT or PATCH of a value),
	// and for creates that set Recheck.
	Retry bool
	// Recheck, for a create that the external system does not
	// de-duplicate, looks for the create's own earlier effect. It is called
	// before each retry whose previous attempt may have taken effect (the
	// answer was lost, a 5xx, a garbled 2xx); found ends the request as a
	// success without sending it again (out is then left as it is).
	Recheck func(ctx context.Context) (found bool, err error)
	// Search marks a request that counts against the provider's limit of
	// searches (HubSpot's CRM search endpoints) as well as its general one.
	Search bool
}

// Op names the request in errors and logs (method and path, no query).
func (r Request) Op() string { return r.Method + " " + r.Path }

// Do sends req and decodes a 2xx JSON response into out (unless out is nil).
func (c *Client) Do(ctx context.Context, req Request, out any) error {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = json.Marshal(req.Body); err != nil {
			return fmt.Errorf("%s: %s: encoding request: %w", c.Provider, req.Op(), err)
		}
	}
	policy := c.Retry.withDefaults()
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, req, body, out, policy.AttemptTimeout)
		if err == nil {
			return nil
		}
		var e *Error
		if !errors.As(err, &e) || !e.Temporary || !req.Retry || attempt >= policy.MaxAttempts {
			return err
		}
		wait := backoff(policy, attempt)
		if e.RetryAfter > 0 {
			if e.RetryAfter > policy.MaxRetryAfter {
				return err
			}
			wait = e.RetryAfter
		}
		if req.Recheck != nil && e.mayHaveTakenEffect() {
			found, rerr := req.Recheck(ctx)
			switch {
			case rerr != nil:
				// Whether the write took effect is unknown: the caller
				// retries later and looks first.
				return err
			case found:
				return nil
			}
		}
		c.Logger.LogAttrs(ctx, slog.LevelWarn, "external request will be retried",
			slog.String("provider", string(c.Provider)), slog.String("op", req.Op()),
			slog.Int("status", e.StatusCode), slog.Int("attempt", attempt), slog.Duration("wait", wait))
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %s: %w", c.Provider, req.Op(), err)
		}
	}
}

func (c *Client) attempt(parent context.Context, req Request, body []byte, out any, timeout time.Duration) error {
	// ended tells the limiter, once, that the attempt has ended.
	ended := func(int, http.Header) {}
	if c.Limiter != nil {
		done, err := c.Limiter.Wait(parent, req.Search)
		if err != nil {
			return fmt.Errorf("%s: %s: waiting for the rate budget: %w", c.Provider, req.Op(), err)
		}
		told := false
		ended = func(status int, h http.Header) {
			if !told {
				told = true
				done(status, h)
			}
		}
		defer ended(0, nil) // not sent, or no answer
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	u := c.BaseURL.JoinPath(req.Path)
	if len(req.Query) > 0 {
		u.RawQuery = req.Query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", c.Provider, req.Op(), err)
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.Authorize != nil {
		if err := c.Authorize(ctx, hr); err != nil {
			return err
		}
	}

	start := time.Now()
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		if parent.Err() != nil { // the caller gave up: not the provider's fault
			return fmt.Errorf("%s: %s: %w", c.Provider, req.Op(), parent.Err())
		}
		// A refused destination or redirect stays refused: retrying it
		// would only repeat the refusal.
		if re, ok := egress.IsRefused(err); ok {
			return &Error{Provider: c.Provider, Op: req.Op(), Message: re.Error(), Err: err}
		}
		var rde *redirectError
		if errors.As(err, &rde) {
			return &Error{Provider: c.Provider, Op: req.Op(), Message: rde.msg, Err: err}
		}
		return &Error{Provider: c.Provider, Op: req.Op(), Message: transportMessage(err), Temporary: true, Err: err}
	}
	defer resp.Body.Close()
	ended(resp.StatusCode, resp.Header)
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if readErr != nil && parent.Err() != nil { // the caller gave up mid-body
		return fmt.Errorf("%s: %s: %w", c.Provider, req.Op(), parent.Err())
	}
	c.Logger.LogAttrs(ctx, slog.LevelDebug, "external request",
		slog.String("provider", string(c.Provider)), slog.String("op", req.Op()),
		slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Provider: c.Provider, Op: req.Op(), StatusCode: resp.StatusCode, Message: c.message(resp.Header.Get("Content-Type"), data)}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout,
			resp.StatusCode >= 500:
			e.Temporary = true
			e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return e
	}
	if readErr != nil {
		return &Error{Provider: c.Provider, Op: req.Op(), StatusCode: resp.StatusCode, Message: "reading response: " + transportMessage(readErr), Temporary: true, Err: readErr}
	}
	if len(data) > maxResponseBytes {
		return &Error{Provider: c.Provider, Op: req.Op(), StatusCode: resp.StatusCode, Message: fmt.Sprintf("response larger than %d bytes", maxResponseBytes)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A cut or garbled body is most often a passing fault of a proxy.
		return &Error{Provider: c.Provider, Op: req.Op(), StatusCode: resp.StatusCode, Message: "malformed JSON response: " + err.Error(), Temporary: true, Err: err}
	}
	return nil
}

// MaxMessage bounds, in characters, the message an external system's answer
// adds to an error, which reaches the tenant (lastError, run errors).
const MaxMessage = 300

// message is what an error answer tells the tenant: the provider's message
// from the documented fields of its error body, or else a fixed text. The
// body itself is never quoted: it may be anything, including what an
// internal service answers to a request it should never have received.
func (c *Client) message(contentType string, body []byte) string {
	if c.ErrorMessage != nil {
		if m := CleanMessage(c.ErrorMessage(body)); m != "" {
			return m
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty response"
	}
	if t := knownMediaType(contentType); t != "" {
		return "no readable error message (" + t + ")"
	}
	return "no readable error message"
}

// knownMediaType returns contentType's media type when it is a common one,
// else "": the header is the external system's text too, so only values
// from this list are repeated.
func knownMediaType(contentType string) string {
	t, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	switch t {
	case "application/json", "application/problem+json", "application/xml", "application/problem+xml",
		"application/octet-stream", "text/html", "text/plain", "text/xml":
		return t
	}
	return ""
}

// CleanMessage makes text from an external system fit for an error
// message: control and formatting characters (which could forge log lines
// or reorder the text shown) become spaces, runs of white space one space,
// invalid UTF-8 is dropped, and the result is cut to MaxMessage characters.
func CleanMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= MaxMessage {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == MaxMessage-1 {
			cut = i
			break
		}
		n++
	}
	return s[:cut] + "…"
}

// transportMessage describes a transport error without the request URL,
// whose query may hold personal data.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "request timed out"
	}
	return err.Error()
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date, relative to now. Absent, invalid or past: 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case s < 0:
			return 0
		case s > int64(math.MaxInt64/time.Second):
			return math.MaxInt64 // far beyond any MaxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the full-jitter exponential delay before retry number attempt.
func backoff(p RetryPolicy, attempt int) time.Duration {
	d := p.MaxDelay
	if shift := max(attempt-1, 0); shift < 63 && p.BaseDelay > 0 && p.BaseDelay <= p.MaxDelay>>shift {
		d = p.BaseDelay << shift // cannot overflow: at most MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
