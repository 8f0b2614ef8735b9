// Command pushbench measures how fast the engine delivers call results
// back to an external system, in one process:
//
//	go run ./internal/bench/pushbench -n 5000 [-provider TALENTION|COMPLEET|HUBSPOT]
//	    [-workers 20] [-callers 16] [-broker postgres|local] [-postgres URL] [-keep]
//	    [-fail 0.2] [-cpuprofile FILE] [-timeout 10m] [-v]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, serves the sandbox FAKES of the providers on 127.0.0.1 (no
// faults), and assembles and starts Intake as main.go does (internal/app,
// with -workers as INTAKE_PUSHBACK_WORKERS; its HTTP server listens on a
// loopback port, unused). Through the service it connects an integration
// to the chosen provider's fake and configures a campaign's trigger with
// pushback on (and a status mapping where the provider has one). It COPYs
// n contacts, one per person of the fake, into the campaign.
//
// Then -callers goroutines record one call result per contact through the
// service's RecordCallResult, as the recordCallResult mutation does
// without HTTP, the outcomes cycling through all four. The clock runs from the first record until every pushback is
// DELIVERED; the rate printed is deliveries per second over that time.
// Finally it checks that the fake holds exactly one call or note per
// delivery, found by the delivery's marker. The
// scratch database is dropped at the end unless -keep is given.
//
// -fail F makes a fraction F of the fake's writes fail, half of them after
// taking effect (the answer is lost), so the figures include the looks
// that keep such deliveries from writing twice.
//
// -broker local publishes progress in the process only, instead of with
// PostgreSQL NOTIFY as main.go does: the difference is what NOTIFY costs.
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
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
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
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// Bounds of -n.
const (
	minN = 1
	maxN = 1_000_000
)

