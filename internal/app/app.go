// Package app assembles Intake: configuration in; the store, the
// credentials' keys, the connectors, the progress broker, the sync engine,
// the service and the HTTP server out, wired once. The server binary, the
// CLI, the end-to-end tests (internal/apptest) and the benchmark tools
// (internal/bench) all run this assembly, so what they measure and test is
// what is deployed.
//
// New builds everything and starts nothing; every step that can fail
// (opening and migrating the database, reading the keys, binding the
// listeners) fails there or at the start of Start, before any goroutine
// runs. Start starts the broker, the engine and the server in that order
// and, if a step fails, stops what it started. Stop stops them in reverse,
// each within its own bound, and closes the database if New opened it.
package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/metrics"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/ratebudget"
)

// Options adjust the assembly beyond the process configuration. The zero
// value is the production assembly; tests and benchmarks use the rest.
type Options struct {
	// Logger: nil means the one the configuration describes.
	Logger *slog.Logger
	// Store is an open, migrated database to use instead of opening
	// cfg.DatabaseURL; the caller keeps it and closes it after Stop.
	Store *store.Store
	// Engine, Server and Connector adjust the configuration derived from
	// cfg before the parts are built (tests: short poll intervals, fast
	// retries; benchmarks: worker counts).
	Engine    func(*engine.Config)
	Server    func(*server.Config)
	Connector func(*connector.Options)
	// RateLimits adjusts the providers' default rate limits (an
	// integration's own rateLimit still applies as it is): tests whose
	// fakes enforce no limits raise them, so that pacing costs no time
	// where it is not what a test is about.
	RateLimits func(connector.RateLimits) connector.RateLimits
	// Screening adjusts the screening model's client configuration, when
	// cfg configures one (tests: short backoff).
	Screening func(*screening.Config)
	// Webhooks wraps the sink of verified webhook events (tests record
	// them); nil: the service handles them directly.
	Webhooks func(server.WebhookSink) server.WebhookSink
	// Broker is the progress broker to use instead of the one the
	// database implies (benchmarks measure an in-process broker on
	// PostgreSQL); the caller starts and stops it if it needs that.
	Broker Broker
	// MetricsCacheTTL is how long /metrics reuses database counts
	// (default 5s, so that frequent scrapes cannot load the database).
	MetricsCacheTTL time.Duration
}

// Broker fans sync progress out to subscriptions: across replicas through
// PostgreSQL LISTEN/NOTIFY, within the process on SQLite.
type Broker interface {
	progress.Broker
	// Subscribers is how many subscriptions this process holds.
	Subscribers() int
}

// App is an assembled Intake.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Store   *store.Store
	Service *service.Service
	Engine  *engine.Engine
	Broker  Broker
	Metrics *metrics.Metrics
	Server  *server.Server

	ownStore bool
	rateDB   *sql.DB            // the rate budget's connections (PostgreSQL)
	pg       *progress.Postgres // the broker when it needs starting

	mu      sync.Mutex
	started []step // what Start started, stopped last first
	done    <-chan error
	addr    net.Addr
}

// step is a part Start started: how to stop it, and the bound of that.
type step struct {
	bound time.Duration
	stop  func(context.Context) error
}

// Bounds of the steps of Stop; together they stay under the 30s a
// container platform commonly waits between SIGTERM and SIGKILL.
const (
	httpStopTimeout   = 10 * time.Second
	engineStopTimeout = 15 * time.Second // the engine's soft stop takes 5s of it
	brokerStopTimeout = 2 * time.Second
	brokerStartBound  = 15 * time.Second
)

