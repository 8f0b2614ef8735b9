package screening_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/llmfake"
)

const testKey = "sk-test-secret-key-0123456789"

// startFake starts the fake on loopback and closes it with the test.
func startFake(t *testing.T, opts llmfake.Options) *llmfake.Server {
	t.Helper()
	f := llmfake.New(opts)
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// newClient builds a client for the fake with tiny backoffs.
func newClient(t *testing.T, f *llmfake.Server, mod func(*screening.Config)) *screening.Client {
	t.Helper()
	cfg := screening.Config{
		URL:     f.URL(),
		Model:   llmfake.DefaultModel,
		APIKey:  testKey,
		Timeout: 5 * time.Second,
		Backoff: func(int) time.Duration { return time.Millisecond },
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := screening.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// records returns n records; every third is a nurse, every fifth has no
// data.
func records(n int) []screening.Record {
	out := make([]screening.Record, n)
	for i := range out {
		attrs := map[string]any{"title": "Electrician", "city": "Berlin"}
		switch {
		case i%5 == 4:
			attrs = nil
		case i%3 == 0:
			attrs["title"] = "Registered Nurse"
		}
		out[i] = screening.Record{ID: fmt.Sprintf("r%02d", i), Attributes: attrs}
	}
	return out
}

func want(i int) screening.Decision {
	switch {
	case i%5 == 4:
		return screening.Unsure
	case i%3 == 0:
		return screening.Match
	}
	return screening.NoMatch
}

const desc = "Experienced nurse wanted for night shifts"

func checkAligned(t *testing.T, recs []screening.Record, vs []screening.Verdict) {
	t.Helper()
	if len(vs) != len(recs) {
		t.Fatalf("got %d verdicts for %d records", len(vs), len(recs))
	}
	for i, v := range vs {
		if v.ID != recs[i].ID || v.Decision != want(i) || v.Reason == "" {
			t.Fatalf("verdict %d = %+v, want ID %s decision %s", i, v, recs[i].ID, want(i))
		}
	}
}

func TestJudgeBatchesAndUsage(t *testing.T) {
	f := startFake(t, llmfake.Options{APIKey: testKey})
	c := newClient(t, f, func(cfg *screening.Config) { cfg.BatchSize = 10; cfg.Concurrency = 2 })
	recs := records(45)
	vs, u, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	checkAligned(t, recs, vs)
	if vs[0].Reason != `Mentions "nurse", which the description asks for.` {
		t.Errorf("reason %q", vs[0].Reason)
	}
	if f.Requests() != 5 || u.Requests != 5 {
		t.Errorf("requests: fake %d, usage %d, want 5", f.Requests(), u.Requests)
	}
	if u.PromptTokens <= 0 || u.CompletionTokens <= 0 {
		t.Errorf("usage %+v has no tokens", u)
	}
	// The same input twice costs twice the same tokens: the request
	// content is deterministic.
	_, u2, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	if u2 != u {
		t.Errorf("second usage %+v != first %+v", u2, u)
	}
}

func TestJudgeConcurrencyBound(t *testing.T) {
	f := startFake(t, llmfake.Options{Delay: 40 * time.Millisecond})
	c := newClient(t, f, func(cfg *screening.Config) { cfg.BatchSize = 2; cfg.Concurrency = 3; cfg.APIKey = "" })
	recs := records(20)
	vs, _, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	checkAligned(t, recs, vs)
	if m := f.MaxInFlight(); m > 3 || m < 2 {
		t.Errorf("max in flight %d, want 2..3", m)
	}
}

func TestJudgeRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []sandbox.Fault
	}{
		{"server error", []sandbox.Fault{sandbox.ServerError, sandbox.ServerError}},
		{"malformed", []sandbox.Fault{sandbox.Malformed}},
		{"length", []sandbox.Fault{sandbox.Truncated}},
		{"slow then fine", []sandbox.Fault{sandbox.Slow}},
		{"mixed", []sandbox.Fault{sandbox.ServerError, sandbox.Malformed, sandbox.Truncated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, llmfake.Options{APIKey: testKey})
			f.Faults.SetSlowDelay(20 * time.Millisecond)
			f.Faults.Next(tc.faults...)
			c := newClient(t, f, func(cfg *screening.Config) { cfg.BatchSize = 50 })
			recs := records(7)
			vs, u, err := c.Judge(context.Background(), desc, recs)
			if err != nil {
				t.Fatal(err)
			}
			checkAligned(t, recs, vs)
			wantReq := 1
			for _, fl := range tc.faults {
				if fl != sandbox.Slow {
					wantReq++
				}
			}
			if u.Requests != wantReq || f.Requests() != wantReq {
				t.Errorf("requests: usage %d, fake %d, want %d", u.Requests, f.Requests(), wantReq)
			}
		})
	}
}

func TestJudgeRateLimitHonoursRetryAfter(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	f.Faults.SetRetryAfter(time.Second)
	f.Faults.Next(sandbox.RateLimit)
	c := newClient(t, f, nil)
	recs := records(3)
	start := time.Now()
	vs, u, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	checkAligned(t, recs, vs)
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("retried after %v, want Retry-After's 1s", el)
	}
	if u.Requests != 2 {
		t.Errorf("requests %d, want 2", u.Requests)
	}
}

