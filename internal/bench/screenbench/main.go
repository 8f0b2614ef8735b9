//go:build unix

// Command screenbench measures a sync with screening end to end: how much
// longer than the screening model's own latency a sync takes when every
// record that would be imported is judged by the model.
//
//	go run ./internal/bench/screenbench [-n 20000] [-provider TALENTION|HUBSPOT|ZVOOVE]
//	    [-latency 300ms] [-batch 20] [-concurrency 4] [-description TEXT] [-import-unsure=true]
//	    [-postgres URL] [-keep] [-cpuprofile FILE] [-timeout 1h] [-v]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, serves the sandbox FAKES of the providers on 127.0.0.1 with n
// people and the loopback fake of the Chat Completions API
// (sync/sandbox/llmfake), which answers each request after -latency, and
// assembles Intake as main.go does (internal/app) with that model
// configured: batches of -batch records, -concurrency requests at once,
// reached through the connectors' egress policy (which allows loopback, as
// for the other fakes). Through the service it connects an integration to
// the chosen provider's fake and enables a trigger that fetches every
// person, with -description as the trigger's description, and times one
// test run of it, from queueing it to its end.
//
// It prints the run's counters (fetched, imported, duplicates, invalid
// phone, screened, screened out, unsure), what the model was asked (records
// sent, requests, the largest number of requests in flight, partial
// batches, tokens and tokens per screened record), how the requests
// spread over the run (timed at Intake's HTTP client, whose transport it
// wraps without changing: when the first was sent and the last answered,
// how long all -concurrency were in flight, the time from an answer to a
// worker's next request), the elapsed time, and two bounds with the ratio
// of the elapsed time to each:
//
//   - B1, the requirement's bound: n / (batch x concurrency) x latency, the
//     time the model's latency alone imposes if every person were sent;
//     the target is elapsed <= 1.20 x B1 ("target met" or "target
//     missed");
//   - B2, the tighter bound for the records actually sent:
//     ceil(ceil(sent / batch) / concurrency) x latency.
//
// The ratio is a measurement: the command fails only when the run does not
// end SUCCEEDED with screening ACTIVE, or its counters do not add up
// (fetched = imported + duplicates + invalid phone + filtered out + failed +
// screened out, and the campaign holds exactly the imported contacts). The
// scratch database is dropped at the end unless -keep is given.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
	"github.com/intake/intake/sync/sandbox/llmfake"
)

// Bounds of -n: the sandbox serves at most a million people.
const (
	minN = 10
	maxN = 1_000_000
)

// step is the time between two people's creation in the data set (as in
// syncbench): a million people span 11.6 days, inside the engine's first
// look-back.
const step = time.Second

// target is the largest elapsed / B1 the requirement allows.
const target = 1.20

// apiKey is the key the model fake requires and Intake sends.
const apiKey = "sk-screenbench-fake-key"

// defaultDescription matches the sandbox's nurses and electricians (two
// of its ten professions), so the model answers both ways.
const defaultDescription = "A nurse or an electrician."

