// Package screening asks a language model, through the OpenAI-compatible
// Chat Completions API (OpenAI, Azure OpenAI, Mistral, Ollama, vLLM,
// llama.cpp server), which fetched contact records fit a campaign
// trigger's free-text description.
//
// A Client sends records in batches, with bounded concurrency, retries and
// structured output, and validates every answer without guessing: a
// record gets a decision only when the model gave a valid one for exactly
// that record. Contact data never leaves: every record passes through
// Redact before it is sent. The request content is deterministic for a
// given input, so callers may cache decisions by content.
//
// The user message layout is documented at DescriptionHeader; the
// loopback fake in sync/sandbox/llmfake speaks the same protocol.
package screening

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Decision is the model's judgement of one record.
type Decision string

const (
	// Match: the record fits the description.
	Match Decision = "MATCH"
	// NoMatch: the record clearly does not fit the description.
	NoMatch Decision = "NO_MATCH"
	// Unsure: the record lacks the data to decide.
	Unsure Decision = "UNSURE"
)

// Record is one contact to judge.
type Record struct {
	// ID identifies the record; it must be non-empty and unique within
	// one Judge call.
	ID string
	// Attributes are the record's data. They pass through Redact before
	// they are sent; an attribute named "id" is replaced by ID.
	Attributes map[string]any
}

// Verdict is the decision for one record.
type Verdict struct {
	// ID is the record's ID.
	ID string
	// Decision is the model's decision; "" means the record was not
	// judged.
	Decision Decision
	// Reason is the model's one-sentence reason, trimmed and at most
	// MaxReasonLen characters; empty when the record was not judged.
	Reason string
}

// MaxReasonLen is the number of characters a Verdict's Reason is cut to.
const MaxReasonLen = 300

// Usage counts what a Judge call consumed.
type Usage struct {
	// Requests is the number of HTTP requests made, retries included.
	Requests int
	// PromptTokens and CompletionTokens sum the token counts the API
	// reported.
	PromptTokens     int
	CompletionTokens int
}

// Config configures a Client.
type Config struct {
	// URL is the API's base URL, ending before /chat/completions, such as
	// https://api.openai.com/v1 or http://127.0.0.1:11434/v1.
	URL string
	// Model is the model name sent with every request.
	Model string
	// APIKey is sent as "Authorization: Bearer <APIKey>" when set;
	// self-hosted servers usually need none. It never appears in errors.
	APIKey string
	// BatchSize is the number of records per request, 1..100 (default 20).
	BatchSize int
	// Concurrency is the number of requests at once, 1..64 (default 4).
	Concurrency int
	// Timeout bounds each request (default 60s).
	Timeout time.Duration
	// MaxAttempts is the number of requests per batch, retries and
	// re-asks for missing records included, 1..20 (default 5).
	MaxAttempts int
	// HTTPClient sends the requests; pass the one that carries the egress
	// policy. Default: a client with no special transport.
	HTTPClient *http.Client
	// Backoff is the wait after the attempt-th failed attempt (1-based)
	// when the server gave no Retry-After. Default: exponential with
	// jitter from 1s, capped at 30s.
	Backoff func(attempt int) time.Duration
}

// Defaults and limits of Config.
const (
	DefaultBatchSize   = 20
	DefaultConcurrency = 4
	DefaultTimeout     = 60 * time.Second
	DefaultMaxAttempts = 5
	MaxBatchSize       = 100
	MaxConcurrency     = 64
	MaxMaxAttempts     = 20
	// MaxRetryAfter caps how long a Retry-After header makes a batch wait.
	MaxRetryAfter = 2 * time.Minute
)

// Client judges records against descriptions. It is safe for concurrent
// use.
type Client struct {
	endpoint    string
	model       string
	apiKey      string
	batchSize   int
	concurrency int
	timeout     time.Duration
	maxAttempts int
	http        *http.Client
	backoff     func(int) time.Duration
}

