//go:build unix

// Command purgebench measures the retention purge of import issues while
// syncs write to the same table:
//
//	go run ./internal/bench/purgebench [-n 1000000] [-recent 10000] [-sync-n 50000] [-syncs 2]
//	    [-provider HUBSPOT|ZVOOVE] [-workers 4] [-baseline 30s] [-sample 20ms]
//	    [-postgres URL] [-keep] [-timeout 1h] [-v]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, serves the sandbox FAKES of the providers on 127.0.0.1 with
// -sync-n people, and assembles Intake as main.go does (internal/app, with
// -workers sync workers and its own retention job off, so that the only
// purge is the one measured). Through the service it connects an
// integration to the chosen provider's fake and enables -syncs triggers on
// as many campaigns, each fetching every person, and runs each once (the
// first run imports the contacts; it is not measured).
//
// It then seeds -n import issues past the retention (INTAKE_RETENTION_
// IMPORT_ISSUES, default 90 days), spread over the half year before the
// cutoff, and -recent younger ones, with one INSERT ... SELECT from
// generate_series per 200,000 rows, all belonging to a finished run of a
// disabled trigger of their own, and analyzes the table.
//
// From then on each trigger is synced again and again (test runs, one after
// the other): every person it fetches is already in the campaign or has no
// usable number, so every record becomes an import issue, and the syncs
// insert into import_issues all the time. For -baseline the syncs run
// alone, then the purge runs alongside them: engine.PurgeExpired, pass
// after pass without the hour between passes, until a pass purges nothing.
// The purge runs on a pool of its own whose driver times every statement
// (client side: from sending it to its result; a DELETE in autocommit holds
// its row locks at most that long). Every -sample a separate connection
// reads pg_stat_activity for the scratch database: the age of each open
// transaction, and which backends wait for a lock and on whom.
//
// It prints the rows purged, the time, the purge rate, the passes and the
// statements' durations (max, p99, p50, and the mean of the first and of
// the last 100, with the autovacuums of the table meanwhile: the purged
// rows' index entries stay until vacuum removes them), the longest
// transactions sampled, the lock waits seen, the syncs' records per second
// with and without the purge and their ratio. It then checks that no issue past the retention is left, that
// every seeded recent issue survived, and that every sync run's issues are
// all there (fetched - imported of each run). The verdict line says PASS
// when no purge statement took longer than 1 s and no purge transaction
// was seen open longer, FAIL otherwise; FAIL, or a failed check, exits
// non-zero. The scratch database is dropped at the end unless -keep is
// given.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// Bounds of the flags.
const (
	minN, maxN         = 1, 10_000_000
	minSyncN, maxSyncN = 10, 1_000_000 // the sandbox serves at most a million people
	maxSyncs           = 8
)

// lockBound is the requirement: no purge statement holds its locks longer.
const lockBound = time.Second

// step is the time between two people's creation in the data set (as in
// syncbench).
const step = time.Second

// seedChunk is how many issues one seeding statement inserts.
const seedChunk = 200_000

// oldSpan is how far before the cutoff the seeded expired issues reach.
const oldSpan = 180 * 24 * time.Hour

// Application names that tell the benchmark's own backends apart in
// pg_stat_activity.
const (
	purgeApp   = "purgebench_purge"
	samplerApp = "purgebench_sampler"
)

// benchProviders are the providers whose search fetches every person on
// every run (a talent pool search over a fixed span); a new-applications
// search would fetch nothing after the first run.
var benchProviders = []schematype.ProviderKey{schematype.ProviderHubSpot, schematype.ProviderZvoove}