// mappings are the status mappings the benchmark configures, by provider:
// names the provider's fake accepts (Talention's stages, HubSpot's lead
// statuses). Compleet has no status mapping.
var mappings = map[schematype.ProviderKey][4]string{ // success, partial, failure, not answered
	schematype.ProviderTalention: {"Accepted", "Interview", "Rejected", "Unreachable"},
	schematype.ProviderHubSpot:   {"CONNECTED", "IN_PROGRESS", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT"},
}

var outcomes = []schematype.CallOutcome{
	schematype.OutcomeSuccess, schematype.OutcomePartial, schematype.OutcomeFailure, schematype.OutcomeNotAnswered,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pushbench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n          int
	provider   schematype.ProviderKey
	workers    int
	callers    int
	broker     string
	postgres   string
	keep       bool
	cpuprofile string
	timeout    time.Duration
	verbose    bool
	fail       float64
	rateBudget bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var provider string
	fs := flag.NewFlagSet("pushbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 5000, fmt.Sprintf("call results to record and deliver, one per contact (%d to %d)", minN, maxN))
	fs.StringVar(&provider, "provider", string(schematype.ProviderTalention), "provider whose sandbox fake receives the pushbacks: TALENTION, COMPLEET or HUBSPOT")
	fs.IntVar(&o.workers, "workers", 20, "deliveries at once (engine Config.PushbackWorkers, INTAKE_PUSHBACK_WORKERS)")
	fs.IntVar(&o.callers, "callers", 16, "goroutines recording call results at once")
	fs.StringVar(&o.broker, "broker", "postgres", "progress broker: postgres (LISTEN/NOTIFY, as main.go) or local (in-process, to measure what NOTIFY costs)")
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured part (the whole process: engine, connector and fakes) to this file")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up when the pushbacks are not all delivered after this long")
	fs.Float64Var(&o.fail, "fail", 0, "fraction of the fake's writes that fail (0 to 0.5): half of them after taking effect, their answers lost; the rest refused with a 500")
	fs.BoolVar(&o.rateBudget, "rate-budget", true, "pace the deliveries by the integration's rate budget (INTAKE_RATE_BUDGET; the integration's own limit is one the fake never reaches): false measures what the budget costs")
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
	o.provider = schematype.ProviderKey(strings.ToUpper(strings.TrimSpace(provider)))
	switch o.provider {
	case schematype.ProviderTalention, schematype.ProviderCompleet, schematype.ProviderHubSpot:
	default:
		return o, fmt.Errorf("-provider: %q is not one of TALENTION, COMPLEET, HUBSPOT", provider)
	}
	if o.fail < 0 || o.fail > 0.5 {
		return o, fmt.Errorf("-fail: %v is not between 0 and 0.5", o.fail)
	}
	if o.workers < 1 || o.workers > 1024 {
		return o, fmt.Errorf("-workers: %d is not between 1 and 1024", o.workers)
	}
	if o.callers < 1 || o.callers > 1024 {
		return o, fmt.Errorf("-callers: %d is not between 1 and 1024", o.callers)
	}
	if o.broker != "postgres" && o.broker != "local" {
		return o, fmt.Errorf("-broker: %q is not postgres or local", o.broker)
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
	N        int
	Provider schematype.ProviderKey
	Workers  int
	Callers  int
	Database string // the scratch database's name
	Mapped   bool   // whether the trigger has a status mapping

	RecordSeconds float64 // from the first record until the last returned
	RecordRate    float64 // call results recorded per second
	Seconds       float64 // from the first record until every pushback was DELIVERED
	Rate          float64 // deliveries per second over Seconds
	// Latency of one pushback, from its creation to its delivery.
	P50, P95, Max time.Duration
	MaxAttempts   int // the most attempts a pushback took
	Delivered     int
	Dead          int
	Effects       int // calls or notes with their marker, and statuses set, in the fake
	WantEffects   int // one call or note per pushback, and its status where mapped
	Summary       string
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

	res := &result{N: o.n, Provider: o.provider, Workers: o.workers, Callers: o.callers}
	dbURL, dbName, drop, err := benchkit.ScratchDatabase(ctx, o.postgres, "intake_pushbench")
	if err != nil {
		return nil, err
	}
	res.Database = dbName
	defer func() {
		if o.keep {
			fmt.Fprintf(stdout, "kept the scratch database: %s\n", dbURL)
			return
		}
		if err := drop(); err != nil {
			fmt.Fprintf(stderr, "pushbench: dropping %s: %v\n", res.Database, err)
		}
	}()

	data := sandbox.Dataset{Seed: 1, Size: o.n, Step: time.Second}.AnchoredAt(time.Now().Add(-time.Hour))
	fk := fakes.New(data)
	if err := fk.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	defer fk.Close()
	if o.fail > 0 {
		f := fk.Faults(o.provider)
		f.Only(func(r *http.Request) bool { return r.Method != http.MethodGet })
		f.SetRate(sandbox.ServerError, o.fail/2)
		f.SetRate(sandbox.LostAnswer, o.fail/2/(1-o.fail/2)) // drawn after the 500s
	}

	// Intake as main.go assembles it (internal/app), with -workers
	// deliveries at once, started before anything is recorded.
	cfg, err := benchkit.Config(dbURL, map[string]string{"INTAKE_RATE_BUDGET": strconv.FormatBool(o.rateBudget)})
	if err != nil {
		return nil, err
	}
	opts := app.Options{Logger: log, Engine: func(c *engine.Config) { c.PushbackWorkers = o.workers }}
	if o.broker == "local" {
		// In-process on PostgreSQL: the figures differ from the default's
		// by what NOTIFY costs.
		opts.Broker = progress.NewLocal()
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			log.Warn("stopping Intake", slog.Any("err", err))
		}
	}()
	if err := a.Start(ctx); err != nil {
		return nil, fmt.Errorf("starting Intake: %w", err)
	}
	svc, db := a.Service, a.Store.DB

	s, err := prepare(ctx, svc, db, fk, o, data)
	if err != nil {
		return nil, err
	}
	res.Mapped = s.mapped
	fmt.Fprintf(stdout, "pushbench: %s sandbox fake, N %d, %d pushback workers, %d callers, status mapping %v, %s broker, GOMAXPROCS %d, database %s\n",
		o.provider, o.n, o.workers, o.callers, s.mapped, o.broker, runtime.GOMAXPROCS(0), res.Database)

	if err := measure(ctx, o, svc, db, s, res, stderr); err != nil {
		return res, err
	}
	if err := check(ctx, db, fk, o, s, res); err != nil {
		return res, err
	}

	fmt.Fprintf(stdout, "  recorded      %d call results in %.2fs = %.0f/s\n", o.n, res.RecordSeconds, res.RecordRate)
	fmt.Fprintf(stdout, "  delivered     %d pushbacks (%d effects in the fake) in %.2fs from the first record\n", res.Delivered, res.Effects, res.Seconds)
	fmt.Fprintf(stdout, "  latency       p50 %s, p95 %s, max %s (created to delivered); most attempts %d\n",
		res.P50.Round(time.Millisecond), res.P95.Round(time.Millisecond), res.Max.Round(time.Millisecond), res.MaxAttempts)
	res.Summary = fmt.Sprintf("pushbench: %s, %d workers: %d deliveries in %.2fs = %.0f deliveries/s (recording %.0f/s)",
		o.provider, o.workers, res.Delivered, res.Seconds, res.Rate, res.RecordRate)
	fmt.Fprintln(stdout, res.Summary)
	return res, nil
}

// setup is what the benchmark created.
type setup struct {
	ctx      context.Context // acts as the benchmark organization's admin
	orgID    pulid.ID
	campaign pulid.ID
	trigger  pulid.ID
	contacts []pulid.ID // in the order of the fake's people
	mapped   bool
}

// prepare creates an organization, connects the provider's fake, configures
// a disabled trigger with pushback on (disabled: no sync runs meanwhile;
// pushback does not depend on it) and COPYs the contacts.
func prepare(ctx context.Context, svc *service.Service, db *sql.DB, fk *fakes.Set, o options, data sandbox.Dataset) (*setup, error) {
	key, err := svc.CreateAPIKey(ctx, "pushbench", schematype.RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("creating an API key: %w", err)
	}
	v, err := svc.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	s := &setup{ctx: viewer.NewContext(ctx, v), orgID: v.OrgID}
	creds := map[string]any{}
	for k, val := range fk.Credentials(o.provider) {
		creds[k] = val
	}
	integ, err := svc.ConnectIntegration(s.ctx, service.ConnectIntegrationInput{
		Provider: o.provider, Name: "pushbench " + string(o.provider), Credentials: creds, RateLimit: benchkit.Unlimited,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting %s: %w", o.provider, err)
	}
	if integ.Status != integration.StatusCONNECTED {
		return nil, fmt.Errorf("the %s fake answered the connection check with %s", o.provider, integ.Status)
	}
	camp, err := svc.CreateCampaign(s.ctx, service.CreateCampaignInput{Name: "pushbench"})
	if err != nil {
		return nil, err
	}
	s.campaign = camp.ID
	on := true
	in := service.ConfigureTriggerInput{CampaignID: camp.ID, IntegrationID: integ.ID, Enabled: false, PushbackEnabled: &on}
	if m, ok := mappings[o.provider]; ok {
		in.StatusMapping = &service.StatusMappingInput{Success: &m[0], Partial: &m[1], Failure: &m[2], NotAnswered: &m[3]}
		s.mapped = true
	}
	t, err := svc.ConfigureTrigger(s.ctx, in)
	if err != nil {
		return nil, fmt.Errorf("configuring the pushback trigger: %w", err)
	}
	s.trigger = t.ID
	if s.contacts, err = copyContacts(ctx, db, s, data, o.provider); err != nil {
		return nil, err
	}
	return s, nil
}

// copyContacts COPYs one contact per person of the data set into the
// campaign, with the external ID and attributes the provider's sync would
// have stored, and a distinct made-up number each.
func copyContacts(ctx context.Context, db *sql.DB, s *setup, data sandbox.Dataset, p schematype.ProviderKey) ([]pulid.ID, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, "COPY contacts (id, organization_id, created_at, phone_e164, phone_raw, external_id, attributes, campaign_id, trigger_id) FROM STDIN")
	if err != nil {
		return nil, fmt.Errorf("starting COPY: %w", err)
	}
	now := time.Now().UTC()
	ids := make([]pulid.ID, data.Size)
	for i := range data.Size {
		ids[i] = pulid.New("con")
		e164 := fmt.Sprintf("+4915%09d", i)
		if _, err := stmt.ExecContext(ctx, ids[i], s.orgID, now, e164, e164, data.ExternalID(i),
			attributes(data, p, i), s.campaign, s.trigger); err != nil {
			stmt.Close()
			return nil, fmt.Errorf("COPY: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return nil, fmt.Errorf("ending COPY: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return nil, err
	}
	return ids, tx.Commit()
}

// attributes are the Record.Attributes the provider's connector stores for
// person i: the ATS push reads the application and job back from them.
func attributes(data sandbox.Dataset, p schematype.ProviderKey, i int) string {
	if p != schematype.ProviderTalention && p != schematype.ProviderCompleet {
		return "{}"
	}
	b, _ := json.Marshal(map[string]any{
		"applicationId": atsfake.ApplicationID(data, i),
		"jobId":         atsfake.JobID(data.Person(i).Group),
	})
	return string(b)
}

// measure records the call results and waits until every pushback is
// delivered, timing both from the first record.
func measure(ctx context.Context, o options, svc *service.Service, db *sql.DB, s *setup, res *result, stderr io.Writer) error {
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	transcript := "Agent: Hello, this is Intake calling about your application.\nCandidate: Hi, yes, I applied last week.\nAgent: Thanks, a few questions then."
	questions := []schematype.QuestionResult{
		{Question: "Do you have a driving licence?", Answer: "yes"},
		{Question: "When could you start?", Answer: "next month"},
	}
	calledAt := time.Now().Add(-time.Minute).UTC()
	duration := 95

	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.callers)
	for range o.callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.n || ctx.Err() != nil {
					return
				}
				key := fmt.Sprintf("pushbench-%d", i)
				tr := transcript
				if _, err := svc.RecordCallResult(s.ctx, service.RecordCallResultInput{
					ContactID: s.contacts[i], Outcome: outcomes[i%len(outcomes)], Transcript: &tr,
					QuestionResults: questions, CalledAt: calledAt, DurationSeconds: &duration, IdempotencyKey: &key,
				}); err != nil {
					errs <- fmt.Errorf("recording call result %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	recorded := time.Since(began)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	res.RecordSeconds = recorded.Seconds()
	res.RecordRate = float64(o.n) / res.RecordSeconds

	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	lastReport := began
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%d of %d pushbacks delivered after %s", res.Delivered, o.n, o.timeout)
		case <-poll.C:
		}
		var delivered, dead int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'DELIVERED'), count(*) FILTER (WHERE status = 'DEAD') FROM pushbacks`).
			Scan(&delivered, &dead); err != nil {
			return fmt.Errorf("counting pushbacks: %w", err)
		}
		res.Delivered, res.Dead = delivered, dead
		if dead > 0 {
			var msg string
			_ = db.QueryRowContext(ctx, `SELECT coalesce(last_error, '') FROM pushbacks WHERE status = 'DEAD' LIMIT 1`).Scan(&msg)
			return fmt.Errorf("%d pushbacks are DEAD, e.g.: %s", dead, msg)
		}
		if delivered == o.n {
			break
		}
		if now := time.Now(); now.Sub(lastReport) >= 5*time.Second {
			lastReport = now
			fmt.Fprintf(stderr, "pushbench: %d of %d delivered after %.0fs\n", delivered, o.n, now.Sub(began).Seconds())
		}
	}
	elapsed := time.Since(began)
	res.Seconds = elapsed.Seconds()
	res.Rate = float64(o.n) / res.Seconds
	return nil
}

// check reads the latencies and verifies that the fake received every
// delivery once.
func check(ctx context.Context, db *sql.DB, fk *fakes.Set, o options, s *setup, res *result) error {
	var p50, p95, maxLat float64
	if err := db.QueryRowContext(ctx, `SELECT
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
			percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
			max(extract(epoch FROM delivered_at - created_at)), max(attempts)
		FROM pushbacks`).Scan(&p50, &p95, &maxLat, &res.MaxAttempts); err != nil {
		return fmt.Errorf("reading latencies: %w", err)
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	res.P50, res.P95, res.Max = sec(p50), sec(p95), sec(maxLat)

	// Each pushback must have left exactly one call or note, carrying its
	// marker, on its contact (the fakes de-duplicate nothing), and its
	// mapped status: each is one effect.
	rows, err := db.QueryContext(ctx, `SELECT p.id, coalesce(p.mapped_status, ''), ct.external_id, ct.attributes FROM pushbacks p
		JOIN call_results c ON c.id = p.call_result_id JOIN contacts ct ON ct.id = c.contact_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type delivery struct{ marker, status, app string }
	want := map[string]delivery{} // by contact external ID
	var contacts []string
	for rows.Next() {
		var id, status, ext string
		var attrs []byte
		if err := rows.Scan(&id, &status, &ext, &attrs); err != nil {
			return err
		}
		var a map[string]any
		if err := json.Unmarshal(attrs, &a); err != nil {
			return fmt.Errorf("contact %s: attributes: %w", ext, err)
		}
		app, _ := a["applicationId"].(string)
		want[ext] = delivery{marker: connector.Marker("intake-" + id), status: status, app: app}
		contacts = append(contacts, ext)
		res.WantEffects++
		if status != "" {
			res.WantEffects++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for ext, bodies := range fk.Delivered(o.provider, contacts) {
		d := want[ext]
		if len(bodies) != 1 || !strings.Contains(bodies[0], d.marker) {
			return fmt.Errorf("contact %s holds %d calls or notes, want exactly one carrying %q", ext, len(bodies), d.marker)
		}
		res.Effects++
	}
	for _, ext := range contacts {
		d := want[ext]
		if d.status == "" {
			continue
		}
		var got string
		switch o.provider {
		case schematype.ProviderHubSpot:
			got = fk.HubSpot.LeadStatus(ext)
		case schematype.ProviderTalention:
			got, _ = fk.Talention.Stage(d.app)
		}
		if got != d.status {
			return fmt.Errorf("contact %s has status %q, want %q", ext, got, d.status)
		}
		res.Effects++
	}
	if res.Effects != res.WantEffects {
		return fmt.Errorf("the fake shows %d effects, want %d", res.Effects, res.WantEffects)
	}
	return nil
}