// benchProviders are the providers the benchmark can sync from.
var benchProviders = []schematype.ProviderKey{schematype.ProviderHubSpot, schematype.ProviderTalention, schematype.ProviderZvoove}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "screenbench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n            int
	provider     schematype.ProviderKey
	latency      time.Duration
	batch        int
	concurrency  int
	description  string
	importUnsure bool
	postgres     string
	keep         bool
	cpuprofile   string
	timeout      time.Duration
	verbose      bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var provider string
	fs := flag.NewFlagSet("screenbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 20_000, fmt.Sprintf("people the sandbox serves, all of which the sync fetches (%d to %d)", minN, maxN))
	fs.StringVar(&provider, "provider", string(schematype.ProviderTalention), "provider whose sandbox fake to sync from: HUBSPOT, TALENTION or ZVOOVE")
	fs.DurationVar(&o.latency, "latency", 300*time.Millisecond, "how long the model fake takes to answer each request")
	fs.IntVar(&o.batch, "batch", screening.DefaultBatchSize, fmt.Sprintf("records per model request (INTAKE_SCREENING_BATCH_SIZE, 1 to %d)", screening.MaxBatchSize))
	fs.IntVar(&o.concurrency, "concurrency", screening.DefaultConcurrency, fmt.Sprintf("model requests at once (INTAKE_SCREENING_CONCURRENCY, 1 to %d)", screening.MaxConcurrency))
	fs.StringVar(&o.description, "description", defaultDescription, "the trigger's description the model judges records against")
	fs.BoolVar(&o.importUnsure, "import-unsure", true, "the trigger's importUnsure: import records the model cannot judge")
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the sync (the whole process: engine, connector and fakes) to this file")
	fs.DurationVar(&o.timeout, "timeout", time.Hour, "give up when the sync has not ended after this long")
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
	if !slices.Contains(benchProviders, o.provider) {
		return o, fmt.Errorf("-provider: %q is not one of HUBSPOT, TALENTION, ZVOOVE", provider)
	}
	if o.latency < 0 {
		return o, fmt.Errorf("-latency: %s is negative", o.latency)
	}
	if o.batch < 1 || o.batch > screening.MaxBatchSize {
		return o, fmt.Errorf("-batch: %d is not between 1 and %d", o.batch, screening.MaxBatchSize)
	}
	if o.concurrency < 1 || o.concurrency > screening.MaxConcurrency {
		return o, fmt.Errorf("-concurrency: %d is not between 1 and %d", o.concurrency, screening.MaxConcurrency)
	}
	if len(llmfake.Keywords(o.description)) == 0 {
		return o, fmt.Errorf("-description: %q has no word of 4 or more letters, so the model fake would match nothing", o.description)
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
	N           int
	Provider    schematype.ProviderKey
	SearchType  string
	Database    string // the scratch database's name
	Latency     time.Duration
	Batch       int
	Concurrency int

	RunKind   syncrun.Kind
	Status    syncrun.Status
	Screening schematype.ScreeningState
	RunError  string
	// The run's counters.
	Fetched, Imported, Duplicates, InvalidPhone, FilteredOut, Failed int
	Screened, ScreenedOut, Unsure, Tokens                            int
	// Contacts is how many contacts the campaign holds after the run.
	Contacts int

	// What the model fake saw.
	Sent           int // records received (len(Received()))
	DistinctSent   int // distinct attribute sets among them
	Requests       int
	MaxInFlight    int
	PartialBatches int // requests with fewer than Batch records
	// How the requests spread over the run, measured at Intake's HTTP
	// client, in seconds since the run was queued.
	FirstRequest, LastAnswer float64
	MeanInFlight             float64 // between FirstRequest and LastAnswer
	SaturatedSeconds         float64 // with Concurrency requests in flight
	IdleSeconds              float64 // between FirstRequest and LastAnswer with none in flight
	MeanRequestSeconds       float64
	// The requests' own time over Concurrency: the least the model's
	// answers take when Concurrency are always in flight.
	ModelBoundSeconds float64
	// Turnaround: from an answer to the next request a worker sends (an
	// answer is paired with the first unpaired request sent after it), in
	// seconds: what a worker does between two requests (decoding, caching
	// the decisions, handing them out, taking the next batch).
	TurnaroundMean, TurnaroundP50, TurnaroundP90, TurnaroundMax float64

	Seconds    float64 // from TestSync to the run's end
	CPUSeconds float64 // of the whole process during the sync
	B1, B2     float64 // the bounds, in seconds
	Ratio1     float64 // Seconds / B1
	Ratio2     float64 // Seconds / B2
	TargetMet  bool    // Ratio1 <= target
	Summary    string
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

	res := &result{N: o.n, Provider: o.provider, Latency: o.latency, Batch: o.batch, Concurrency: o.concurrency}
	sc, err := benchkit.OpenScratch(ctx, o.postgres, "intake_screenbench")
	if err != nil {
		return res, err
	}
	defer sc.Close(o.keep, stdout, stderr, "screenbench")
	res.Database = sc.Name
	dbURL, st := sc.URL, sc.Store

	// Every person was created and last changed before the run starts (see
	// syncbench).
	data := sandbox.Dataset{Seed: 1, Size: o.n, Step: step}.
		AnchoredAt(time.Now().Add(-sandbox.UpdatedAtLag - time.Minute))
	fk := fakes.New(data)
	if err := fk.Start("127.0.0.1:0"); err != nil {
		return res, err
	}
	defer fk.Close()

	llm := llmfake.New(llmfake.Options{APIKey: apiKey, Delay: o.latency})
	if err := llm.Start(""); err != nil {
		return res, err
	}
	defer llm.Close()

	// Intake as main.go assembles it, from the environment a deployment
	// would set. benchkit.Config allows egress to 127.0.0.0/8, where the
	// provider's fake and the model fake listen: the model is dialed
	// through the same policy as the connectors.
	cfg, err := benchkit.Config(dbURL, map[string]string{
		"INTAKE_SCREENING_URL":         llm.URL(),
		"INTAKE_SCREENING_MODEL":       llmfake.DefaultModel,
		"INTAKE_SCREENING_API_KEY":     apiKey,
		"INTAKE_SCREENING_BATCH_SIZE":  fmt.Sprint(o.batch),
		"INTAKE_SCREENING_CONCURRENCY": fmt.Sprint(o.concurrency),
		"INTAKE_SCREENING_TIMEOUT":     "60s",
	})
	if err != nil {
		return res, err
	}
	// The meter only watches the requests: it hands them on to the
	// client's own transport, the one that carries the egress policy.
	m := &meter{}
	a, err := app.New(ctx, cfg, app.Options{
		Logger: log, Store: st,
		Screening: func(c *screening.Config) {
			hc := *c.HTTPClient
			m.next = cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport)
			hc.Transport = m
			c.HTTPClient = &hc
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

	s, err := benchkit.Prepare(ctx, a.Service, fk, o.provider, data, "screenbench", func(in *service.ConfigureTriggerInput) {
		in.Description, in.ImportUnsure = &o.description, &o.importUnsure
	})
	if err != nil {
		return res, err
	}
	res.SearchType = s.SearchType
	params, _ := json.Marshal(s.Params)
	fmt.Fprintf(stdout, "screenbench: %s sandbox fake, %s %s, N %d; model fake answering after %s, batches of %d, %d at once; description %q (import unsure: %t); GOMAXPROCS %d, database %s\n",
		o.provider, s.SearchType, params, o.n, o.latency, o.batch, o.concurrency, o.description, o.importUnsure, runtime.GOMAXPROCS(0), res.Database)

	began, err := syncOnce(ctx, o, st, a.Service, s, res, log, stderr, m, func() error { return a.Start(ctx) })
	if err != nil {
		return res, err
	}
	stopApp()

	received := llm.Received()
	res.Sent = len(received)
	res.Requests = llm.Requests()
	res.MaxInFlight = llm.MaxInFlight()
	perRequest := map[int]int{}
	distinct := map[string]bool{}
	for _, r := range received {
		perRequest[r.Request]++
		b, _ := json.Marshal(r.Attributes) // map keys sorted: canonical
		distinct[string(b)] = true
	}
	res.DistinctSent = len(distinct)
	for _, k := range perRequest {
		if k < o.batch {
			res.PartialBatches++
		}
	}
	m.summarize(began, o.concurrency, res)

	lat := o.latency.Seconds()
	res.B1 = float64(o.n) / float64(o.batch*o.concurrency) * lat
	batches := (res.Sent + o.batch - 1) / o.batch
	res.B2 = float64((batches+o.concurrency-1)/o.concurrency) * lat
	if res.B1 > 0 {
		res.Ratio1 = res.Seconds / res.B1
	}
	if res.B2 > 0 {
		res.Ratio2 = res.Seconds / res.B2
	}
	res.TargetMet = res.B1 > 0 && res.Ratio1 <= target
	report(stdout, o, res)

	if res.Status != syncrun.StatusSUCCEEDED {
		return res, fmt.Errorf("the sync run ended %s, not SUCCEEDED: %s", res.Status, res.RunError)
	}
	if res.Screening != schematype.ScreeningActive {
		return res, fmt.Errorf("the run's screening is %s, not ACTIVE: the model was not applied", res.Screening)
	}
	issues := res.Duplicates + res.InvalidPhone + res.FilteredOut + res.Failed + res.ScreenedOut
	if res.Fetched != res.Imported+issues || res.Contacts != res.Imported {
		return res, fmt.Errorf("the run does not add up: fetched %d, imported %d, duplicates %d, invalid phone %d, filtered out %d, failed %d, screened out %d, contacts %d",
			res.Fetched, res.Imported, res.Duplicates, res.InvalidPhone, res.FilteredOut, res.Failed, res.ScreenedOut, res.Contacts)
	}
	return res, nil
}

// report prints the figures.
func report(w io.Writer, o options, res *result) {
	fmt.Fprintf(w, "sync: run %s (%s), screening %s", res.Status, res.RunKind, res.Screening)
	if res.RunError != "" {
		fmt.Fprintf(w, ": %s", res.RunError)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  N              %d\n", res.N)
	fmt.Fprintf(w, "  fetched        %d\n", res.Fetched)
	fmt.Fprintf(w, "  imported       %d (contacts in the campaign: %d)\n", res.Imported, res.Contacts)
	fmt.Fprintf(w, "  other issues   duplicates %d, invalid phone %d, filtered out %d, failed %d\n",
		res.Duplicates, res.InvalidPhone, res.FilteredOut, res.Failed)
	fmt.Fprintf(w, "  screened       %d (screened out %d, unsure %d)\n", res.Screened, res.ScreenedOut, res.Unsure)
	fmt.Fprintf(w, "model fake:\n")
	fmt.Fprintf(w, "  records sent   %d (%d distinct attribute sets; %d screened records were decided without a request of their own: same data as another, or no fit data)\n",
		res.Sent, res.DistinctSent, max(res.Screened-res.Sent, 0))
	fmt.Fprintf(w, "  requests       %d (%d with fewer than %d records), at most %d in flight (configured %d)\n",
		res.Requests, res.PartialBatches, res.Batch, res.MaxInFlight, res.Concurrency)
	perScreened, perSent := 0.0, 0.0
	if res.Screened > 0 {
		perScreened = float64(res.Tokens) / float64(res.Screened)
	}
	if res.Sent > 0 {
		perSent = float64(res.Tokens) / float64(res.Sent)
	}
	fmt.Fprintf(w, "  tokens         %d = %.1f per screened record (%.1f per record sent)\n", res.Tokens, perScreened, perSent)
	fmt.Fprintf(w, "  requests spread: first sent at %.2fs, last answered at %.2fs; between them %.2f in flight on average, %d in flight for %.1fs, none for %.1fs; %.3fs per request on average\n",
		res.FirstRequest, res.LastAnswer, res.MeanInFlight, res.Concurrency, res.SaturatedSeconds, res.IdleSeconds, res.MeanRequestSeconds)
	fmt.Fprintf(w, "  requests' own time / concurrency %.2fs; from an answer to the next request: mean %.1fms, median %.1fms, p90 %.1fms, max %.1fms\n",
		res.ModelBoundSeconds, 1000*res.TurnaroundMean, 1000*res.TurnaroundP50, 1000*res.TurnaroundP90, 1000*res.TurnaroundMax)
	fmt.Fprintf(w, "time:\n")
	fmt.Fprintf(w, "  elapsed        %.2fs (TestSync to the run's end; %.1f CPU seconds in this process)\n", res.Seconds, res.CPUSeconds)
	fmt.Fprintf(w, "  B1 %8.2fs    the requirement's bound: n/(batch x concurrency) x latency = %d/(%d x %d) x %s\n",
		res.B1, res.N, res.Batch, res.Concurrency, o.latency)
	fmt.Fprintf(w, "  elapsed/B1     %.3f (target <= %.2f)\n", res.Ratio1, target)
	fmt.Fprintf(w, "  B2 %8.2fs    the bound for the records actually sent: ceil(ceil(%d/%d)/%d) x %s\n",
		res.B2, res.Sent, res.Batch, res.Concurrency, o.latency)
	fmt.Fprintf(w, "  elapsed/B2     %.3f\n", res.Ratio2)
	verdict := "target missed"
	if res.TargetMet {
		verdict = "target met"
	}
	res.Summary = fmt.Sprintf("screenbench: %d records, %d sent to the model in %d requests, %.1fs; B1 %.1fs, elapsed/B1 %.3f: %s (<= %.2f); B2 %.1fs, elapsed/B2 %.3f; %.1f tokens per screened record",
		res.Fetched, res.Sent, res.Requests, res.Seconds, res.B1, res.Ratio1, verdict, target, res.B2, res.Ratio2, perScreened)
	fmt.Fprintln(w, res.Summary)
}

// syncOnce queues a test run of the trigger through the service, starts
// Intake (start), and waits for the run to end. It returns when the run
// was queued, the start of the measured time.
func syncOnce(ctx context.Context, o options, st *store.Store, svc *service.Service, s *benchkit.Setup,
	res *result, log *slog.Logger, stderr io.Writer, m *meter, start func() error,
) (time.Time, error) {
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return time.Time{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return time.Time{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cpuBefore := processCPU()
	began := time.Now()
	// Queued before the engine starts, so the scheduler (which runs at
	// start) finds this run active instead of queueing one of its own.
	run, err := svc.TestSync(s.Ctx, s.Trigger.ID)
	if err != nil {
		return began, fmt.Errorf("starting the run: %w", err)
	}
	if err := start(); err != nil {
		return began, fmt.Errorf("starting Intake: %w", err)
	}
	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	lastReport := began
	for {
		select {
		case <-ctx.Done():
			return began, ctx.Err()
		case <-deadline.C:
			return began, fmt.Errorf("the run has not ended after %s (fetched %d so far)", o.timeout, run.Fetched)
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
			fmt.Fprintf(stderr, "screenbench: %s after %.0fs: fetched %d of %d, screened %d, %d model requests\n",
				run.Status, now.Sub(began).Seconds(), run.Fetched, o.n, run.Screened, m.count())
		}
	}
	res.Seconds = time.Since(began).Seconds()
	res.CPUSeconds = (processCPU() - cpuBefore).Seconds()

	res.RunKind, res.Status, res.Screening = run.Kind, run.Status, run.Screening
	if run.Error != nil {
		res.RunError = *run.Error
	}
	res.Fetched, res.Imported, res.Duplicates = run.Fetched, run.Imported, run.Duplicates
	res.InvalidPhone, res.FilteredOut, res.Failed = run.InvalidPhone, run.FilteredOut, run.Failed
	res.Screened, res.ScreenedOut, res.Unsure, res.Tokens = run.Screened, run.ScreenedOut, run.Unsure, run.ScreeningTokens
	if err := st.DB.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE campaign_id = $1`, s.Campaign.ID).Scan(&res.Contacts); err != nil {
		return began, fmt.Errorf("counting contacts: %w", err)
	}
	return began, nil
}

// meter records when each request to the model was sent and answered
// (its headers received: the fake writes its whole answer at once).
type meter struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []span
}

type span struct{ start, end time.Time }

func (m *meter) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := m.next.RoundTrip(r)
	end := time.Now()
	m.mu.Lock()
	m.reqs = append(m.reqs, span{start, end})
	m.mu.Unlock()
	return resp, err
}

func (m *meter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reqs)
}

// summarize fills in how the requests spread over the run: when the first
// was sent and the last answered (seconds after began), the mean number in
// flight between the two, and how long concurrency of them, or none, were
// in flight.
func (m *meter) summarize(began time.Time, concurrency int, res *result) {
	m.mu.Lock()
	reqs := slices.Clone(m.reqs)
	m.mu.Unlock()
	if len(reqs) == 0 {
		return
	}
	type event struct {
		at    time.Time
		delta int
	}
	events := make([]event, 0, 2*len(reqs))
	var busy time.Duration
	for _, r := range reqs {
		events = append(events, event{r.start, +1}, event{r.end, -1})
		busy += r.end.Sub(r.start)
	}
	// Ends before starts at the same instant.
	slices.SortFunc(events, func(a, b event) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.delta, b.delta))
	})
	first, last := events[0].at, events[len(events)-1].at
	var saturated, idle time.Duration
	inFlight := 0
	for i, e := range events {
		if i > 0 {
			d := e.at.Sub(events[i-1].at)
			switch {
			case inFlight >= concurrency:
				saturated += d
			case inFlight == 0:
				idle += d
			}
		}
		inFlight += e.delta
	}
	res.FirstRequest = first.Sub(began).Seconds()
	res.LastAnswer = last.Sub(began).Seconds()
	if span := last.Sub(first); span > 0 {
		res.MeanInFlight = busy.Seconds() / span.Seconds()
	}
	res.SaturatedSeconds = saturated.Seconds()
	res.IdleSeconds = idle.Seconds()
	res.MeanRequestSeconds = busy.Seconds() / float64(len(reqs))
	res.ModelBoundSeconds = busy.Seconds() / float64(concurrency)

	var ends []time.Time // answers not yet followed by a request
	var turn []float64
	for _, e := range events {
		switch {
		case e.delta < 0:
			ends = append(ends, e.at)
		case len(ends) > 0:
			turn = append(turn, e.at.Sub(ends[0]).Seconds())
			ends = ends[1:]
		}
	}
	if len(turn) > 0 {
		slices.Sort(turn)
		sum := 0.0
		for _, t := range turn {
			sum += t
		}
		res.TurnaroundMean = sum / float64(len(turn))
		res.TurnaroundP50 = turn[len(turn)/2]
		res.TurnaroundP90 = turn[min(len(turn)-1, int(math.Ceil(0.9*float64(len(turn))))-1)]
		res.TurnaroundMax = turn[len(turn)-1]
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