// errFail is returned when the verdict is FAIL, after it was printed.
var errFail = errors.New("FAIL")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "purgebench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n, recent int
	syncN     int
	syncs     int
	provider  schematype.ProviderKey
	workers   int
	baseline  time.Duration
	sample    time.Duration
	postgres  string
	keep      bool
	timeout   time.Duration
	verbose   bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var provider string
	fs := flag.NewFlagSet("purgebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 1_000_000, fmt.Sprintf("import issues past the retention to seed and purge (%d to %d)", minN, maxN))
	fs.IntVar(&o.recent, "recent", 10_000, "import issues inside the retention to seed; all must survive the purge")
	fs.IntVar(&o.syncN, "sync-n", 50_000, fmt.Sprintf("people the sandbox serves, all of which each sync run fetches (%d to %d)", minSyncN, maxSyncN))
	fs.IntVar(&o.syncs, "syncs", 2, fmt.Sprintf("triggers synced again and again at the same time (1 to %d)", maxSyncs))
	fs.StringVar(&provider, "provider", string(schematype.ProviderHubSpot), "provider whose sandbox fake to sync from: HUBSPOT or ZVOOVE")
	fs.IntVar(&o.workers, "workers", 4, "sync engine workers (INTAKE_SYNC_WORKERS)")
	fs.DurationVar(&o.baseline, "baseline", 30*time.Second, "how long the syncs run without the purge, for the baseline rate")
	fs.DurationVar(&o.sample, "sample", 20*time.Millisecond, "how often pg_stat_activity is sampled")
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.DurationVar(&o.timeout, "timeout", time.Hour, "give up when the purge, or a sync run, has not ended after this long")
	fs.BoolVar(&o.verbose, "v", false, "log the engine's info messages to stderr (default: warnings and errors)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.n < minN || o.n > maxN {
		return o, fmt.Errorf("-n: %d is not between %d and %d", o.n, minN, maxN)
	}
	if o.recent < 0 || o.recent > maxN {
		return o, fmt.Errorf("-recent: %d is not between 0 and %d", o.recent, maxN)
	}
	if o.syncN < minSyncN || o.syncN > maxSyncN {
		return o, fmt.Errorf("-sync-n: %d is not between %d and %d", o.syncN, minSyncN, maxSyncN)
	}
	if o.syncs < 1 || o.syncs > maxSyncs {
		return o, fmt.Errorf("-syncs: %d is not between 1 and %d", o.syncs, maxSyncs)
	}
	o.provider = schematype.ProviderKey(strings.ToUpper(strings.TrimSpace(provider)))
	if !slices.Contains(benchProviders, o.provider) {
		return o, fmt.Errorf("-provider: %q is not one of HUBSPOT, ZVOOVE (their searches fetch every person on every run)", provider)
	}
	if o.workers < o.syncs || o.workers > 256 {
		return o, fmt.Errorf("-workers: %d is not between -syncs (%d) and 256", o.workers, o.syncs)
	}
	if o.baseline <= 0 {
		return o, fmt.Errorf("-baseline: %s must be positive", o.baseline)
	}
	if o.sample < time.Millisecond {
		return o, fmt.Errorf("-sample: %s is below 1ms", o.sample)
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout: %s must be positive", o.timeout)
	}
	var err error
	o.postgres, err = benchkit.PostgresURL(o.postgres)
	return o, err
}

// result is what one benchmark measured.
type result struct {
	N, Recent  int
	SyncN      int
	Syncs      int
	Provider   schematype.ProviderKey
	SearchType string
	Database   string // the scratch database's name
	Retention  time.Duration
	Autovacuum string // the server's autovacuum setting
	LoadBefore string // load averages when the benchmark began and ended
	LoadAfter  string

	SeedSeconds float64

	// The purge.
	Purged         int // import issues deleted
	Passes         int
	PurgeSeconds   float64
	PurgeRate      float64 // rows per second
	MaxPassSeconds float64
	// Statements deleting import issues (client-side durations).
	Statements                int
	StmtMax, StmtP99, StmtP50 time.Duration
	// Mean of the first and of the last 100 DELETEs: how the statements
	// change as the purge goes on (the purged rows' index entries stay
	// until vacuum removes them).
	FirstMean, LastMean          time.Duration
	Autovacuums                  int           // of import_issues during the purge
	OtherStatements              int           // the passes' transcript statements
	OtherMax                     time.Duration // their longest
	LongestStatement             time.Duration // of all purge statements
	PurgeXactMax                 time.Duration // longest purge transaction sampled
	OtherXactMax                 time.Duration // longest other transaction sampled
	OtherXactQuery, OtherXactApp string
	Samples, SampleErrors        int
	WaitEvents                   string // the waits by wait_event
	PurgeWaits, OtherWaits       int    // lock waits seen (distinct statements)
	WaitsOnPurge                 int    // other backends' waits for the purge backend
	LongestWait                  time.Duration
	LongestWaitQuery             string

	// The syncs.
	BaselineRecords, PurgeRecords int
	BaselineSeconds               float64
	BaselineRate, PurgeSyncRate   float64 // records per second
	SyncRatio                     float64 // PurgeSyncRate / BaselineRate
	SyncRuns                      int     // runs started after the first ones
	FailedRuns                    int

	// The checks.
	ExpiredLeft      int // issues past the retention after the purge
	RecentLeft       int // seeded recent issues after the purge
	SyncIssues       int // issues of the sync runs after the purge
	SyncIssuesWanted int // their runs' fetched - imported
	Pass             bool
	Summary          string
}

