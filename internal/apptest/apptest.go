// Package apptest runs a whole Intake (store, services, HTTP server) on a
// loopback port for end-to-end tests, next to the sandbox fakes of every
// provider, and talks to it as clients do: GraphQL over HTTP and websockets.
package apptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/metrics"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// App is a running Intake.
type App struct {
	URL    string // http://127.0.0.1:PORT
	DB     *dbtest.DB
	Svc    *service.Service
	Broker app.Broker
	Fakes  *fakes.Set
	Engine *engine.Engine
	// App is the assembled application the others are parts of.
	App *app.App
	// Webhooks records the verified webhook events the server handed on.
	Webhooks *Sink
	// Metrics is the registry the server serves on /metrics and the engine
	// counts into.
	Metrics *metrics.Metrics
	logs    *Logs
}

// Sink records webhook events, then hands them to the sync engine.
type Sink struct {
	next   server.WebhookSink
	mu     sync.Mutex
	events []connector.WebhookEvent
	ids    []string
}

// HandleWebhook implements server.WebhookSink.
func (s *Sink) HandleWebhook(ctx context.Context, in *ent.Integration, events []connector.WebhookEvent) error {
	s.mu.Lock()
	for range events {
		s.ids = append(s.ids, string(in.ID))
	}
	s.events = append(s.events, events...)
	s.mu.Unlock()
	return s.next.HandleWebhook(ctx, in, events)
}

// Events returns the events received so far and the integration of each.
func (s *Sink) Events() ([]connector.WebhookEvent, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connector.WebhookEvent(nil), s.events...), append([]string(nil), s.ids...)
}

// Logs collects everything the app logged.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the log so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Start runs Intake on db, with fakes of every provider serving 50 people.
// Options adjust the HTTP server's configuration (limits, origins).
func Start(t testing.TB, db *dbtest.DB, options ...func(*server.Config)) *App {
	t.Helper()
	return StartWithEgress(t, db, LoopbackEgress(), options...)
}

// StartWithEgress is Start with policy as the egress policy of every request
// the app makes to external systems.
func StartWithEgress(t testing.TB, db *dbtest.DB, policy *egress.Policy, options ...func(*server.Config)) *App {
	t.Helper()
	return start(t, db, policy, nil, options...)
}

// Screening is the screening model a test app asks.
type Screening struct {
	// URL is the model's base URL (an llmfake server's URL()); Model and
	// APIKey as the fake expects them.
	URL, Model, APIKey string
	// BatchSize and Concurrency: 0 takes the server's defaults.
	BatchSize, Concurrency int
}

// StartWithScreening is Start with a screening model. Failed requests to
// the model are retried after 10ms, at most 3 times per batch.
func StartWithScreening(t testing.TB, db *dbtest.DB, s Screening, options ...func(*server.Config)) *App {
	t.Helper()
	return start(t, db, LoopbackEgress(), &s, options...)
}

func start(t testing.TB, db *dbtest.DB, policy *egress.Policy, scr *Screening, options ...func(*server.Config)) *App {
	t.Helper()
	fk := startFakes(t)
	a, logs, sink := assemble(t, db.Store, db.URL, policy, func(c *engine.Config) {
		c.PushbackFirstDelay = 50 * time.Millisecond
	}, scr, options...)
	return &App{URL: "http://" + a.Addr().String(), DB: db, Svc: a.Service, Broker: a.Broker, Fakes: fk, Engine: a.Engine,
		Webhooks: sink, Metrics: a.Metrics, App: a, logs: logs}
}

// startFakes serves the fakes of every provider, 50 people each, and fails
// the test if Intake broke a provider's documented contract.
func startFakes(t testing.TB) *fakes.Set {
	t.Helper()
	fk := fakes.New(sandbox.Dataset{Seed: 1, Size: 50})
	if err := fk.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fk.Close()
		for _, v := range fk.ContractViolations() {
			t.Errorf("contract: %s", v)
		}
	})
	return fk
}

