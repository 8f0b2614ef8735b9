//go:build unix

// Command syncbench measures the sync engine end to end against a COPY
// baseline, in one process:
//
//	go run ./internal/bench/syncbench -n 200000 [-provider HUBSPOT|TALENTION|ZVOOVE]
//	    [-postgres URL] [-workers 4] [-keep] [-cpuprofile FILE] [-memprofile FILE] [-trace FILE]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, serves the sandbox FAKES of the providers on 127.0.0.1 with n
// people, and assembles Intake as main.go does (internal/app, with -workers
// sync workers; its HTTP server listens on a loopback port, unused). Through
// the service it connects an integration to the chosen provider's fake,
// enables a trigger that fetches every person, and times one test run of it
// (the fakes answer over real HTTP) while sampling the process's resident
// memory (the fakes run in the same process, so the figure is an upper bound
// for the engine).
//
// Then, as the baseline, it generates the rows the same people make (the
// first usable phone number of each, by internal/phone.First, distinct
// numbers only) and COPYs them into a fresh campaign's contacts, timing
// only the COPY. It prints both rates, the ratio, and a one-line summary;
// for context also the rate of the same COPY into a TEMP table (no
// indexes, keys or WAL). The scratch database is dropped at the end unless
// -keep is given.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/fakes"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// Bounds of -n: the sandbox serves at most a million people.
const (
	minN = 10
	maxN = 1_000_000
)

// step is the time between two people's creation in the data set: a
// million people span 11.6 days, inside the engine's first look-back
// (engine.InitialLookback) and a talent pool search of a few days.
const step = time.Second

