package engine

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/progress"
)

// InitialLookback is how far back a trigger's first "new applications"
// sync looks.
const InitialLookback = 30 * 24 * time.Hour

// Config tunes the engine; zero values take the defaults.
type Config struct {
	// Workers is how many runs one process works at once (default 4).
	Workers int
	// PollInterval is how often idle workers look for jobs (default 200ms).
	PollInterval time.Duration
	// ScheduleEvery is how often the leader looks for due triggers (default 10s).
	ScheduleEvery time.Duration
	// Lease is how long a run stays owned by a worker that stops renewing
	// it (default 1m).
	Lease time.Duration
	// RescueAfter is when River gives a job whose worker vanished to
	// another worker (default 2m; at least Lease).
	RescueAfter time.Duration
	// PushbackWorkers is how many deliveries one process makes at once
	// (default 20).
	PushbackWorkers int
	// PushbackFirstDelay is the wait before a failed delivery's first retry;
	// later retries wait longer in proportion, over about 8 hours for the
	// default 10s.
	PushbackFirstDelay time.Duration
	// ID names this process in leases (default host-pid-random).
	ID string
	// AuditRetention is how long audit events are kept. Unlike the other
	// fields, zero means no default but forever: nothing is pruned.
	AuditRetention time.Duration
	// AuditPruneEvery is how often the leader prunes audit events older
	// than AuditRetention (default 1h).
	AuditPruneEvery time.Duration
	// IssueRetention is how long import issues (raw numbers, names in
	// messages) are kept; TranscriptRetention how long call results keep
	// their transcripts and answers. Zero means forever. The leader purges
	// every RetentionEvery (default 1h).
	IssueRetention      time.Duration
	TranscriptRetention time.Duration
	RetentionEvery      time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.PushbackWorkers <= 0 {
		c.PushbackWorkers = 20
	}
	if c.PushbackFirstDelay <= 0 {
		c.PushbackFirstDelay = pushbackDelays[0]
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.ScheduleEvery <= 0 {
		c.ScheduleEvery = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.RescueAfter < c.Lease {
		c.RescueAfter = max(2*time.Minute, c.Lease)
	}
	if c.AuditPruneEvery <= 0 {
		c.AuditPruneEvery = time.Hour
	}
	if c.RetentionEvery <= 0 {
		c.RetentionEvery = time.Hour
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	return c
}

// Deps are the engine's dependencies.
type Deps struct {
	Ent     *ent.Client
	DB      *sql.DB // the pool page transactions run on
	QueueDB *sql.DB // River's pool (SQLite: one connection; PostgreSQL: may be DB)
	Dialect string
	// Open opens an integration's connector from its sealed credentials.
	Open   func(*ent.Integration) (connector.Connector, error)
	Broker progress.Broker
	Logger *slog.Logger
	// Observer is told what the engine did, for metrics (nil: nobody).
	Observer Observer
	// Screener judges records against triggers' descriptions (nil: no
	// screening model is configured, and descriptions are not applied).
	Screener *screening.Client
}

// Observer is told what the engine did, for metrics. Its methods are called
// after the fact has committed and must not block.
type Observer interface {
	// PageImported: a page's contacts and import issues (by code) were
	// imported.
	PageImported(contacts int, issues map[string]int)
	// RunFinished: a sync run ended with status.
	RunFinished(status string)
	// PushbackSettled: a pushback ended DELIVERED or DEAD.
	PushbackSettled(status string)
	// Screened: the screening model was asked requests times (retries
	// included), for tokens tokens.
	Screened(requests, tokens int)
}

type noObserver struct{}

func (noObserver) PageImported(int, map[string]int) {}
func (noObserver) RunFinished(string)               {}
func (noObserver) PushbackSettled(string)           {}
func (noObserver) Screened(int, int)                {}

// Engine runs syncs.
type Engine struct {
	cfg   Config
	ent   *ent.Client
	db    *sql.DB
	dia   string
	open  func(*ent.Integration) (connector.Connector, error)
	bus   progress.Broker
	log   *slog.Logger
	obs   Observer
	river *river.Client[*sql.Tx]

	screener *screening.Client
}

// New builds an engine; Start runs its workers.
func New(cfg Config, d Deps) (*Engine, error) {
	cfg = cfg.withDefaults()
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, ent: d.Ent, db: d.DB, dia: d.Dialect, open: d.Open, bus: d.Broker, log: log, obs: d.Observer, screener: d.Screener}
	if e.obs == nil {
		e.obs = noObserver{}
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{e: e})
	river.AddWorker(workers, &scheduleWorker{e: e})
	river.AddWorker(workers, &pushbackWorker{e: e})
	river.AddWorker(workers, &auditPruneWorker{e: e})
	river.AddWorker(workers, &retentionWorker{e: e})
	periodic := []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(cfg.ScheduleEvery),
		func() (river.JobArgs, *river.InsertOpts) { return scheduleArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
	if cfg.AuditRetention > 0 {
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.AuditPruneEvery),
			func() (river.JobArgs, *river.InsertOpts) { return auditPruneArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		))
	}
	if cfg.IssueRetention > 0 || cfg.TranscriptRetention > 0 {
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.RetentionEvery),
			func() (river.JobArgs, *river.InsertOpts) { return retentionArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		))
	}
	rcfg := &river.Config{
		ID: cfg.ID,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			// Deliveries are short: a free slot takes a job after at most
			// 10ms, not after the client's cooldown, which would cap a
			// queue at MaxWorkers jobs per cooldown.
			pushbackQueue: {MaxWorkers: cfg.PushbackWorkers, FetchCooldown: min(cfg.PollInterval, 10*time.Millisecond)},
		},
		Workers:              workers,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           -1, // runs are bounded by their lease, not a timer
		MaxAttempts:          maxAttempts,
		Logger:               slog.New(quietHandler{log.Handler()}),
		PeriodicJobs:         periodic,
	}
	var err error
	if d.Dialect == dialect.Postgres {
		e.river, err = river.NewClient(riverdatabasesql.New(d.QueueDB), rcfg)
	} else {
		e.river, err = river.NewClient(riversqlite.New(d.QueueDB), rcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("sync engine: %w", err)
	}
	return e, nil
}

