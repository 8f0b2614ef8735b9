// Command ratebench measures how close Intake comes to the time an
// external account's rate limits allow, with syncs and pushbacks of
// several replicas sharing one account:
//
//	go run ./internal/bench/ratebench [-triggers 20] [-contacts 5000] [-pushbacks 1000]
//	    [-replicas 2] [-workers 4] [-pushback-workers 20] [-callers 8] [-record-over 0s]
//	    [-mapping=true] [-postgres URL] [-keep] [-timeout 30m] [-v]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, serves the sandbox FAKES on 127.0.0.1 with -contacts people,
// and assembles and starts -replicas Intakes as main.go does (internal/app),
// each with its own pool, engine and HTTP server on the one database and
// the same credentials key. All talk to one HubSpot account: one
// integration, connected without a rateLimit of its own, so the
// provider's documented limits (100 requests per 10 s, 4 searches a
// second) pace it.
//
// Setup, with the fake enforcing no limits: a setup campaign whose trigger
// (pushback on, with a status mapping unless -mapping=false) imports the
// data set once, then is disabled; -triggers campaigns, each with a
// disabled trigger fetching every person, pushback on. Then nothing is
// sent until the rate budget's window of the setup's requests has passed.
//
// Measured phase: the fake starts enforcing a Free account's limits
// (hubspotfake.FreeAccount) with fresh counts, the -triggers triggers are
// enabled, which makes them due for the engines' schedulers (scheduled runs:
// class Background), and -pushbacks call results are recorded for the setup
// campaign's contacts through the replicas' services in turn (class
// Pushback): all at once by -callers goroutines, or evenly over
// -record-over. The clock runs until every run has ended and every
// pushback is DELIVERED or DEAD.
//
// The minimum time the limits allow for the R requests and S searches the
// fake served is max(10 s * floor((R-1)/100), 1 s * floor((S-1)/4)): the
// first 100 requests (4 searches) may go at once, each further 100 (4)
// a window (a second) after the ones they replace. It prints that, the
// ratio of the wall time to it, the fake's 429s and their share, the
// pushbacks' budget waits (the intake_rate_budget_wait_seconds histogram of
// every replica, per request; each delivery attempt's duration, which
// bounds the waits of its requests together) and their latency from record
// to delivery, and PASS or FAIL for the three targets: ratio at most 1.15,
// at most 1% of the requests answered 429, no pushback waiting more than
// 30 s for the budget. A missed target is reported, not an error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// Targets of the measured phase.
const (
	targetRatio     = 1.15
	targetRefused   = 0.01 // share of the requests answered 429
	targetPushWaitS = 30.0 // seconds a pushback may wait for the budget
)