// New assembles Intake from cfg. It opens and migrates the database (unless
// opts.Store is given) and builds every part without starting any.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *App, err error) {
	a := &App{Config: cfg, Log: opts.Logger}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if a.Log == nil {
		a.Log = cfg.Logger()
	}
	a.Store = opts.Store
	if a.Store == nil {
		if a.Store, err = store.OpenWith(ctx, cfg.DatabaseURL, cfg.DataDir, store.Options{StatementCache: cfg.DBStmtCache}); err != nil {
			return nil, err
		}
		a.ownStore = true
		if n := cfg.DBMaxConns; n > 0 && a.Store.Dialect == dialect.Postgres {
			a.Store.DB.SetMaxOpenConns(n)
			a.Store.DB.SetMaxIdleConns(n) // see store.Open
		}
		defer func() {
			if err != nil {
				a.Store.Close()
			}
		}()
		if _, err := a.Store.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrating: %w", err)
		}
	}
	box, err := keys(cfg)
	if err != nil {
		return nil, err
	}

	connOpts := connector.Options{Logger: a.Log, Egress: &egress.Policy{Allow: cfg.EgressAllow}}
	if opts.Connector != nil {
		opts.Connector(&connOpts)
	}
	registry := providers.All()
	// Every request to an external account spends its rate budget: in
	// PostgreSQL, shared by the replicas; in the process on SQLite.
	var budgets *ratebudget.Budgets // nil: requests are not paced
	switch {
	case !cfg.RateBudget:
	case a.Store.Dialect != dialect.Postgres:
		budgets = ratebudget.NewMemory()
	default:
		// Every external request waits for a decision of the budget: it
		// gets two connections of its own, so that a pool busy with other
		// work (workers, River, readers) does not slow every request of
		// every job.
		rdb := a.Store.DB
		if cfg.DatabaseURL != "" {
			if a.rateDB, err = store.OpenPostgres(cfg.DatabaseURL, cfg.DBStmtCache); err != nil {
				return nil, fmt.Errorf("opening the rate budget's connections: %w", err)
			}
			a.rateDB.SetMaxOpenConns(2)
			a.rateDB.SetMaxIdleConns(2)
			rdb = a.rateDB
		}
		budgets = ratebudget.NewPostgres(rdb)
	}
	opener := service.NewOpener(registry, box, connOpts, budgets)
	opener.DefaultLimits = opts.RateLimits

	switch {
	case opts.Broker != nil:
		a.Broker = opts.Broker
	case a.Store.Dialect == dialect.Postgres:
		a.pg = progress.NewPostgres(a.Store.DB, cfg.DatabaseURL, a.Log)
		a.Broker = a.pg
	default:
		a.Broker = progress.NewLocal()
	}

	a.Metrics = metrics.New()
	if budgets != nil {
		budgets.Metrics = rateMetrics{a.Metrics}
	}
	queueDB, err := a.Store.QueueDB()
	if err != nil {
		return nil, err
	}
	engCfg := engine.Config{
		Workers: cfg.SyncWorkers, Lease: cfg.SyncLease, RescueAfter: cfg.RescueAfter,
		PushbackFirstDelay: cfg.PushbackDelay, PushbackWorkers: cfg.PushbackWorkers,
		AuditRetention: cfg.AuditRetention, // 0: kept forever
		IssueRetention: cfg.IssueRetention, TranscriptRetention: cfg.TranscriptRetention,
	}
	if opts.Engine != nil {
		opts.Engine(&engCfg)
	}
	var screener *screening.Client
	if sc := cfg.Screening; sc.Configured() {
		// The model is reached like an external system: through the
		// egress policy, never with the key in a log or an error.
		scfg := screening.Config{
			URL: sc.URL, Model: sc.Model, APIKey: sc.APIKey,
			BatchSize: sc.BatchSize, Concurrency: sc.Concurrency, Timeout: sc.Timeout,
			HTTPClient: connector.NewHTTPClient(connOpts.Egress),
		}
		if opts.Screening != nil {
			opts.Screening(&scfg)
		}
		screener, err = screening.New(scfg)
		if err != nil {
			return nil, err
		}
		a.Log.Info("screening model configured", slog.String("screening", sc.String()))
	}
	a.Engine, err = engine.New(engCfg, engine.Deps{
		Ent: a.Store.Client, DB: a.Store.DB, QueueDB: queueDB, Dialect: a.Store.Dialect,
		Open: opener.Open, Broker: a.Broker, Logger: a.Log, Observer: a.Metrics, Screener: screener,
	})
	if err != nil {
		return nil, err
	}
	a.Service = service.New(service.Deps{
		Store: a.Store, Providers: registry, Secrets: box, Logger: a.Log,
		Connector: connOpts, Opener: opener, Jobs: a.Engine, Budgets: budgets, Broker: a.Broker,
		// PostgreSQL's notices reach every replica and the command line's
		// revocations; SQLite's stay in their process.
		CacheKeys: a.Store.Dialect == dialect.Postgres,
	})

	ttl := opts.MetricsCacheTTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	if err := a.Metrics.Register(metrics.NewStore(metrics.StoreDeps{Ent: a.Store.Client, Jobs: a.Engine.QueueDepth, Logger: a.Log}, ttl)); err != nil {
		return nil, err
	}
	srvCfg := server.Config{
		Addr: cfg.Addr, AllowedOrigins: cfg.AllowedOrigins, Introspection: cfg.Introspection, PublicURL: cfg.PublicURL, MetricsAddr: cfg.MetricsAddr,
		Limits:    server.Limits(cfg.Limits), // the same fields
		Websocket: server.WebsocketLimits(cfg.Websocket),
	}
	if opts.Server != nil {
		opts.Server(&srvCfg)
	}
	var sink server.WebhookSink = a.Service
	if opts.Webhooks != nil {
		sink = opts.Webhooks(sink)
	}
	a.Server = server.New(srvCfg, server.Deps{
		DB: a.Store.Client, Ping: a.Store.DB.PingContext, Service: a.Service,
		Broker: a.Broker, Logger: a.Log, Webhooks: sink, Ready: a.Engine.Ready, Metrics: a.Metrics,
	})
	return a, nil
}

