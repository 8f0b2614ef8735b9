package zvoove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

const (
	tokenScope = "api_gateway"
	// tokenMargin is how long before its expiry a token is replaced.
	tokenMargin = time.Minute
	// defaultTokenLifetime is assumed when the token response has no
	// expires_in.
	defaultTokenLifetime = 5 * time.Minute
)

// tokenSource gets OAuth2 client-credentials tokens and caches the current
// one. Concurrent callers share one token request.
type tokenSource struct {
	client       *connector.Client
	path         string
	op           string // Request.Op of the token request, as errors name it
	clientID     string
	clientSecret string
	now          func() time.Time

	mu     sync.Mutex
	cached string     // the current token, "" when none
	expiry time.Time  // when to stop using cached
	gen    uint64     // incremented by invalidate
	call   *tokenCall // the token request in flight, if any
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

func newTokenSource(tokenURL, clientID, clientSecret string, api *connector.Client, opts connector.Options, now func() time.Time) (*tokenSource, error) {
	u, err := connector.ParseBaseURL(tokenURL)
	if err != nil {
		return nil, &connector.CredentialError{Key: "tokenURL", Message: "must be an absolute http(s) URL without credentials, query or fragment"}
	}
	// The token endpoint takes a form, which the JSON client sends through
	// formTransport; its retries are left to the API request that needs
	// the token, so a failure is not retried twice over.
	hc := *api.HTTP
	hc.Transport = formTransport{base: hc.Transport}
	opts.HTTPClient = &hc
	opts.Retry.MaxAttempts = 1
	origin := &url.URL{Scheme: u.Scheme, Host: u.Host}
	client, err := connector.NewClient(schematype.ProviderZvoove, origin.String(), opts)
	if err != nil {
		return nil, &connector.CredentialError{Key: "tokenURL", Message: "must be an absolute http(s) URL without credentials, query or fragment"}
	}
	client.ErrorMessage = errorMessage
	path := u.EscapedPath()
	return &tokenSource{
		client: client, path: path, op: http.MethodPost + " " + path,
		clientID: clientID, clientSecret: clientSecret, now: now,
	}, nil
}

// generation identifies the current token for invalidate.
func (s *tokenSource) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// invalidate discards the cached token, unless it was replaced since gen.
func (s *tokenSource) invalidate(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.gen++
		s.cached = ""
	}
}

// token returns a valid access token, requesting one when none is cached.
// Its failures are *connector.Error, temporary unless the token endpoint
// refused the client.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.cached != "" && s.now().Before(s.expiry) {
		t := s.cached
		s.mu.Unlock()
		return t, nil
	}
	call, leader := s.call, false
	if call == nil {
		call, leader = &tokenCall{done: make(chan struct{})}, true
		s.call = call
	}
	s.mu.Unlock()

	if leader {
		token, expiry, err := s.fetch(ctx)
		s.mu.Lock()
		s.call = nil
		if err == nil {
			s.cached, s.expiry = token, expiry
		}
		s.mu.Unlock()
		call.token, call.err = token, err
		close(call.done)
		return token, err
	}
	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return "", s.temporary("waiting for access token", ctx.Err())
	}
}

// fetch requests a new token.
func (s *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	var resp struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
	}
	form := map[string]string{
		"grant_type": "client_credentials", "scope": tokenScope,
		"client_id": s.clientID, "client_secret": s.clientSecret,
	}
	start := s.now()
	err := s.client.Do(ctx, connector.Request{Method: http.MethodPost, Path: s.path, Body: form, Retry: true}, &resp)
	var e *connector.Error
	switch {
	case errors.As(err, &e):
		return "", time.Time{}, fmt.Errorf("getting zvoove access token: %w", err)
	case err != nil: // the request's context ended: worth another attempt
		return "", time.Time{}, s.temporary("requesting access token", err)
	case resp.AccessToken == "":
		return "", time.Time{}, &connector.Error{Provider: schematype.ProviderZvoove, Op: s.op, StatusCode: http.StatusOK, Message: "token response without access_token"}
	case resp.TokenType != "" && !strings.EqualFold(resp.TokenType, "Bearer"):
		return "", time.Time{}, &connector.Error{Provider: schematype.ProviderZvoove, Op: s.op, StatusCode: http.StatusOK, Message: fmt.Sprintf("unsupported token_type %.20q", resp.TokenType)}
	}
	lifetime := defaultTokenLifetime
	if n, err := resp.ExpiresIn.Int64(); err == nil && n > 0 && n < 1<<31 {
		lifetime = time.Duration(n) * time.Second
	}
	return resp.AccessToken, start.Add(lifetime - min(tokenMargin, lifetime/2)), nil
}

func (s *tokenSource) temporary(msg string, err error) *connector.Error {
	return &connector.Error{Provider: schematype.ProviderZvoove, Op: s.op, Message: msg + ": " + err.Error(), Temporary: true, Err: err}
}

// formTransport sends a JSON object body of string values as an
// application/x-www-form-urlencoded form, which OAuth2 token endpoints
// require while connector.Client encodes bodies as JSON.
type formTransport struct{ base http.RoundTripper }

func (t formTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if r.Body == nil {
		return base.RoundTrip(r)
	}
	raw, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading token request: %w", err)
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("encoding token request as a form: %w", err)
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	body := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(body))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	r2.ContentLength = int64(len(body))
	r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return base.RoundTrip(r2)
}