// mapping is the status mapping of the pushback triggers: lead statuses
// the HubSpot fake accepts (success, partial, failure, not answered). With
// it each delivery is two requests: the call, and the contact's status.
var mapping = [4]string{"CONNECTED", "IN_PROGRESS", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT"}

var outcomes = []schematype.CallOutcome{
	schematype.OutcomeSuccess, schematype.OutcomePartial, schematype.OutcomeFailure, schematype.OutcomeNotAnswered,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ratebench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	triggers        int
	contacts        int
	pushbacks       int
	replicas        int
	workers         int
	pushbackWorkers int
	callers         int
	recordOver      time.Duration
	mapping         bool
	postgres        string
	keep            bool
	timeout         time.Duration
	verbose         bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ratebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.triggers, "triggers", 20, "campaigns, each with a trigger syncing every person of the account (1 to 500)")
	fs.IntVar(&o.contacts, "contacts", 5000, "people in the HubSpot account, all of which each trigger syncs (10 to 100000)")
	fs.IntVar(&o.pushbacks, "pushbacks", 1000, "call results recorded and pushed back to HubSpot (0 to 100000)")
	fs.IntVar(&o.replicas, "replicas", 2, "Intake replicas on the one database (1 to 8)")
	fs.IntVar(&o.workers, "workers", 4, "sync workers per replica (INTAKE_SYNC_WORKERS)")
	fs.IntVar(&o.pushbackWorkers, "pushback-workers", 20, "deliveries at once per replica (INTAKE_PUSHBACK_WORKERS)")
	fs.IntVar(&o.callers, "callers", 8, "goroutines recording call results at once")
	fs.DurationVar(&o.recordOver, "record-over", 0, "record the call results evenly over this long instead of all at the start")
	fs.BoolVar(&o.mapping, "mapping", true, "map outcomes to lead statuses: each pushback sets the contact's status too (two requests instead of one)")
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up when the measured phase has not ended after this long")
	fs.BoolVar(&o.verbose, "v", false, "log the replicas' info messages to stderr (default: warnings and errors)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, c := range []struct {
		name    string
		v, a, b int
	}{
		{"-triggers", o.triggers, 1, 500}, {"-contacts", o.contacts, 10, 100_000}, {"-pushbacks", o.pushbacks, 0, 100_000},
		{"-replicas", o.replicas, 1, 8}, {"-workers", o.workers, 1, 256}, {"-pushback-workers", o.pushbackWorkers, 1, 1000},
		{"-callers", o.callers, 1, 256},
	} {
		if c.v < c.a || c.v > c.b {
			return o, fmt.Errorf("%s: %d is not between %d and %d", c.name, c.v, c.a, c.b)
		}
	}
	if o.recordOver < 0 {
		return o, fmt.Errorf("-record-over: %s is negative", o.recordOver)
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout: %s must be positive", o.timeout)
	}
	var err error
	o.postgres, err = benchkit.PostgresURL(o.postgres)
	return o, err
}

// result is what one benchmark measured (the measured phase only).
type result struct {
	Triggers, Contacts, Pushbacks, Replicas int
	Database                                string

	Runs, RunsSucceeded int
	Fetched, Imported   int
	Delivered, Dead     int
	RunsByReplica       []int // runs each replica's engine ended
	DeliveredByReplica  []int // pushbacks each replica's engine settled DELIVERED

	// What the fake saw: requests it served and refused (429), searches
	// among them.
	Served, Refused                 int
	Searches, SearchesRefused       int
	RefusedShare                    float64
	GrantsByClass                   map[string]int // the budgets' grants, every replica
	Seconds, MinSeconds, Ratio      float64        // Ratio 0: the minimum is 0
	SyncsSeconds, PushbacksSeconds  float64        // when the last run ended, the last pushback settled
	PushWaitMaxLE                   float64        // a pushback request's longest budget wait is at most this (histogram bound); -1 above the largest bucket
	PushWaitMean                    float64
	PushWaitRequests                int
	AttemptMax                      float64 // longest delivery attempt (River job attempted to finalized), seconds; -1 unknown
	LatencyP50, LatencyP95, Latency float64 // record to delivery, seconds
	CallsInFake                     int

	RatioPass, RefusedPass, PushWaitPass bool
	Summary                              string
}