// keys returns the box that seals integration credentials: the configured
// keys, or on the embedded default a key generated into the data directory.
func keys(cfg config.Config) (*secrets.Box, error) {
	if cfg.EncryptionKey != "" {
		return secrets.Parse(cfg.EncryptionKey)
	}
	return secrets.LoadOrCreateKeyFile(cfg.KeyFile())
}

// Start binds the server's addresses, then starts the progress broker, the
// sync engine and the server. If a step fails, what started is stopped and
// the error returned. Running syncs are not tied to ctx: Stop ends them.
func (a *App) Start(ctx context.Context) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started != nil {
		return errors.New("app: already started")
	}
	a.started = []step{}
	defer func() {
		if err != nil {
			if serr := a.stopLocked(context.WithoutCancel(ctx)); serr != nil {
				a.Log.Warn("stopping after a failed start", slog.Any("err", serr))
			}
		}
	}()
	// A taken port fails here, before anything runs; until the server
	// serves, stopping it closes its listeners.
	server := step{httpStopTimeout, a.Server.Stop}
	a.started = append(a.started, server)
	if _, err := a.Server.Listen(); err != nil {
		return err
	}
	if a.pg != nil {
		startCtx, cancel := context.WithTimeout(ctx, brokerStartBound)
		err := a.pg.Start(startCtx)
		cancel()
		a.started = append(a.started, step{brokerStopTimeout, a.pg.Stop})
		if err != nil {
			return fmt.Errorf("listening for progress: %w", err)
		}
	}
	if err := a.Engine.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the sync engine: %w", err)
	}
	a.started = append(a.started, step{engineStopTimeout, a.Engine.Stop})
	addr, done, err := a.Server.Start()
	if err != nil {
		return err
	}
	// The server stops first: no request may reach a stopped engine.
	a.started = append(a.started[1:], server)
	a.done, a.addr = done, addr
	a.Log.Info("intake listening", slog.String("addr", addr.String()), slog.String("database", a.Store.Dialect))
	if ma := a.Server.MetricsAddr(); ma != nil {
		a.Log.Info("metrics listening", slog.String("addr", ma.String()))
	}
	return nil
}

// Addr is the address the server listens on (nil before Start).
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Done receives the error that ended serving (nil after Stop).
func (a *App) Done() <-chan error { return a.done }

// Stop stops gracefully, each step within its bound and within ctx: the
// server stops listening, closes every websocket with a close frame and
// lets the requests in flight finish; then running syncs checkpoint and
// stop (they resume from their checkpoint on the next start); then the
// progress listener stops; then the database closes, if New opened it.
func (a *App) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.stopLocked(ctx)
	if a.rateDB != nil {
		err = errors.Join(err, a.rateDB.Close())
		a.rateDB = nil
	}
	if a.ownStore {
		err = errors.Join(err, a.Store.Close())
		a.ownStore = false
	}
	return err
}

// stopLocked stops what Start started, last started first, each step
// within its bound (and ctx). A step that fails does not keep the next
// from stopping.
func (a *App) stopLocked(ctx context.Context) error {
	var errs []error
	for i := len(a.started) - 1; i >= 0; i-- {
		st := a.started[i]
		stepCtx, cancel := context.WithTimeout(ctx, st.bound)
		errs = append(errs, st.stop(stepCtx))
		cancel()
	}
	a.started = a.started[:0]
	return errors.Join(errs...)
}

// rateMetrics reports the rate budgets' grants as Prometheus series.
type rateMetrics struct{ m *metrics.Metrics }

func (r rateMetrics) Granted(p schematype.ProviderKey, c ratebudget.Class, waited time.Duration) {
	r.m.RateGranted(string(p), c.String(), waited)
}