// Start starts the workers and, on the elected leader, the scheduler.
func (e *Engine) Start(ctx context.Context) error { return e.river.Start(ctx) }

// Stop lets running syncs finish their current page and stop, within ctx;
// then cancels them. Runs left RUNNING resume from their checkpoint later.
func (e *Engine) Stop(ctx context.Context) error {
	soft, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.river.Stop(soft); err != nil {
		if err := e.river.StopAndCancel(ctx); err != nil {
			return err
		}
	}
	// Every worker has returned: the runs they held can resume at once on
	// any replica, or here after a restart, instead of after their lease.
	_, err := e.ent.SyncRun.Update().
		Where(syncrun.LeaseOwner(e.cfg.ID), syncrun.StatusEQ(syncrun.StatusRUNNING)).
		ClearLeaseOwner().ClearLeaseExpiresAt().
		Save(viewer.SystemContext(context.WithoutCancel(ctx)))
	return err
}

// inTx runs fn in a transaction on the engine's pool, with an ent client
// bound to the same transaction.
func (e *Engine) inTx(ctx context.Context, fn func(tx *sql.Tx, c *ent.Client) error) error {
	return store.InTx(ctx, e.db, e.dia, fn)
}

// ph is the i-th (1-based) placeholder of the dialect.
func (e *Engine) ph(i int) string {
	if e.dia == dialect.Postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// publish tells subscribers a run changed. Notices are hints: a lost one
// costs a subscriber nothing but latency, so failures are only logged.
func (e *Engine) publish(ctx context.Context, n progress.Notice) {
	if err := e.bus.Publish(context.WithoutCancel(ctx), n); err != nil {
		e.log.WarnContext(ctx, "publishing progress", slog.Any("err", err))
	}
}

// quietHandler keeps River's routine info logs out of Intake's log.
type quietHandler struct{ slog.Handler }

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

var errStopped = errors.New("run is no longer this worker's: cancelled or taken over")

func (q quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{q.Handler.WithAttrs(a)}
}

func (q quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{q.Handler.WithGroup(name)}
}