// replica is one assembled Intake.
type replica struct {
	a   *app.App
	svc *service.Service
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
	res := &result{Triggers: o.triggers, Contacts: o.contacts, Pushbacks: o.pushbacks, Replicas: o.replicas}

	sc, err := benchkit.OpenScratch(ctx, o.postgres, "intake_bench")
	if err != nil {
		return nil, err
	}
	defer sc.Close(o.keep, stdout, stderr, "ratebench")
	res.Database = sc.Name

	// Every person was created and last changed before the run starts (see
	// syncbench), a second apart.
	data := sandbox.Dataset{Seed: 1, Size: o.contacts, Step: time.Second}.
		AnchoredAt(time.Now().Add(-sandbox.UpdatedAtLag - time.Minute))
	fk := fakes.New(data)
	counter := &counter{}
	stopFakes, err := serveFakes(fk, counter)
	if err != nil {
		return nil, err
	}
	defer stopFakes()

	// The replicas: the application's own assembly each, with its own
	// pool, on the one database and with one credentials key, so that each
	// opens the integration the other stored.
	key, err := benchkit.NewEncryptionKey()
	if err != nil {
		return nil, err
	}
	reps := make([]*replica, o.replicas)
	for i := range reps {
		cfg, err := benchkit.Config(sc.URL, map[string]string{"INTAKE_ENCRYPTION_KEY": key, "INTAKE_RATE_BUDGET": "true"})
		if err != nil {
			return nil, err
		}
		a, err := app.New(ctx, cfg, app.Options{
			Logger: log.With(slog.Int("replica", i)),
			Engine: func(c *engine.Config) { c.Workers, c.PushbackWorkers = o.workers, o.pushbackWorkers },
		})
		if err != nil {
			return nil, err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := a.Stop(sctx); err != nil {
				log.Warn("stopping a replica", slog.Int("replica", i), slog.Any("err", err))
			}
		}()
		if err := a.Start(ctx); err != nil {
			return nil, fmt.Errorf("starting replica %d: %w", i, err)
		}
		reps[i] = &replica{a: a, svc: a.Service}
	}

	fmt.Fprintf(stdout, "ratebench: HubSpot sandbox fake (Free account: %d requests per %s, %d searches/s), %d triggers x %d contacts, %d pushbacks (status mapping %v), %d replicas (%d sync workers, %d pushback workers each), GOMAXPROCS %d, database %s\n",
		hubspotfake.FreeAccount.Requests, hubspotfake.FreeAccount.Interval, hubspotfake.FreeAccount.SearchesPerSecond,
		o.triggers, o.contacts, o.pushbacks, o.mapping, o.replicas, o.workers, o.pushbackWorkers, runtime.GOMAXPROCS(0), res.Database)

	s, err := prepare(ctx, reps[0].svc, sc, fk, o, data, stderr)
	if err != nil {
		return res, err
	}

	// The budget counts the setup's requests for a window: the measured
	// phase starts with none in it, as the fake's fresh counts do.
	settle := counter.lastArrival().Add(hubspotfake.FreeAccount.Interval + time.Second)
	if d := time.Until(settle); d > 0 {
		fmt.Fprintf(stderr, "ratebench: setup done (%d contacts to call); waiting %.0fs for its requests to leave the budget's window\n",
			len(s.contacts), d.Seconds())
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(d):
		}
	}

	if err := measure(ctx, o, reps, sc, fk, counter, s, res, stderr); err != nil {
		return res, err
	}
	report(stdout, res)
	if v := fk.ContractViolations(); len(v) > 0 {
		return res, fmt.Errorf("%d requests or answers broke HubSpot's documented contract, e.g.: %s", len(v), v[0])
	}
	if res.CallsInFake != res.Delivered {
		return res, fmt.Errorf("the fake holds %d calls for %d deliveries", res.CallsInFake, res.Delivered)
	}
	return res, nil
}

// serveFakes serves fk on a loopback port through c, which counts the
// HubSpot requests and their answers.
func serveFakes(fk *fakes.Set, c *counter) (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fk.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: c.wrap(fk.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}, nil
}

// counter counts the HubSpot fake's requests by kind and answer: the fake
// counts what it served and refused, not which were searches.
type counter struct {
	mu                                       sync.Mutex
	last                                     time.Time
	searches, searchesRefused, other, refuse int
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/hubspot/") {
			next.ServeHTTP(w, r)
			return
		}
		search := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/hubspot/crm/v3/objects/") && strings.HasSuffix(r.URL.Path, "/search")
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		c.mu.Lock()
		c.last = time.Now()
		c.mu.Unlock()
		next.ServeHTTP(sw, r)
		refused := sw.status == http.StatusTooManyRequests
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case search && refused:
			c.searchesRefused++
		case search:
			c.searches++
		case refused:
			c.refuse++
		default:
			c.other++
		}
	})
}

// reset starts counting afresh.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.searches, c.searchesRefused, c.other, c.refuse = 0, 0, 0, 0
}

// counts returns the searches served and refused, and the other requests
// served and refused.
func (c *counter) counts() (searches, searchesRefused, other, refused int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.searches, c.searchesRefused, c.other, c.refuse
}