func TestJudgeIncompleteAsksOnlyForMissing(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	f.Faults.Next(sandbox.Incomplete)
	c := newClient(t, f, nil)
	recs := records(6)
	vs, u, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	checkAligned(t, recs, vs)
	if u.Requests != 2 {
		t.Fatalf("requests %d, want 2", u.Requests)
	}
	var second []string
	for _, r := range f.Received() {
		if r.Request == 2 {
			second = append(second, r.ID)
		}
	}
	if len(second) != 1 || second[0] != recs[len(recs)-1].ID {
		t.Errorf("second request asked for %v, want only the dropped %s", second, recs[len(recs)-1].ID)
	}
}

func TestJudgeWrongKeyIsPermanent(t *testing.T) {
	f := startFake(t, llmfake.Options{APIKey: "sk-the-right-one"})
	c := newClient(t, f, func(cfg *screening.Config) { cfg.BatchSize = 2 })
	vs, u, err := c.Judge(context.Background(), desc, records(6))
	var se *screening.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *screening.Error", err)
	}
	if !se.Permanent || se.NotJudged != 6 {
		t.Errorf("error %+v, want permanent with 6 not judged", se)
	}
	var ae *screening.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != "invalid_api_key" {
		t.Errorf("API error %+v", ae)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Incorrect API key provided.") {
		t.Errorf("error %q lacks status or provider message", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error contains the API key: %q", err)
	}
	if u.Requests > 3 || f.Requests() > 3 {
		t.Errorf("%d requests for a permanent failure, want no retries", f.Requests())
	}
	for _, v := range vs {
		if v.Decision != "" {
			t.Errorf("verdict %+v judged despite the failure", v)
		}
	}
}

func TestJudgeKeyNeverInErrors(t *testing.T) {
	// A provider that echoes the key in its error message.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"bad key %s %s","type":"invalid_request_error","code":null}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), strings.Repeat("x", 500))
	}))
	defer srv.Close()
	c, err := screening.New(screening.Config{URL: srv.URL + "/v1", Model: "m", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Judge(context.Background(), desc, records(2))
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Fatalf("err = %v; want an error without the key", err)
	}
	if len(err.Error()) > 400 {
		t.Errorf("long provider message not truncated: %d chars", len(err.Error()))
	}
}

func TestJudgeAttemptsExhausted(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	// The first batch's requests (the fake serves them first with
	// Concurrency 1) all fail.
	f.Faults.Next(sandbox.ServerError, sandbox.ServerError, sandbox.ServerError)
	c := newClient(t, f, func(cfg *screening.Config) { cfg.BatchSize = 4; cfg.Concurrency = 1; cfg.MaxAttempts = 3 })
	recs := records(10)
	vs, u, err := c.Judge(context.Background(), desc, recs)
	var se *screening.Error
	if !errors.As(err, &se) || se.Permanent || se.NotJudged != 4 {
		t.Fatalf("err = %v, want a retryable *Error with 4 not judged", err)
	}
	for i, v := range vs {
		if i < 4 && v.Decision != "" {
			t.Errorf("verdict %d judged: %+v", i, v)
		}
		if i >= 4 && v.Decision != want(i) {
			t.Errorf("verdict %d = %+v, want %s", i, v, want(i))
		}
		if v.ID != recs[i].ID {
			t.Errorf("verdict %d has ID %s", i, v.ID)
		}
	}
	if u.Requests != 5 {
		t.Errorf("requests %d, want 3 + 2", u.Requests)
	}
}

func TestJudgeCancel(t *testing.T) {
	f := startFake(t, llmfake.Options{Delay: 10 * time.Second})
	c := newClient(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := c.Judge(ctx, desc, records(50))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("returned after %v", el)
	}
}

func TestJudgeTimeoutRetried(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	f.Faults.SetSlowDelay(2 * time.Second)
	f.Faults.Next(sandbox.Slow)
	c := newClient(t, f, func(cfg *screening.Config) { cfg.Timeout = 100 * time.Millisecond })
	recs := records(3)
	vs, u, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	checkAligned(t, recs, vs)
	if u.Requests != 2 {
		t.Errorf("requests %d, want 2", u.Requests)
	}
}

func TestJudgeConnectionErrorRetried(t *testing.T) {
	// A listener that is closed: every connection is refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := screening.New(screening.Config{URL: url + "/v1", Model: "m", APIKey: testKey, MaxAttempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	_, u, err := c.Judge(context.Background(), desc, records(3))
	var se *screening.Error
	if !errors.As(err, &se) || se.Permanent || se.NotJudged != 3 || u.Requests != 2 {
		t.Fatalf("err = %v, usage %+v; want 2 attempts and a retryable error", err, u)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Error("error contains the key")
	}
}

