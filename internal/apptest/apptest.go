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

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/metrics"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// App is a running Intake.
type App struct {
	URL    string // http://127.0.0.1:PORT
	DB     *dbtest.DB
	Svc    *service.Service
	Broker *progress.Local
	Fakes  *fakes.Set
	Engine *engine.Engine
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

	logs := &Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key := make([]byte, secrets.KeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	box, err := secrets.Parse(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Deps{
		DB: db.Store.Client, Providers: providers.All(), Secrets: box, Logger: log,
		Connector: connector.Options{Logger: log, Egress: policy, Retry: connector.RetryPolicy{
			MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		}},
	})
	broker := progress.NewLocal()
	reg := metrics.New()
	queueDB, err := db.Store.QueueDB()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		PollInterval: 20 * time.Millisecond, ScheduleEvery: 200 * time.Millisecond, Lease: 3 * time.Second,
		PushbackFirstDelay: 50 * time.Millisecond,
	}, engine.Deps{
		Ent: db.Store.Client, DB: db.Store.DB, QueueDB: queueDB, Dialect: db.Dialect,
		Open: svc.Opener().Open, Broker: broker, Logger: log, Observer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetSyncer(eng)
	svc.SetCalls(eng)
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
	})
	sink := &Sink{next: eng}
	cfg := server.Config{Addr: "127.0.0.1:0", Introspection: true}
	for _, o := range options {
		o(&cfg)
	}
	if err := reg.Register(metrics.NewStore(metrics.StoreDeps{Ent: db.Store.Client, Jobs: eng.QueueDepth, Logger: log}, 50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	srv := server.New(cfg, server.Deps{
		DB: db.Store.Client, Ping: db.Store.DB.PingContext, Service: svc, Broker: broker, Logger: log, Webhooks: sink,
		Ready: eng.Ready, Metrics: reg,
	})
	addr, _, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	return &App{URL: "http://" + addr.String(), DB: db, Svc: svc, Broker: broker, Fakes: fk, Engine: eng, Webhooks: sink, Metrics: reg, logs: logs}
}

// Logs returns what the app logged so far.
func (a *App) Logs() string { return a.logs.String() }

// Key creates an API key for org (created if needed) with role.
func (a *App) Key(t testing.TB, org string, role viewer.Role) string {
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