func (c *counter) lastArrival() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// setup is what the benchmark created before the measured phase.
type setup struct {
	ctx      context.Context // acts as the benchmark organization's admin
	integ    pulid.ID
	triggers []service.ConfigureTriggerInput // the measured triggers' configuration, disabled
	ids      []pulid.ID                      // their IDs
	contacts []pulid.ID                      // the setup campaign's, to record call results for
}

// prepare connects the integration, imports the setup campaign's contacts
// and configures the measured triggers, disabled.
func prepare(ctx context.Context, svc *service.Service, sc *benchkit.Scratch, fk *fakes.Set, o options, data sandbox.Dataset, stderr io.Writer) (*setup, error) {
	apiKey, err := svc.CreateAPIKey(ctx, "ratebench", schematype.RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("creating an API key: %w", err)
	}
	v, err := svc.Authenticate(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	s := &setup{ctx: viewer.NewContext(ctx, v)}
	creds := map[string]any{}
	for k, val := range fk.Credentials(schematype.ProviderHubSpot) {
		creds[k] = val
	}
	// No RateLimit: the provider's documented limits apply, as for an
	// integration a user connects.
	integ, err := svc.ConnectIntegration(s.ctx, service.ConnectIntegrationInput{
		Provider: schematype.ProviderHubSpot, Name: "ratebench HubSpot", Credentials: creds,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting HubSpot: %w", err)
	}
	if integ.Status != integration.StatusCONNECTED {
		return nil, fmt.Errorf("the HubSpot fake answered the connection check with %s", integ.Status)
	}
	s.integ = integ.ID
	desc, _ := providers.All().Get(schematype.ProviderHubSpot)
	searchType, params := benchkit.SearchAll(desc.Descriptor(), data)
	interval := service.MaxSyncInterval
	on := true
	input := func(campaign pulid.ID, enabled bool) service.ConfigureTriggerInput {
		in := service.ConfigureTriggerInput{
			CampaignID: campaign, IntegrationID: integ.ID, Enabled: enabled, SearchType: &searchType, SearchParams: params,
			SyncIntervalSeconds: &interval, PushbackEnabled: &on,
		}
		if o.mapping {
			m := mapping
			in.StatusMapping = &service.StatusMappingInput{Success: &m[0], Partial: &m[1], Failure: &m[2], NotAnswered: &m[3]}
		}
		return in
	}

	// The setup campaign: imported once, then disabled; call results of
	// its contacts are pushed back through its trigger, on the measured
	// integration.
	camp, err := svc.CreateCampaign(s.ctx, service.CreateCampaignInput{Name: "ratebench setup"})
	if err != nil {
		return nil, err
	}
	t, err := svc.ConfigureTrigger(s.ctx, input(camp.ID, true))
	if err != nil {
		return nil, fmt.Errorf("configuring the setup trigger: %w", err)
	}
	r, err := svc.TestSync(s.ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("starting the setup sync: %w", err)
	}
	fmt.Fprintf(stderr, "ratebench: importing the setup campaign's contacts\n")
	if err := waitIdle(ctx, sc, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("the setup sync %s: %w", r.ID, err)
	}
	if _, err := svc.ConfigureTrigger(s.ctx, input(camp.ID, false)); err != nil {
		return nil, fmt.Errorf("disabling the setup trigger: %w", err)
	}
	// A scheduler may have queued a run of it meanwhile: it ends before
	// the measured phase.
	if err := waitIdle(ctx, sc, 5*time.Minute); err != nil {
		return nil, err
	}
	var status string
	var runErr *string
	if err := sc.Store.DB.QueryRowContext(ctx, `SELECT status, error FROM sync_runs WHERE id = $1`, r.ID).Scan(&status, &runErr); err != nil {
		return nil, err
	}
	if status != "SUCCEEDED" {
		return nil, fmt.Errorf("the setup sync ended %s: %s", status, deref(runErr))
	}
	rows, err := sc.Store.DB.QueryContext(ctx, `SELECT id FROM contacts WHERE campaign_id = $1 ORDER BY id`, camp.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id pulid.ID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		s.contacts = append(s.contacts, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(s.contacts) == 0 && o.pushbacks > 0 {
		return nil, errors.New("the setup sync imported no contacts to record call results for")
	}

	for i := range o.triggers {
		camp, err := svc.CreateCampaign(s.ctx, service.CreateCampaignInput{Name: fmt.Sprintf("ratebench %d", i+1)})
		if err != nil {
			return nil, err
		}
		in := input(camp.ID, false)
		t, err := svc.ConfigureTrigger(s.ctx, in)
		if err != nil {
			return nil, fmt.Errorf("configuring trigger %d: %w", i+1, err)
		}
		s.triggers = append(s.triggers, in)
		s.ids = append(s.ids, t.ID)
	}
	return s, nil
}

// waitIdle waits until no sync run is queued or running.
func waitIdle(ctx context.Context, sc *benchkit.Scratch, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var n int
		if err := sc.Store.DB.QueryRowContext(ctx, `SELECT count(*) FROM sync_runs WHERE status IN ('QUEUED', 'RUNNING')`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d runs still under way after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measure runs the measured phase and reads its figures into res.
func measure(ctx context.Context, o options, reps []*replica, sc *benchkit.Scratch, fk *fakes.Set, c *counter, s *setup, res *result, stderr io.Writer) error {
	db := sc.Store.DB
	before := make([]metricSet, len(reps))
	for i, r := range reps {
		before[i] = scrape(r.a)
	}
	callsBefore := len(fk.HubSpot.Calls())

	// Fresh counts at the fake, limits enforced from here on.
	fk.HubSpot.SetLimits(&hubspotfake.FreeAccount)
	c.reset()
	began := time.Now()

	// Enabled, the triggers are due at once: the leader's scheduler queues
	// their runs on its next pass, and every replica's workers take them.
	for i, in := range s.triggers {
		in.Enabled = true
		if _, err := reps[i%len(reps)].svc.ConfigureTrigger(s.ctx, in); err != nil {
			return fmt.Errorf("enabling trigger %d: %w", i+1, err)
		}
	}
	if err := record(ctx, o, reps, s, began); err != nil {
		return err
	}

	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	lastReport := began
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("not done after %s: %d of %d runs ended, %d of %d pushbacks settled",
				o.timeout, res.Runs, o.triggers, res.Delivered+res.Dead, o.pushbacks)
		case <-poll.C:
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'SUCCEEDED'),
				coalesce(sum(fetched), 0), coalesce(sum(imported), 0)
			FROM sync_runs WHERE trigger_id = ANY($1) AND status NOT IN ('QUEUED', 'RUNNING')`, idArray(s.ids)).
			Scan(&res.Runs, &res.RunsSucceeded, &res.Fetched, &res.Imported); err != nil {
			return fmt.Errorf("counting runs: %w", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'DELIVERED'), count(*) FILTER (WHERE status = 'DEAD') FROM pushbacks`).
			Scan(&res.Delivered, &res.Dead); err != nil {
			return fmt.Errorf("counting pushbacks: %w", err)
		}
		if res.Runs >= o.triggers && res.Delivered+res.Dead >= o.pushbacks {
			break
		}
		if now := time.Now(); now.Sub(lastReport) >= 15*time.Second {
			lastReport = now
			st := fk.HubSpot.LimitStats()
			fmt.Fprintf(stderr, "ratebench: %.0fs: %d of %d runs ended (%d fetched), %d of %d pushbacks delivered, %d requests served, %d refused\n",
				now.Sub(began).Seconds(), res.Runs, o.triggers, res.Fetched, res.Delivered, o.pushbacks, st.Served, st.Refused)
		}
	}
	detected := time.Since(began)

	// The end is when the last run ended or the last pushback settled, as
	// the replicas recorded it (the poll only notices it later).
	var lastRun, lastPush *time.Time
	if err := db.QueryRowContext(ctx, `SELECT max(finished_at) FROM sync_runs WHERE trigger_id = ANY($1)`, idArray(s.ids)).Scan(&lastRun); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT max(coalesce(delivered_at, updated_at)) FROM pushbacks`).Scan(&lastPush); err != nil {
		return err
	}
	end := began
	if lastRun != nil {
		res.SyncsSeconds = lastRun.Sub(began).Seconds()
		end = later(end, *lastRun)
	}
	if lastPush != nil {
		res.PushbacksSeconds = lastPush.Sub(began).Seconds()
		end = later(end, *lastPush)
	}
	res.Seconds = end.Sub(began).Seconds()
	if res.Seconds <= 0 || res.Seconds > detected.Seconds() {
		res.Seconds = detected.Seconds()
	}

	stats := fk.HubSpot.LimitStats()
	res.Served, res.Refused = stats.Served, stats.Refused
	var other, otherRefused int
	res.Searches, res.SearchesRefused, other, otherRefused = c.counts()
	if res.Searches+other != res.Served || res.SearchesRefused+otherRefused != res.Refused {
		fmt.Fprintf(stderr, "ratebench: the fake counted %d served and %d refused, the counter %d and %d\n",
			res.Served, res.Refused, res.Searches+other, res.SearchesRefused+otherRefused)
	}
	if total := res.Served + res.Refused; total > 0 {
		res.RefusedShare = float64(res.Refused) / float64(total)
	}
	res.MinSeconds = minSeconds(res.Served, res.Searches, hubspotfake.FreeAccount)
	if res.MinSeconds > 0 {
		res.Ratio = res.Seconds / res.MinSeconds
	}

	// The replicas' metrics, less what the setup left in them.
	res.GrantsByClass = map[string]int{}
	var wait histogram
	for i, r := range reps {
		after := scrape(r.a)
		res.RunsByReplica = append(res.RunsByReplica, int(after.sum("intake_sync_runs_finished_total", nil)-before[i].sum("intake_sync_runs_finished_total", nil)))
		delivered := map[string]string{"status": "DELIVERED"}
		res.DeliveredByReplica = append(res.DeliveredByReplica,
			int(after.sum("intake_pushbacks_settled_total", delivered)-before[i].sum("intake_pushbacks_settled_total", delivered)))
		for _, class := range []string{"pushback", "interactive", "background"} {
			l := map[string]string{"class": class}
			res.GrantsByClass[class] += int(after.sum("intake_rate_budget_requests_total", l) - before[i].sum("intake_rate_budget_requests_total", l))
		}
		pb := map[string]string{"class": "pushback"}
		wait.add(after.histogram("intake_rate_budget_wait_seconds", pb), 1)
		wait.add(before[i].histogram("intake_rate_budget_wait_seconds", pb), -1)
	}
	res.PushWaitRequests = int(wait.count)
	res.PushWaitMaxLE = wait.maxBound()
	if wait.count > 0 {
		res.PushWaitMean = wait.sum / wait.count
	}

	// Each delivery attempt's duration: its requests' budget waits
	// together, plus their answers and a few queries.
	res.AttemptMax = -1
	var attempt *float64
	if err := db.QueryRowContext(ctx, `SELECT max(extract(epoch FROM finalized_at - attempted_at))::float8 FROM river_job
		WHERE kind = 'intake_pushback' AND state = 'completed' AND attempted_at >= $1`, began).Scan(&attempt); err == nil && attempt != nil {
		res.AttemptMax = *attempt
	}
	var p50, p95, pmax *float64
	if err := db.QueryRowContext(ctx, `SELECT
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
			percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
			max(extract(epoch FROM delivered_at - created_at))::float8
		FROM pushbacks WHERE status = 'DELIVERED'`).Scan(&p50, &p95, &pmax); err != nil {
		return fmt.Errorf("reading latencies: %w", err)
	}
	res.LatencyP50, res.LatencyP95, res.Latency = deref(p50), deref(p95), deref(pmax)
	res.CallsInFake = len(fk.HubSpot.Calls()) - callsBefore

	res.RatioPass = res.MinSeconds > 0 && res.Ratio <= targetRatio
	res.RefusedPass = res.RefusedShare <= targetRefused
	// A request's wait is known to a histogram bucket; the attempt's
	// duration bounds the waits of all of a delivery's requests.
	res.PushWaitPass = res.PushWaitMaxLE >= 0 && res.PushWaitMaxLE <= targetPushWaitS &&
		(res.AttemptMax < 0 || res.AttemptMax <= targetPushWaitS)
	return nil
}

// record records o.pushbacks call results for the setup campaign's
// contacts, through the replicas' services in turn: at once, or evenly
// over o.recordOver from began.
func record(ctx context.Context, o options, reps []*replica, s *setup, began time.Time) error {
	transcript := "Agent: Hello, this is Intake calling about your application.\nCandidate: Hi, yes.\nAgent: Thanks, a few questions then."
	questions := []schematype.QuestionResult{{Question: "When could you start?", Answer: "next month"}}
	calledAt := time.Now().Add(-time.Minute).UTC()
	duration := 95
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.callers)
	for range o.callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.pushbacks || ctx.Err() != nil {
					return
				}
				if o.recordOver > 0 {
					at := began.Add(time.Duration(int64(o.recordOver) * int64(i) / int64(o.pushbacks)))
					if d := time.Until(at); d > 0 {
						time.Sleep(d)
					}
				}
				key := fmt.Sprintf("ratebench-%d", i)
				tr := transcript
				if _, err := reps[i%len(reps)].svc.RecordCallResult(s.ctx, service.RecordCallResultInput{
					ContactID: s.contacts[i%len(s.contacts)], Outcome: outcomes[i%len(outcomes)], Transcript: &tr,
					QuestionResults: questions, CalledAt: calledAt, DurationSeconds: &duration, IdempotencyKey: &key,
				}); err != nil {
					errs <- fmt.Errorf("recording call result %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// minSeconds is the least time the limits allow for served requests of
// which searches are searches: the first lim.Requests may go at once and
// each further one a window after the one it replaces; likewise the
// searches a second apart in groups of lim.SearchesPerSecond.
func minSeconds(served, searches int, lim hubspotfake.Limits) float64 {
	var m float64
	if served > 0 {
		m = float64((served-1)/lim.Requests) * lim.Interval.Seconds()
	}
	if searches > 0 && lim.SearchesPerSecond > 0 {
		m = max(m, float64((searches-1)/lim.SearchesPerSecond))
	}
	return m
}

// report prints the figures and the targets.
func report(w io.Writer, res *result) {
	fmt.Fprintf(w, "  runs          %d ended (%d SUCCEEDED), by replica %v\n", res.Runs, res.RunsSucceeded, res.RunsByReplica)
	fmt.Fprintf(w, "  contacts      %d fetched, %d imported\n", res.Fetched, res.Imported)
	fmt.Fprintf(w, "  pushbacks     %d delivered, %d dead (delivered by replica %v; %d calls in the fake)\n",
		res.Delivered, res.Dead, res.DeliveredByReplica, res.CallsInFake)
	fmt.Fprintf(w, "  requests      %d served (%d searches, %d others), %d answered 429 (%d searches) = %.2f%%\n",
		res.Served, res.Searches, res.Served-res.Searches, res.Refused, res.SearchesRefused, 100*res.RefusedShare)
	fmt.Fprintf(w, "  grants        pushback %d, interactive %d, background %d (retries included)\n",
		res.GrantsByClass["pushback"], res.GrantsByClass["interactive"], res.GrantsByClass["background"])
	fmt.Fprintf(w, "  wall time     %.1fs (last run ended at %.1fs, last pushback settled at %.1fs)\n",
		res.Seconds, res.SyncsSeconds, res.PushbacksSeconds)
	fmt.Fprintf(w, "  minimum       %.1fs = max(10s x floor((%d-1)/100), 1s x floor((%d-1)/4))\n", res.MinSeconds, res.Served, res.Searches)
	fmt.Fprintf(w, "  pushback wait per request: mean %.2fs, max %s (%d requests); longest delivery attempt %s\n",
		res.PushWaitMean, bound(res.PushWaitMaxLE), res.PushWaitRequests, seconds(res.AttemptMax))
	fmt.Fprintf(w, "  pushback latency record to delivery: p50 %.1fs, p95 %.1fs, max %.1fs\n", res.LatencyP50, res.LatencyP95, res.Latency)
	ratio := "n/a (everything fits in the first window)"
	if res.MinSeconds > 0 {
		ratio = fmt.Sprintf("%.3f", res.Ratio)
	}
	fmt.Fprintf(w, "%s ratio %s (target <= %.2f)\n", pass(res.RatioPass), ratio, targetRatio)
	fmt.Fprintf(w, "%s 429 share %.2f%% (target <= %.0f%%)\n", pass(res.RefusedPass), 100*res.RefusedShare, 100*targetRefused)
	fmt.Fprintf(w, "%s pushback budget wait: per request %s, per delivery attempt %s (target <= %.0fs)\n",
		pass(res.PushWaitPass), bound(res.PushWaitMaxLE), seconds(res.AttemptMax), targetPushWaitS)
	res.Summary = fmt.Sprintf("ratebench: %d runs and %d pushbacks in %.1fs, minimum %.1fs: ratio %s; %d of %d requests answered 429 (%.2f%%); pushback wait %s",
		res.Runs, res.Delivered+res.Dead, res.Seconds, res.MinSeconds, ratio, res.Refused, res.Served+res.Refused, 100*res.RefusedShare, bound(res.PushWaitMaxLE))
	fmt.Fprintln(w, res.Summary)
}

func pass(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// bound formats a histogram's upper bound of the largest value.
func bound(le float64) string {
	switch {
	case le < 0:
		return "> 60s"
	case le == 0:
		return "none"
	}
	return "<= " + strconv.FormatFloat(le, 'g', -1, 64) + "s"
}

func seconds(s float64) string {
	if s < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2fs", s)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// idArray is ids as a PostgreSQL text array literal.
func idArray(ids []pulid.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = `"` + string(id) + `"`
	}
	return "{" + strings.Join(s, ",") + "}"
}

// metricSet is a scrape of a replica's metrics: each sample's name, labels
// and value.
type metricSet []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads a replica's /metrics, as Prometheus would.
func scrape(a *app.App) metricSet {
	rec := httptest.NewRecorder()
	a.Metrics.Handler(a.Log).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var out metricSet
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, "intake_") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		labels := map[string]string{}
		var value string
		if rest == "" {
			name, value, _ = strings.Cut(line, " ")
		} else {
			var ls string
			ls, value, _ = strings.Cut(rest, "} ")
			for kv := range strings.SplitSeq(ls, ",") {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = strings.Trim(v, `"`)
			}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		out = append(out, sample{name: name, labels: labels, value: f})
	}
	return out
}

func (m metricSet) matching(name string, labels map[string]string) []sample {
	var out []sample
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// sum adds the samples of name with labels.
func (m metricSet) sum(name string, labels map[string]string) float64 {
	var t float64
	for _, s := range m.matching(name, labels) {
		t += s.value
	}
	return t
}

// histogram reads histogram name's buckets, count and sum over the
// samples with labels.
func (m metricSet) histogram(name string, labels map[string]string) histogram {
	h := histogram{buckets: map[float64]float64{}}
	for _, s := range m.matching(name+"_bucket", labels) {
		le, err := strconv.ParseFloat(s.labels["le"], 64) // "+Inf" parses too
		if err == nil {
			h.buckets[le] += s.value
		}
	}
	h.count = m.sum(name+"_count", labels)
	h.sum = m.sum(name+"_sum", labels)
	return h
}

// histogram is a Prometheus histogram's cumulative buckets by upper bound.
type histogram struct {
	buckets    map[float64]float64
	count, sum float64
}

// add adds sign times o.
func (h *histogram) add(o histogram, sign float64) {
	if h.buckets == nil {
		h.buckets = map[float64]float64{}
	}
	for le, n := range o.buckets {
		h.buckets[le] += sign * n
	}
	h.count += sign * o.count
	h.sum += sign * o.sum
}

// maxBound is the smallest finite bucket bound that holds every
// observation: 0 without observations, -1 when some exceed every finite
// bound.
func (h *histogram) maxBound() float64 {
	if h.count <= 0 {
		return 0
	}
	best := -1.0
	for le, n := range h.buckets {
		if le < 1e300 && n >= h.count && (best < 0 || le < best) {
			best = le
		}
	}
	return best
}