func TestJudgeRedactsBeforeSending(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	c := newClient(t, f, nil)
	recs := []screening.Record{{ID: "a", Attributes: map[string]any{
		"title":        "Nurse",
		"Phone":        "+49 30 1234567",
		"mobileNumber": "0171 1234567",
		"E-Mail":       "anna@example.com",
		"workMail":     "x",
		"fax":          "123",
		"note":         "call +49 (30) 123-4567 or anna@example.com",
		"other":        "anna@example.com",
		"nested":       map[string]any{"x": []any{"030/1234567", "keep", map[string]any{"telefon": "1"}}},
		"start":        "2024-01-15",
	}}}
	vs, _, err := c.Judge(context.Background(), desc, recs)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Decision != screening.Match {
		t.Errorf("verdict %+v", vs[0])
	}
	got := f.Received()
	if len(got) != 1 {
		t.Fatalf("received %d records", len(got))
	}
	s := fmt.Sprint(got[0].Attributes)
	for _, bad := range []string{"1234567", "123-4567", "example.com", "Phone", "mobile", "Mail", "fax", "telefon", "other"} {
		if strings.Contains(s, bad) {
			t.Errorf("fake received %q in %s", bad, s)
		}
	}
	for _, good := range []string{"Nurse", "keep", "2024-01-15", "[redacted]"} {
		if !strings.Contains(s, good) {
			t.Errorf("fake did not receive %q in %s", good, s)
		}
	}
}

func TestJudgeRejectsBadInput(t *testing.T) {
	f := startFake(t, llmfake.Options{})
	c := newClient(t, f, nil)
	for _, tc := range []struct {
		name string
		desc string
		recs []screening.Record
	}{
		{"empty description", " ", records(1)},
		{"empty id", desc, []screening.Record{{ID: ""}}},
		{"duplicate id", desc, []screening.Record{{ID: "a"}, {ID: "a"}}},
	} {
		if _, _, err := c.Judge(context.Background(), tc.desc, tc.recs); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if f.Requests() != 0 {
		t.Errorf("%d requests for invalid input", f.Requests())
	}
}

func TestNewValidates(t *testing.T) {
	ok := screening.Config{URL: "http://127.0.0.1:1/v1", Model: "m"}
	for _, tc := range []struct {
		field string
		mod   func(*screening.Config)
	}{
		{"URL", func(c *screening.Config) { c.URL = "" }},
		{"URL", func(c *screening.Config) { c.URL = "/v1" }},
		{"URL", func(c *screening.Config) { c.URL = "ftp://host/v1" }},
		{"URL", func(c *screening.Config) { c.URL = "http://host/v1?x=1" }},
		{"URL", func(c *screening.Config) { c.URL = "http://u:p@host/v1" }},
		{"Model", func(c *screening.Config) { c.Model = " " }},
		{"APIKey", func(c *screening.Config) { c.APIKey = "sk-1\n" }},
		{"BatchSize", func(c *screening.Config) { c.BatchSize = 101 }},
		{"BatchSize", func(c *screening.Config) { c.BatchSize = -1 }},
		{"Concurrency", func(c *screening.Config) { c.Concurrency = 65 }},
		{"Timeout", func(c *screening.Config) { c.Timeout = -time.Second }},
		{"MaxAttempts", func(c *screening.Config) { c.MaxAttempts = -2 }},
	} {
		cfg := ok
		tc.mod(&cfg)
		_, err := screening.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "Config."+tc.field) {
			t.Errorf("%s: err = %v", tc.field, err)
		}
		if err != nil && strings.Contains(err.Error(), "sk-1") {
			t.Errorf("%s: error contains the key", tc.field)
		}
	}
	if _, err := screening.New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	c, err := screening.New(screening.Config{URL: "http://127.0.0.1:1/v1", Model: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := screening.New(screening.Config{URL: "http://127.0.0.1:1/v1", Model: "m2"})
	key := func(c *screening.Client, desc string, attrs map[string]any) string {
		k, err := c.Key(desc, attrs)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := map[string]any{"profession": "Nurse", "location": "Berlin"}
	base := key(c, "Nurses in Berlin", a)
	if len(base) != 64 {
		t.Fatalf("key %q is not a hex SHA-256", base)
	}
	same := []struct {
		name  string
		desc  string
		attrs map[string]any
	}{
		{"keys in another order", "Nurses in Berlin", map[string]any{"location": "Berlin", "profession": "Nurse"}},
		{"description with surrounding space", "  Nurses in Berlin\n", a},
		{"a phone number, which is never sent", "Nurses in Berlin", map[string]any{"profession": "Nurse", "location": "Berlin", "phone": "+49 30 1234567"}},
	}
	for _, s := range same {
		if k := key(c, s.desc, s.attrs); k != base {
			t.Errorf("%s: key changed", s.name)
		}
	}
	differ := []struct {
		name string
		k    string
	}{
		{"another model", key(c2, "Nurses in Berlin", a)},
		{"another description", key(c, "Nurses in Hamburg", a)},
		{"another value", key(c, "Nurses in Berlin", map[string]any{"profession": "Welder", "location": "Berlin"})},
		{"no attributes", key(c, "Nurses in Berlin", nil)},
	}
	for _, d := range differ {
		if d.k == base {
			t.Errorf("%s: same key", d.name)
		}
	}
}