// run runs the benchmark and prints its figures to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*result, error) {
	o, err := parseFlags(args, os.Getenv, stderr)
	if err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	res := &result{N: o.n, Recent: o.recent, SyncN: o.syncN, Syncs: o.syncs, Provider: o.provider, LoadBefore: benchkit.LoadAverage()}
	sc, err := benchkit.OpenScratch(ctx, o.postgres, "intake_purgebench")
	if err != nil {
		return res, err
	}
	defer sc.Close(o.keep, stdout, stderr, "purgebench")
	res.Database = sc.Name
	st := sc.Store
	// Without autovacuum nothing removes the purged rows' index entries,
	// which the later batches then step over: the figures depend on it.
	if err := st.DB.QueryRowContext(ctx, `SHOW autovacuum`).Scan(&res.Autovacuum); err != nil {
		return res, err
	}

	data := sandbox.Dataset{Seed: 1, Size: o.syncN, Step: step}.
		AnchoredAt(time.Now().Add(-sandbox.UpdatedAtLag - time.Minute))
	fk := fakes.New(data)
	if err := fk.Start("127.0.0.1:0"); err != nil {
		return res, err
	}
	defer fk.Close()

	cfg, err := benchkit.Config(sc.URL, nil)
	if err != nil {
		return res, err
	}
	if cfg.IssueRetention <= 0 {
		return res, errors.New("the configuration keeps import issues forever: nothing to purge")
	}
	res.Retention = cfg.IssueRetention
	a, err := app.New(ctx, cfg, app.Options{
		Logger: log, Store: st,
		Engine: func(c *engine.Config) {
			c.Workers = o.workers
			// The purge measured is the benchmark's own.
			c.IssueRetention, c.TranscriptRetention = 0, 0
		},
	})
	if err != nil {
		return res, err
	}
	stopApp := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			log.Warn("stopping Intake", slog.Any("err", err))
		}
	}
	defer stopApp()

	// The purging engine: configured as the deployment's (the retentions
	// of cfg), on a pool that times its statements. It is never started;
	// its PurgeExpired is what the leader's retention job calls.
	timer := &stmtTimer{}
	purgeDB, err := openTimed(sc.URL, purgeApp, timer)
	if err != nil {
		return res, err
	}
	defer purgeDB.Close()
	queueDB, err := st.QueueDB()
	if err != nil {
		return res, err
	}
	purger, err := engine.New(engine.Config{IssueRetention: cfg.IssueRetention, TranscriptRetention: cfg.TranscriptRetention},
		engine.Deps{Ent: st.Client, DB: purgeDB, QueueDB: queueDB, Dialect: st.Dialect, Broker: progress.NewLocal(), Logger: log})
	if err != nil {
		return res, err
	}

	setup, err := benchkit.Prepare(ctx, a.Service, fk, o.provider, data, "purgebench", nil)
	if err != nil {
		return res, err
	}
	res.SearchType = setup.SearchType
	triggers := []*ent.Trigger{setup.Trigger}
	for i := 1; i < o.syncs; i++ {
		camp, err := a.Service.CreateCampaign(setup.Ctx, service.CreateCampaignInput{Name: fmt.Sprintf("purgebench %d", i+1)})
		if err != nil {
			return res, err
		}
		t, err := setup.Configure(a.Service, camp.ID, true, nil)
		if err != nil {
			return res, err
		}
		triggers = append(triggers, t)
	}
	params, _ := json.Marshal(setup.Params)
	fmt.Fprintf(stdout, "purgebench: %d import issues past the retention (%s) and %d inside it; %d syncs of %d people from the %s sandbox fake (%s %s) run again and again; %d workers, GOMAXPROCS %d, autovacuum %s, load %s, database %s\n",
		o.n, days(res.Retention), o.recent, o.syncs, o.syncN, o.provider, setup.SearchType, params, o.workers, runtime.GOMAXPROCS(0), res.Autovacuum, res.LoadBefore, res.Database)

	// The first run of each trigger imports its contacts; from the second
	// on, every record becomes an import issue. Queued before the engine
	// starts, so the scheduler finds them active instead of queueing its
	// own (see syncbench).
	streams := make([]*stream, len(triggers))
	for i, t := range triggers {
		streams[i] = &stream{svc: a.Service, client: st.Client, ctx: setup.Ctx, trigger: t.ID, log: log, timeout: o.timeout}
		if err := streams[i].queue(); err != nil {
			return res, err
		}
	}
	if err := a.Start(ctx); err != nil {
		return res, fmt.Errorf("starting Intake: %w", err)
	}
	began := time.Now()
	for _, s := range streams {
		if err := s.finish(ctx); err != nil {
			return res, fmt.Errorf("the first run: %w", err)
		}
	}
	fmt.Fprintf(stdout, "first runs: %d x %d people imported in %.1fs (not measured)\n", o.syncs, o.syncN, time.Since(began).Seconds())

	seedRun, err := seed(ctx, st.Client, st.DB, a.Service, setup, o, res, stdout)
	if err != nil {
		return res, fmt.Errorf("seeding: %w", err)
	}

	// The syncs run from here to the end of the purge.
	sctx, stopSyncs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var syncErr atomic.Pointer[error]
	for _, s := range streams {
		wg.Go(func() {
			if err := s.loop(sctx); err != nil && sctx.Err() == nil {
				syncErr.CompareAndSwap(nil, &err)
				stopSyncs()
			}
		})
	}
	stopAll := func() {
		stopSyncs()
		wg.Wait()
	}
	defer stopAll()
	records := func() int {
		n := 0
		for _, s := range streams {
			n += int(s.fetched.Load())
		}
		return n
	}

	// Baseline: the syncs alone.
	b0, t0 := records(), time.Now()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(o.baseline):
	}
	b1, t1 := records(), time.Now()
	res.BaselineRecords, res.BaselineSeconds = b1-b0, t1.Sub(t0).Seconds()
	res.BaselineRate = float64(res.BaselineRecords) / res.BaselineSeconds
	fmt.Fprintf(stdout, "syncs alone: %d records in %.1fs = %.0f records/s\n", res.BaselineRecords, res.BaselineSeconds, res.BaselineRate)
	if p := syncErr.Load(); p != nil {
		return res, fmt.Errorf("a sync: %w", *p)
	}

	// The purge, with the syncs and the sampler running.
	smp, err := startSampler(ctx, sc.URL, o.sample)
	if err != nil {
		return res, err
	}
	defer smp.stop()
	timer.reset()
	av0 := autovacuums(ctx, st.DB)
	p0, pt0 := records(), time.Now()
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var passes []time.Duration
	var lastCutoff time.Time
	for {
		now := time.Now().UTC()
		lastCutoff = now.Add(-res.Retention)
		ps := time.Now()
		p, err := purger.PurgeExpired(pctx, now)
		passes = append(passes, time.Since(ps))
		res.Purged += p.Issues
		if err != nil {
			return res, fmt.Errorf("pass %d: %w", len(passes), err)
		}
		if p.Issues == 0 && p.Transcripts == 0 {
			break
		}
		fmt.Fprintf(stderr, "purgebench: pass %d purged %d in %.1fs (%d so far, syncs %d records)\n",
			len(passes), p.Issues, passes[len(passes)-1].Seconds(), res.Purged, records()-p0)
	}
	pt1 := time.Now()
	p1 := records()
	smp.stop()
	res.Autovacuums = autovacuums(ctx, st.DB) - av0
	stopAll()
	if p := syncErr.Load(); p != nil {
		return res, fmt.Errorf("a sync: %w", *p)
	}
	stopApp()

	res.Passes = len(passes)
	res.PurgeSeconds = pt1.Sub(pt0).Seconds()
	res.PurgeRate = float64(res.Purged) / res.PurgeSeconds
	res.MaxPassSeconds = slices.Max(passes).Seconds()
	res.PurgeRecords = p1 - p0
	res.PurgeSyncRate = float64(res.PurgeRecords) / res.PurgeSeconds
	if res.BaselineRate > 0 {
		res.SyncRatio = res.PurgeSyncRate / res.BaselineRate
	}
	for _, s := range streams {
		res.SyncRuns += s.runs - 1
		res.FailedRuns += s.failed
	}
	timer.summarize(res)
	smp.summarize(res)
	res.LoadAfter = benchkit.LoadAverage()

	fmt.Fprintf(stdout, "purge: %d import issues in %d passes, %.1fs = %.0f rows/s (longest pass %.2fs; a pass deletes up to 100,000)\n",
		res.Purged, res.Passes, res.PurgeSeconds, res.PurgeRate, res.MaxPassSeconds)
	fmt.Fprintf(stdout, "  DELETE statements  %d: max %s, p99 %s, p50 %s (client-side, each its own autocommit transaction)\n",
		res.Statements, ms(res.StmtMax), ms(res.StmtP99), ms(res.StmtP50))
	fmt.Fprintf(stdout, "  DELETE mean        first 100 %s, last 100 %s (autovacuums of import_issues during the purge: %d)\n",
		ms(res.FirstMean), ms(res.LastMean), res.Autovacuums)
	fmt.Fprintf(stdout, "  transcript UPDATEs %d: max %s (no call results: one empty statement a pass)\n", res.OtherStatements, ms(res.OtherMax))
	fmt.Fprintf(stdout, "  sampled            %d times (%d failed), every %s: longest purge transaction %s; longest other transaction %s (%s: %s)\n",
		res.Samples, res.SampleErrors, o.sample, ms(res.PurgeXactMax), ms(res.OtherXactMax), cmp.Or(res.OtherXactApp, "Intake"), res.OtherXactQuery)
	fmt.Fprintf(stdout, "  lock waits         purge %d, others %d (%d of them on the purge)%s; longest %s%s\n",
		res.PurgeWaits, res.OtherWaits, res.WaitsOnPurge, parenthesized(res.WaitEvents), ms(res.LongestWait), quoted(res.LongestWaitQuery))
	fmt.Fprintf(stdout, "syncs during the purge: %d records in %.1fs = %.0f records/s = %.2f x the %.0f records/s alone (%d runs after the first, %d failed)\n",
		res.PurgeRecords, res.PurgeSeconds, res.PurgeSyncRate, res.SyncRatio, res.BaselineRate, res.SyncRuns, res.FailedRuns)
	if res.PurgeRecords == 0 {
		// The runs report their progress a page at a time: a purge shorter
		// than a page saw none, and its rate says nothing.
		fmt.Fprintln(stdout, "  (no sync progress was reported during the purge: it was too short for the rate to mean anything)")
	}

	// The checks.
	vctx := context.WithoutCancel(ctx)
	if err := st.DB.QueryRowContext(vctx, `SELECT count(*) FROM import_issues WHERE created_at < $1`, lastCutoff).Scan(&res.ExpiredLeft); err != nil {
		return res, err
	}
	if err := st.DB.QueryRowContext(vctx, `SELECT count(*) FROM import_issues WHERE run_id = $1`, seedRun).Scan(&res.RecentLeft); err != nil {
		return res, err
	}
	ids := make([]string, len(triggers))
	for i, t := range triggers {
		ids[i] = string(t.ID)
	}
	if err := st.DB.QueryRowContext(vctx, `SELECT coalesce(sum(fetched - imported), 0), (SELECT count(*) FROM import_issues i JOIN sync_runs r2 ON r2.id = i.run_id WHERE r2.trigger_id = ANY($1))
		FROM sync_runs WHERE trigger_id = ANY($1)`, pq.Array(ids)).Scan(&res.SyncIssuesWanted, &res.SyncIssues); err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "left: %d issues past the retention; %d of %d seeded recent issues; %d issues of the sync runs (their counters: %d)\n",
		res.ExpiredLeft, res.RecentLeft, o.recent, res.SyncIssues, res.SyncIssuesWanted)

	res.Pass = res.LongestStatement <= lockBound && res.PurgeXactMax <= lockBound
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "%s: no purge statement holding its locks longer than %s (longest statement %s, longest purge transaction sampled %s)\n",
		verdict, lockBound, ms(res.LongestStatement), ms(res.PurgeXactMax))
	res.Summary = fmt.Sprintf("purge: %d rows in %.1fs = %.0f rows/s, statements max %s p99 %s; syncs %.0f records/s during, %.0f alone (%.2f); load %s",
		res.Purged, res.PurgeSeconds, res.PurgeRate, ms(res.StmtMax), ms(res.StmtP99), res.PurgeSyncRate, res.BaselineRate, res.SyncRatio, res.LoadAfter)
	fmt.Fprintln(stdout, res.Summary)

	switch {
	case res.Purged < o.n:
		return res, fmt.Errorf("purged %d import issues, seeded %d past the retention", res.Purged, o.n)
	case res.ExpiredLeft != 0:
		return res, fmt.Errorf("%d import issues past the retention are left", res.ExpiredLeft)
	case res.RecentLeft != o.recent:
		return res, fmt.Errorf("%d of the %d seeded recent import issues are left", res.RecentLeft, o.recent)
	case res.SyncIssues != res.SyncIssuesWanted:
		return res, fmt.Errorf("the sync runs have %d import issues, their counters say %d", res.SyncIssues, res.SyncIssuesWanted)
	case !res.Pass:
		return res, errFail
	}
	return res, nil
}