// benchProviders are the providers the benchmark can sync from.
var benchProviders = []schematype.ProviderKey{schematype.ProviderHubSpot, schematype.ProviderTalention, schematype.ProviderZvoove}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "syncbench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n          int
	provider   schematype.ProviderKey
	postgres   string
	workers    int
	keep       bool
	cpuprofile string
	memprofile string
	trace      string
	timeout    time.Duration
	verbose    bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var provider string
	fs := flag.NewFlagSet("syncbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 200_000, fmt.Sprintf("people the sandbox serves, all of which the sync fetches (%d to %d)", minN, maxN))
	fs.StringVar(&provider, "provider", string(schematype.ProviderHubSpot), "provider whose sandbox fake to sync from: HUBSPOT, TALENTION or ZVOOVE")
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.IntVar(&o.workers, "workers", 4, "sync engine workers (INTAKE_SYNC_WORKERS)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the sync (the whole process: engine, connector and fakes) to this file")
	fs.StringVar(&o.memprofile, "memprofile", "", "write a heap profile taken when the sync ends to this file")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the sync to this file (go tool trace; -pprof=net shows where it waits)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Hour, "give up when the sync has not ended after this long")
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
	known := false
	for _, p := range benchProviders {
		known = known || p == o.provider
	}
	if !known {
		return o, fmt.Errorf("-provider: %q is not one of HUBSPOT, TALENTION, ZVOOVE", provider)
	}
	if o.workers < 1 || o.workers > 256 {
		return o, fmt.Errorf("-workers: %d is not between 1 and 256", o.workers)
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
	N          int
	Provider   schematype.ProviderKey
	SearchType string
	Database   string // the scratch database's name

	RunKind  syncrun.Kind
	Status   syncrun.Status
	RunError string
	// The run's counters.
	Fetched, Imported, Duplicates, InvalidPhone, FilteredOut, Failed, Erased int
	// Rows the run left: its import issues, and its campaign's contacts.
	Issues, Contacts int
	SyncSeconds      float64
	SyncRate         float64 // fetched per second
	SyncCPUSeconds   float64 // CPU time (user and system) of the whole process during the sync
	PeakRSSMB        float64 // VmHWM when the sync ended, or the largest sample if larger
	SampledRSSMB     float64 // the largest VmRSS sampled every 100ms during the sync

	// ValidNumbers is how many distinct usable numbers the data set holds.
	ValidNumbers int
	CopyRows     int
	CopySeconds  float64
	CopyRate     float64
	Percent      float64 // sync rate as a percentage of the COPY rate
	// The same rows COPYed into a TEMP table (no indexes, keys or WAL).
	TempCopySeconds, TempCopyRate float64
	Summary                       string
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

	res := &result{N: o.n, Provider: o.provider}
	sc, err := benchkit.OpenScratch(ctx, o.postgres, "intake_bench")
	if err != nil {
		return nil, err
	}
	defer sc.Close(o.keep, stdout, stderr, "syncbench")
	res.Database = sc.Name
	dbURL, st := sc.URL, sc.Store

	// The data set is anchored so that every person was created and last
	// changed before the run starts: the newest change is UpdatedAtLag after
	// the newest creation, and a change log up to "now" must include it.
	data := sandbox.Dataset{Seed: 1, Size: o.n, Step: step}.
		AnchoredAt(time.Now().Add(-sandbox.UpdatedAtLag - time.Minute))
	fk := fakes.New(data)
	if err := fk.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	defer fk.Close()

	// Intake as main.go assembles it (internal/app), with -workers sync
	// workers. It runs on the store opened above, which outlives it: the
	// COPY baseline uses the database and the service once it has stopped.
	cfg, err := benchkit.Config(dbURL, nil)
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, app.Options{
		Logger: log, Store: st,
		Engine: func(c *engine.Config) { c.Workers = o.workers },
	})
	if err != nil {
		return nil, err
	}
	stopApp := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			log.Warn("stopping Intake", slog.Any("err", err))
		}
	}
	defer stopApp() // a second Stop does nothing

	setup, err := benchkit.Prepare(ctx, a.Service, fk, o.provider, data, "syncbench", nil)
	if err != nil {
		return nil, err
	}
	res.SearchType = setup.SearchType
	params, _ := json.Marshal(setup.Params)
	fmt.Fprintf(stdout, "syncbench: %s sandbox fake, %s %s, N %d, %d workers, GOMAXPROCS %d, database %s\n",
		o.provider, setup.SearchType, params, o.n, o.workers, runtime.GOMAXPROCS(0), res.Database)

	if err := syncOnce(ctx, o, st, a.Service, setup, res, log, stderr, func() error {
		return a.Start(ctx)
	}); err != nil {
		return res, err
	}
	// Nothing of Intake runs during the baseline.
	stopApp()

	fmt.Fprintf(stdout, "sync: run %s (%s)", res.Status, res.RunKind)
	if res.RunError != "" {
		fmt.Fprintf(stdout, ": %s", res.RunError)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "  N            %d\n", res.N)
	fmt.Fprintf(stdout, "  fetched      %d\n", res.Fetched)
	fmt.Fprintf(stdout, "  imported     %d (contacts in the campaign: %d)\n", res.Imported, res.Contacts)
	fmt.Fprintf(stdout, "  issues       %d (duplicates %d, invalid phone %d, filtered out %d, failed %d, erased %d)\n",
		res.Issues, res.Duplicates, res.InvalidPhone, res.FilteredOut, res.Failed, res.Erased)
	fmt.Fprintf(stdout, "  seconds      %.1f\n", res.SyncSeconds)
	fmt.Fprintf(stdout, "  contacts/s   %.0f (fetched per second)\n", res.SyncRate)
	fmt.Fprintf(stdout, "  CPU seconds  %.1f in this process (engine, connector and fakes; PostgreSQL not included)\n", res.SyncCPUSeconds)
	fmt.Fprintf(stdout, "  peak RSS MB  %.0f (VmHWM at the end of the sync; largest VmRSS sampled every 100ms: %.0f)\n", res.PeakRSSMB, res.SampledRSSMB)
	if res.Status != syncrun.StatusSUCCEEDED {
		return res, fmt.Errorf("the sync run ended %s, not SUCCEEDED: %s", res.Status, res.RunError)
	}
	if res.Issues+res.Imported != res.Fetched || res.Contacts != res.Imported {
		return res, fmt.Errorf("the run does not add up: fetched %d, imported %d, import issues %d, contacts %d",
			res.Fetched, res.Imported, res.Issues, res.Contacts)
	}

	if err := copyBaseline(ctx, a.Service, st.DB, setup, data, o.provider, res); err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "COPY: %d rows in %.2fs = %.0f rows/s (the %d distinct usable numbers of the %d people)\n",
		res.CopyRows, res.CopySeconds, res.CopyRate, res.ValidNumbers, res.N)
	if res.CopyRate > 0 {
		res.Percent = 100 * res.SyncRate / res.CopyRate
	}
	fmt.Fprintf(stdout, "sync = %.1f%% of COPY\n", res.Percent)
	fmt.Fprintf(stdout, "(context: COPY of the same rows into a TEMP table without indexes, keys or WAL: %.2fs = %.0f rows/s; sync = %.1f%% of that)\n",
		res.TempCopySeconds, res.TempCopyRate, 100*res.SyncRate/res.TempCopyRate)
	res.Summary = fmt.Sprintf("sync: %d records in %.1fs = %.0f/s, peak RSS %.0f MB; COPY: %d rows in %.1fs = %.0f/s; sync = %.1f%% of COPY",
		res.Fetched, res.SyncSeconds, res.SyncRate, res.PeakRSSMB, res.CopyRows, res.CopySeconds, res.CopyRate, res.Percent)
	fmt.Fprintln(stdout, res.Summary)
	return res, nil
}