// New validates cfg, fills in its defaults and returns a Client. Errors
// name the offending Config field.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	switch {
	case cfg.URL == "":
		return nil, errors.New("screening: Config.URL is empty")
	case err != nil:
		return nil, errors.New("screening: Config.URL is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("screening: Config.URL must be an absolute http or https URL")
	case u.Host == "":
		return nil, errors.New("screening: Config.URL has no host")
	case u.User != nil:
		return nil, errors.New("screening: Config.URL must not carry credentials (use Config.APIKey)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("screening: Config.URL must not have a query or fragment")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("screening: Config.Model is empty")
	}
	if strings.ContainsAny(cfg.APIKey, "\r\n\x00") || strings.TrimSpace(cfg.APIKey) != cfg.APIKey {
		return nil, errors.New("screening: Config.APIKey contains whitespace or control characters")
	}
	c := &Client{
		endpoint:    strings.TrimRight(u.String(), "/") + "/chat/completions",
		model:       cfg.Model,
		apiKey:      cfg.APIKey,
		batchSize:   cfg.BatchSize,
		concurrency: cfg.Concurrency,
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		http:        cfg.HTTPClient,
		backoff:     cfg.Backoff,
	}
	if c.batchSize == 0 {
		c.batchSize = DefaultBatchSize
	}
	if c.batchSize < 1 || c.batchSize > MaxBatchSize {
		return nil, fmt.Errorf("screening: Config.BatchSize %d is out of range 1..%d", cfg.BatchSize, MaxBatchSize)
	}
	if c.concurrency == 0 {
		c.concurrency = DefaultConcurrency
	}
	if c.concurrency < 1 || c.concurrency > MaxConcurrency {
		return nil, fmt.Errorf("screening: Config.Concurrency %d is out of range 1..%d", cfg.Concurrency, MaxConcurrency)
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.timeout < 0 {
		return nil, fmt.Errorf("screening: Config.Timeout %v is negative", cfg.Timeout)
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.maxAttempts < 1 || c.maxAttempts > MaxMaxAttempts {
		return nil, fmt.Errorf("screening: Config.MaxAttempts %d is out of range 1..%d", cfg.MaxAttempts, MaxMaxAttempts)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.backoff == nil {
		c.backoff = DefaultBackoff
	}
	return c, nil
}

// Model is the model name the client asks.
func (c *Client) Model() string { return c.model }

// BatchSize is the number of records per request.
func (c *Client) BatchSize() int { return c.batchSize }

// Concurrency is the number of requests one Judge call makes at once.
func (c *Client) Concurrency() int { return c.concurrency }

// DefaultBackoff waits about 1s after the first failed attempt, doubling
// each time up to 30s, with up to half of each wait drawn at random.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := 30 * time.Second
	if attempt <= 5 {
		d = time.Second << (attempt - 1)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// Error reports records a Judge call could not judge.
type Error struct {
	// NotJudged is the number of records left without a decision.
	NotJudged int
	// Permanent reports that a batch failed in a way retrying will not
	// fix (a 4xx answer other than 429): calling again unchanged fails
	// the same way.
	Permanent bool
	// Err is the last failure seen (an *APIError for an HTTP error
	// answer).
	Err error
}

func (e *Error) Error() string {
	kind := "after retries"
	if e.Permanent {
		kind = "permanently"
	}
	return fmt.Sprintf("screening: %d record(s) not judged, failed %s: %v", e.NotJudged, kind, e.Err)
}

// Unwrap returns the last failure.
func (e *Error) Unwrap() error { return e.Err }

// APIError is an HTTP error answer of the API.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message, Type and Code come from the OpenAI error shape
	// {"error":{"message":...,"type":...,"code":...}}; Message is cut to
	// 200 characters.
	Message string
	Type    string
	Code    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("chat completions answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	} else if e.Type != "" {
		s += " (" + e.Type + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Judge asks the model to judge records against description. The
// verdicts are aligned with records (same length and order). Records are
// sent in batches of BatchSize, at most Concurrency requests at once;
// usage sums every request made.
//
// When some batches still fail after their attempts, Judge returns the
// verdicts it has (the others with Decision "") and an *Error. When ctx
// ends, Judge stops promptly and returns the verdicts it has and ctx's
// error. Empty or duplicate record IDs and an empty description are
// rejected before anything is sent.
func (c *Client) Judge(ctx context.Context, description string, records []Record) ([]Verdict, Usage, error) {
	verdicts := make([]Verdict, len(records))
	if strings.TrimSpace(description) == "" {
		return verdicts, Usage{}, errors.New("screening: the description is empty")
	}
	lines := make([]string, len(records))
	seen := make(map[string]bool, len(records))
	for i, r := range records {
		verdicts[i].ID = r.ID
		if r.ID == "" {
			return verdicts, Usage{}, fmt.Errorf("screening: record %d has an empty ID", i)
		}
		if seen[r.ID] {
			return verdicts, Usage{}, fmt.Errorf("screening: record ID %q appears more than once", r.ID)
		}
		seen[r.ID] = true
		l, err := recordLine(r.ID, r.Attributes)
		if err != nil {
			return verdicts, Usage{}, fmt.Errorf("screening: record %q: %w", r.ID, err)
		}
		lines[i] = l
	}
	if len(records) == 0 {
		return verdicts, Usage{}, ctx.Err()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		usage     Usage
		failed    int
		permanent bool
		lastErr   error
		stop      bool // a failure every later batch would share
	)
	addUsage := func(u Usage) {
		mu.Lock()
		usage.Requests += u.Requests
		usage.PromptTokens += u.PromptTokens
		usage.CompletionTokens += u.CompletionTokens
		mu.Unlock()
	}
	sem := make(chan struct{}, c.concurrency)
	var wg sync.WaitGroup
	for start := 0; start < len(records); start += c.batchSize {
		end := min(start+c.batchSize, len(records))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		mu.Lock()
		halted := stop
		mu.Unlock()
		if ctx.Err() != nil || halted {
			mu.Lock()
			failed += len(records) - start
			mu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b := &batch{c: c, description: description, ids: make([]string, 0, end-start), lines: lines[start:end], out: verdicts[start:end], addUsage: addUsage}
			for _, r := range records[start:end] {
				b.ids = append(b.ids, r.ID)
			}
			notJudged, err := b.run(ctx)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			failed += notJudged
			lastErr = err
			var ae *APIError
			if errors.As(err, &ae) && isPermanent(ae.StatusCode) {
				permanent = true
				switch ae.StatusCode {
				case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
					// Wrong key, no access or no such model: every
					// other batch fails the same way.
					stop = true
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return verdicts, usage, err
	}
	if failed > 0 {
		if lastErr == nil {
			lastErr = errors.New("stopped after an earlier batch failed permanently")
		}
		return verdicts, usage, &Error{NotJudged: failed, Permanent: permanent, Err: c.scrub(lastErr)}
	}
	return verdicts, usage, nil
}

// isPermanent reports whether an HTTP status is not worth retrying.
func isPermanent(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout
}

// scrub makes sure no error carries the API key.
func (c *Client) scrub(err error) error {
	if err == nil || c.apiKey == "" || !strings.Contains(err.Error(), c.apiKey) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.apiKey, "[api key]"))
}