// seed inserts the issues of a finished run of a disabled trigger of their
// own: o.n past the retention, o.recent inside it, and analyzes the table.
// It returns the run.
func seed(ctx context.Context, c *ent.Client, db *sql.DB, svc *service.Service, s *benchkit.Setup, o options, res *result, stdout io.Writer) (pulid.ID, error) {
	camp, err := svc.CreateCampaign(s.Ctx, service.CreateCampaignInput{Name: "purgebench seed"})
	if err != nil {
		return "", err
	}
	t, err := s.Configure(svc, camp.ID, false, nil)
	if err != nil {
		return "", err
	}
	began := time.Now()
	run, err := c.SyncRun.Create().SetTriggerID(t.ID).SetKind(syncrun.KindTEST).SetStatus(syncrun.StatusSUCCEEDED).
		SetStartedAt(began).SetFinishedAt(began).SetFetched(o.n + o.recent).SetInvalidPhone(o.n + o.recent).
		Save(viewer.ForOrg(ctx, s.OrgID))
	if err != nil {
		return "", err
	}
	cutoff := began.UTC().Add(-res.Retention)
	// Expired: row g (1..n) is g steps of oldSpan/n older than a minute
	// before the cutoff. Recent: from an hour after the cutoff to an hour
	// before now. IDs grow with the time, as ULIDs do.
	insert := func(from, to int, newest time.Time, gap time.Duration, idBase int) error {
		_, err := db.ExecContext(ctx, `INSERT INTO import_issues (id, organization_id, created_at, external_id, code, message, raw_phone, run_id)
			SELECT 'iss_' || lpad(upper(to_hex($6::bigint - g)), 26, '0'), $1, $2::timestamptz - g * $3::bigint * interval '1 microsecond',
				'seed-' || ($6::bigint - g),
				(ARRAY['INVALID_PHONE', 'DUPLICATE', 'MISSING_PHONE'])[1 + g % 3],
				CASE g % 3 WHEN 0 THEN 'phone number 0151 ' || g || ' is not valid'
					WHEN 1 THEN 'number +49151' || lpad(g::text, 8, '0') || ' is already in the campaign'
					ELSE 'the record has no phone number' END,
				CASE WHEN g % 3 = 2 THEN NULL ELSE '0151 ' || g END,
				$7
			FROM generate_series($4::bigint, $5::bigint) g`,
			string(s.OrgID), newest, gap.Microseconds(), from, to, idBase, string(run.ID))
		return err
	}
	for from := 0; from < o.n; from += seedChunk {
		to := min(from+seedChunk, o.n) - 1
		if err := insert(from, to, cutoff.Add(-time.Minute), oldSpan/time.Duration(o.n), o.n); err != nil {
			return "", err
		}
	}
	if o.recent > 0 {
		window := res.Retention - 2*time.Hour
		if err := insert(0, o.recent-1, began.UTC().Add(-time.Hour), window/time.Duration(o.recent), o.n+o.recent); err != nil {
			return "", err
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE import_issues`); err != nil {
		return "", err
	}
	res.SeedSeconds = time.Since(began).Seconds()
	fmt.Fprintf(stdout, "seed: %d + %d import issues in %.1fs = %.0f rows/s (INSERT ... SELECT, then ANALYZE)\n",
		o.n, o.recent, res.SeedSeconds, float64(o.n+o.recent)/res.SeedSeconds)
	return run.ID, nil
}

// stream syncs one trigger: test runs, one after the other.
type stream struct {
	svc     *service.Service
	client  *ent.Client
	ctx     context.Context // the viewer's
	trigger pulid.ID
	log     *slog.Logger
	timeout time.Duration

	run     *ent.SyncRun // the run being waited for
	done    int          // records fetched by the runs that ended
	fetched atomic.Int64 // done and the current run's fetched so far
	runs    int
	failed  int
}

// queue queues a test run of the trigger.
func (s *stream) queue() error {
	run, err := s.svc.TestSync(s.ctx, s.trigger)
	if err != nil {
		return fmt.Errorf("queueing a run: %w", err)
	}
	s.run = run
	s.runs++
	return nil
}

// finish waits for the queued run to end, counting its records as they
// come. A run that does not succeed is counted, and logged.
func (s *stream) finish(ctx context.Context) error {
	deadline := time.Now().Add(s.timeout)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
		cur, err := s.client.SyncRun.Get(s.ctx, s.run.ID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("reading a run", slog.Any("err", err))
			continue
		}
		s.fetched.Store(int64(s.done + cur.Fetched))
		if engine.RunEnded(cur.Status) {
			s.done += cur.Fetched
			if cur.Status != syncrun.StatusSUCCEEDED {
				s.failed++
				s.log.Warn("a sync run did not succeed", slog.String("status", string(cur.Status)), slog.String("error", deref(cur.Error)))
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %s has not ended after %s", cur.ID, s.timeout)
		}
	}
}

// loop runs the trigger until ctx ends, letting the last run end.
func (s *stream) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := s.queue(); err != nil {
			return err
		}
		// The run in flight ends on its own: its issues are checked.
		if err := s.finish(context.WithoutCancel(ctx)); err != nil {
			return err
		}
	}
	return nil
}

// stmtTimer records how long each statement of the purge pool took.
type stmtTimer struct {
	mu      sync.Mutex
	deletes []time.Duration // statements deleting import issues
	others  []time.Duration
}

func (t *stmtTimer) record(query string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if strings.HasPrefix(query, "DELETE FROM import_issues") {
		t.deletes = append(t.deletes, d)
	} else {
		t.others = append(t.others, d)
	}
}

func (t *stmtTimer) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deletes, t.others = nil, nil
}

func (t *stmtTimer) summarize(res *result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := min(100, len(t.deletes))
	res.FirstMean, res.LastMean = mean(t.deletes[:k]), mean(t.deletes[len(t.deletes)-k:])
	d := slices.Clone(t.deletes)
	slices.Sort(d)
	res.Statements, res.OtherStatements = len(d), len(t.others)
	if len(d) > 0 {
		res.StmtMax, res.StmtP99, res.StmtP50 = d[len(d)-1], percentile(d, 0.99), percentile(d, 0.50)
	}
	if len(t.others) > 0 {
		res.OtherMax = slices.Max(t.others)
	}
	res.LongestStatement = max(res.StmtMax, res.OtherMax)
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// autovacuums is how many times autovacuum has vacuumed import_issues (-1
// when the statistics cannot be read).
func autovacuums(ctx context.Context, db *sql.DB) int {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'import_issues'`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// withApp is the URL with an application_name, which pg_stat_activity
// shows.
func withApp(dbURL, name string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func quoted(q string) string {
	if q == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", q)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