// syncOnce queues a test run of the trigger through the service, starts
// Intake (start), and waits for the run to end, measuring the time and the
// process's memory.
func syncOnce(ctx context.Context, o options, st *store.Store, svc *service.Service, s *benchkit.Setup,
	res *result, log *slog.Logger, stderr io.Writer, start func() error,
) error {
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
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	sampler := startSampler()
	defer sampler.stop()

	cpuBefore := processCPU()
	began := time.Now()
	// Queued before the engine starts, so the scheduler (which runs at
	// start) finds this run active instead of queueing one of its own.
	run, err := svc.TestSync(s.Ctx, s.Trigger.ID)
	if err != nil {
		return fmt.Errorf("starting the run: %w", err)
	}
	if err := start(); err != nil {
		return fmt.Errorf("starting Intake: %w", err)
	}
	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	lastReport := began
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("the run has not ended after %s (fetched %d so far)", o.timeout, run.Fetched)
		case <-poll.C:
		}
		cur, err := st.Client.SyncRun.Get(s.Ctx, run.ID)
		if err != nil {
			log.Warn("reading the run", slog.Any("err", err))
			continue
		}
		run = cur
		if engine.RunEnded(run.Status) {
			break
		}
		if now := time.Now(); now.Sub(lastReport) >= 10*time.Second {
			lastReport = now
			el := now.Sub(began).Seconds()
			fmt.Fprintf(stderr, "syncbench: %s after %.0fs: fetched %d of %d (%.0f/s), RSS %.0f MB\n",
				run.Status, el, run.Fetched, o.n, float64(run.Fetched)/el, sampler.current())
		}
	}
	elapsed := time.Since(began)
	res.SyncCPUSeconds = (processCPU() - cpuBefore).Seconds()
	sampler.stop()
	res.SampledRSSMB = sampler.peak()
	// VmHWM is the kernel's high-water mark, but it can lag: memory the Go
	// scavenger hands back with madvise does not update it, so a sample
	// may exceed it. The peak is the larger of the two.
	res.PeakRSSMB = max(procStatusMB("VmHWM"), res.SampledRSSMB)
	if o.memprofile != "" {
		if err := writeHeapProfile(o.memprofile); err != nil {
			return err
		}
	}

	res.RunKind, res.Status = run.Kind, run.Status
	if run.Error != nil {
		res.RunError = *run.Error
	}
	res.Fetched, res.Imported, res.Duplicates = run.Fetched, run.Imported, run.Duplicates
	res.InvalidPhone, res.FilteredOut, res.Failed, res.Erased = run.InvalidPhone, run.FilteredOut, run.Failed, run.Erased
	res.SyncSeconds = elapsed.Seconds()
	res.SyncRate = float64(run.Fetched) / res.SyncSeconds
	if err := st.DB.QueryRowContext(ctx, `SELECT count(*) FROM import_issues WHERE run_id = $1`, run.ID).Scan(&res.Issues); err != nil {
		return fmt.Errorf("counting import issues: %w", err)
	}
	if err := st.DB.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE campaign_id = $1`, s.Campaign.ID).Scan(&res.Contacts); err != nil {
		return fmt.Errorf("counting contacts: %w", err)
	}
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// contactColumns are the columns of the contacts table, all of which the
// engine's import writes.
var contactColumns = []string{"id", "organization_id", "created_at", "phone_e164", "phone_raw", "first_name",
	"last_name", "email", "external_id", "attributes", "campaign_id", "trigger_id"}

// copyBaseline COPYs the contacts the data set's people make into a fresh
// campaign of the same organization (with its own, disabled trigger, so
// every foreign key and index is checked as for the sync), timing only the
// COPY.
func copyBaseline(ctx context.Context, svc *service.Service, db *sql.DB, s *benchkit.Setup, data sandbox.Dataset, p schematype.ProviderKey, res *result) error {
	camp, err := svc.CreateCampaign(s.Ctx, service.CreateCampaignInput{Name: "syncbench COPY baseline"})
	if err != nil {
		return err
	}
	trig, err := s.Configure(svc, camp.ID, false, nil)
	if err != nil {
		return fmt.Errorf("configuring the baseline's trigger: %w", err)
	}
	rows := contactRows(data, p, s.OrgID, camp.ID, trig.ID, s.Campaign.PhoneRegion)
	res.ValidNumbers = len(rows.rows)

	elapsed, err := copyInto(ctx, db, "", "contacts", rows)
	if err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE campaign_id = $1`, camp.ID).Scan(&res.CopyRows); err != nil {
		return err
	}
	if res.CopyRows != len(rows.rows) {
		return fmt.Errorf("COPY wrote %d rows, want %d", res.CopyRows, len(rows.rows))
	}
	res.CopySeconds = elapsed.Seconds()
	res.CopyRate = float64(res.CopyRows) / res.CopySeconds

	// For context: the same rows into a table without indexes, keys or WAL.
	elapsed, err = copyInto(ctx, db, "CREATE TEMP TABLE contacts_copy (LIKE contacts) ON COMMIT DROP", "contacts_copy", rows)
	if err != nil {
		return err
	}
	res.TempCopySeconds = elapsed.Seconds()
	res.TempCopyRate = float64(len(rows.rows)) / res.TempCopySeconds
	return nil
}