// testKey is the credentials' encryption key of every test app (base64 of
// 32 bytes), so replicas of one database open each other's credentials.
var testKey = func() string {
	key := make([]byte, secrets.KeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	return base64.StdEncoding.EncodeToString(key)
}()

// assemble runs the application's own assembly (internal/app) on st (nil:
// opened from databaseURL) with test timings: short polls, a fast
// scheduler, short leases and fast connector retries. It starts the app
// and stops it when the test ends.
func assemble(t testing.TB, st *store.Store, databaseURL string, policy *egress.Policy, engineCfg func(*engine.Config), scr *Screening, options ...func(*server.Config)) (*app.App, *Logs, *Sink) {
	t.Helper()
	logs := &Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.EncryptionKey, cfg.Addr, cfg.Introspection = databaseURL, testKey, "127.0.0.1:0", true
	cfg.AuditRetention = 0 // tests prune explicitly
	// Dozens of Intakes share one PostgreSQL server in a test run, and each
	// keeps the connections it opened: ten each, not the default twenty.
	cfg.DBMaxConns = 10
	// The server's own defaults, without the production rate limit per
	// key: options set the limits a test is about.
	cfg.Limits, cfg.Websocket = config.Limits{}, config.Websocket{}
	if scr != nil {
		cfg.Screening.URL, cfg.Screening.Model, cfg.Screening.APIKey = scr.URL, scr.Model, scr.APIKey
		if scr.BatchSize > 0 {
			cfg.Screening.BatchSize = scr.BatchSize
		}
		if scr.Concurrency > 0 {
			cfg.Screening.Concurrency = scr.Concurrency
		}
	}
	var sink *Sink
	a, err := app.New(context.Background(), cfg, app.Options{
		Logger: log, Store: st, MetricsCacheTTL: 50 * time.Millisecond,
		// The fakes enforce no limits unless a test sets them, and pacing
		// at an account's rate is not what most tests are about: the
		// budget is spent as in production, with a window the tests never
		// fill. The daily limit stays. Tests of the budget set an
		// integration's own rateLimit or the fake's limits.
		RateLimits: func(l connector.RateLimits) connector.RateLimits {
			l.Requests, l.Interval, l.SearchesPerSecond = 100000, time.Second, 1000
			return l
		},
		Connector: func(o *connector.Options) {
			o.Egress = policy
			o.Retry = connector.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, AttemptTimeout: 5 * time.Second}
		},
		Engine: func(c *engine.Config) {
			c.PollInterval, c.ScheduleEvery, c.Lease = 20*time.Millisecond, 200*time.Millisecond, 3*time.Second
			if engineCfg != nil {
				engineCfg(c)
			}
		},
		Server: func(c *server.Config) {
			for _, o := range options {
				o(c)
			}
		},
		Screening: func(c *screening.Config) {
			c.MaxAttempts, c.Backoff = 3, func(int) time.Duration { return 10 * time.Millisecond }
		},
		Webhooks: func(next server.WebhookSink) server.WebhookSink {
			sink = &Sink{next: next}
			return sink
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st == nil && a.Store.Dialect == dialect.Postgres {
		dbtest.LimitPool(a.Store.DB) // a replica's own pool on the shared server
	}
	if err := a.Start(context.Background()); err != nil {
		a.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Logf("stopping the app: %v", err)
		}
	})
	return a, logs, sink
}

// Logs returns what the app logged so far.
func (a *App) Logs() string { return a.logs.String() }

// Key creates an API key for org (created if needed) with role.
func (a *App) Key(t testing.TB, org string, role schematype.Role) string {
	t.Helper()
	k, err := a.Svc.CreateAPIKey(context.Background(), org, role)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Client talks GraphQL to the app as one API key.
func (a *App) Client(key string) *Client { return &Client{URL: a.URL, Key: key} }

// Client is a GraphQL client.
type Client struct {
	URL string
	Key string
}

// Error is a GraphQL error as clients see it.
type Error struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code       string `json:"code"`
		Field      string `json:"field"`
		RetryAfter int    `json:"retryAfter"`
	} `json:"extensions"`
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Code returns the first error's code ("" without errors).
func (r Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Code
}

// Field returns the first error's field.
func (r Response) Field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Field
}

// Decode unmarshals data into v, failing the test on errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Data, err)
	}
}

// Do posts a query with variables.
func (c *Client) Do(t testing.TB, query string, vars map[string]any) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, not a GraphQL response: %s", resp.StatusCode, raw)
	}
	return out
}

// MustDo posts a query and decodes its data into v.
func (c *Client) MustDo(t testing.TB, query string, vars map[string]any, v any) {
	t.Helper()
	c.Do(t, query, vars).Decode(t, v)
}

// Strings is shorthand for building long inputs.
func Strings(s string, n int) string { return strings.Repeat(s, n) }