// copyInto runs setup, then COPYs rows into table, in one transaction, and
// returns how long the COPY and its commit took.
func copyInto(ctx context.Context, db *sql.DB, setup, table string, rows *contactRowSet) (time.Duration, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if setup != "" {
		if _, err := tx.ExecContext(ctx, setup); err != nil {
			return 0, err
		}
	}
	began := time.Now()
	// What pq.CopyIn(table, contactColumns...) builds (deprecated in
	// lib/pq 1.12 in favour of the plain statement).
	stmt, err := tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(contactColumns, ", ")+") FROM STDIN")
	if err != nil {
		return 0, fmt.Errorf("starting COPY: %w", err)
	}
	vals := make([]any, len(contactColumns))
	for i := range rows.rows {
		if _, err := stmt.ExecContext(ctx, rows.values(i, vals)...); err != nil {
			stmt.Close()
			return 0, fmt.Errorf("COPY: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return 0, fmt.Errorf("ending COPY: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing COPY: %w", err)
	}
	return time.Since(began), nil
}

// contactRowSet holds the rows of the COPY baseline compactly: the values
// all rows share once, the others as strings (boxing every value of a
// million rows ahead of time would cost the process a gigabyte).
type contactRowSet struct {
	org, campaign, trigger pulid.ID
	created                time.Time
	rows                   []contactRow
}

type contactRow struct {
	id, e164, raw, first, last, email, externalID, attributes string
}

// values fills vals with row i's values in the order of contactColumns.
func (s *contactRowSet) values(i int, vals []any) []any {
	r := &s.rows[i]
	vals[0], vals[1], vals[2], vals[3], vals[4] = r.id, string(s.org), s.created, r.e164, r.raw
	vals[5], vals[6], vals[7] = nullable(r.first), nullable(r.last), nullable(r.email)
	vals[8], vals[9], vals[10], vals[11] = r.externalID, r.attributes, string(s.campaign), string(s.trigger)
	return vals
}

// contactRows returns the contact rows of the data set's people as the
// engine writes them: the first usable phone in the campaign's region, one
// row per distinct number, with the attributes the provider's connector
// keeps.
func contactRows(data sandbox.Dataset, p schematype.ProviderKey, org, campaign, trig pulid.ID, region string) *contactRowSet {
	set := &contactRowSet{org: org, campaign: campaign, trigger: trig, created: time.Now().UTC(),
		rows: make([]contactRow, 0, data.Size)}
	seen := make(map[string]bool, data.Size)
	for i := range data.Size {
		person := data.Person(i)
		e164, raw, problem, _ := phone.First(person.Phones, region)
		if problem != "" || seen[e164] {
			continue
		}
		seen[e164] = true
		set.rows = append(set.rows, contactRow{id: string(pulid.New("con")), e164: e164, raw: raw,
			first: person.FirstName, last: person.LastName, email: person.Email, externalID: person.ID,
			attributes: attributes(data, p, person)})
	}
	return set
}

// attributes are the Record.Attributes the provider's connector returns
// for a person of its fake.
func attributes(data sandbox.Dataset, p schematype.ProviderKey, person sandbox.Person) string {
	var m map[string]any
	switch p {
	case schematype.ProviderZvoove:
		m = map[string]any{"candidateGuid": zvoovefake.CandidateGUID(data, person.Index)}
	case schematype.ProviderTalention, schematype.ProviderCompleet:
		m = map[string]any{"applicationId": atsfake.ApplicationID(data, person.Index), "jobId": atsfake.JobID(person.Group)}
	default:
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sampler reads the process's VmRSS every 100ms and keeps the largest.
type sampler struct {
	max, last atomic.Int64 // kB
	done      chan struct{}
	once      sync.Once
	wg        sync.WaitGroup
}

func startSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s
}

func (s *sampler) sample() {
	kb := procStatusKB("VmRSS")
	s.last.Store(kb)
	for {
		m := s.max.Load()
		if kb <= m || s.max.CompareAndSwap(m, kb) {
			return
		}
	}
}

func (s *sampler) stop() {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
}

func (s *sampler) peak() float64    { return float64(s.max.Load()) / 1024 }
func (s *sampler) current() float64 { return float64(s.last.Load()) / 1024 }

func procStatusMB(field string) float64 { return float64(procStatusKB(field)) / 1024 }

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatusKB reads a "kB" field of /proc/self/status; 0 where there is
// no such file (not Linux).
func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		return n
	}
	return 0
}
