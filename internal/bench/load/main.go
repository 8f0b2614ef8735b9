//go:build unix

// Command load drives an Intake server over loopback and measures it:
//
//	go run ./internal/bench/load [-postgres URL] [-duration 20s] [-concurrency 32]
//	    [-subscribers 1000] [-idle 10000] [-sync-size 20000] [-phase all|queries|idle|progress]
//	    [-campaigns 5] [-seed-size 800] [-watchers 5] [-only OPERATION]
//	    [-peer postgraphile|intake] [-keep] [-v]
//
// It creates a scratch PostgreSQL database on the server at -postgres
// (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// migrates it, creates an organization with API keys, and serves the
// sandbox FAKES of the providers on 127.0.0.1. It then starts the server
// in a process of its own (the command re-executed with a hidden -serve
// flag): Intake as main.go assembles it (internal/app), with the tool's
// configuration (see intakeEnv), on a loopback port, and beside
// it, on another port, a plain net/http JSON handler doing the same
// database reads with hand-written SQL (the baseline). Through the API it
// seeds a realistic organization: an integration of each provider
// connected to the fakes, campaigns with a configured trigger on each, a
// test sync of every trigger (thousands of contacts and import issues).
//
// Phases (-phase all runs them in this order):
//
//   - queries: the SPA query mix (campaign list with triggers and their
//     latest run, a campaign's contacts page, a run's import issues page,
//     a node lookup, 5% configureTrigger writes), first closed-loop with
//     -concurrency clients against Intake, then against the baseline, for
//     the maximum throughput of each and their ratio; then open-loop
//     against Intake at half its maximum rate, for the latency
//     percentiles. Each closed loop reports the server process's CPU time
//     per request. With -peer postgraphile, PostGraphile 4 (installed
//     with npm, see peer.go) serves the same database without
//     authentication, and closed loops of the reads of the mix, and of
//     each read alone, compare Intake with it. With -peer intake, the
//     same loops compare the tool's server process with `intake serve`
//     itself (built with go build, production defaults; see
//     peer_intake.go).
//   - idle: -idle websockets, each with a campaignEvents subscription; the
//     server process's memory (VmRSS, and Go's heap and stacks) before and
//     after gives the memory per subscription. Then a call result is
//     recorded in the campaign: its pushback event must reach every one.
//   - progress: a sync of -sync-size people followed by one syncProgress
//     subscriber, then another followed by -subscribers of them and
//     -watchers campaignEvents subscribers; each message's latency is its
//     arrival time minus the run's updatedAt (the checkpoint that caused
//     it), on the same clock.
//
// The scratch database is dropped at the end unless -keep is given.
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
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// The targets of the issue, printed beside the figures.
const (
	targetRatio      = 70.0 // percent of the baseline's throughput
	targetP99        = 50 * time.Millisecond
	targetBytesPerWS = 25 * 1024
	targetFanoutP99  = 500 * time.Millisecond
	targetProgress   = 250 * time.Millisecond
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		if err := serveChild(os.Args[2:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "load -serve:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	postgres    string
	duration    time.Duration
	concurrency int
	subscribers int
	idle        int
	syncSize    int
	phase       string
	campaigns   int
	seedSize    int
	watchers    int
	only        string
	weights     [numOps]int
	peer        string
	keep        bool
	verbose     bool
}

func (o options) runs(phase string) bool { return o.phase == "all" || o.phase == phase }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.postgres, "postgres", cmp.Or(strings.TrimSpace(getenv("TEST_DATABASE_URL")), benchkit.DefaultPostgresURL),
		"PostgreSQL server URL; a scratch database is created on it (default TEST_DATABASE_URL)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "queries: how long each load run lasts (closed loop on each target, then open loop)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "queries: clients of the closed loop, each with one request in flight")
	fs.IntVar(&o.subscribers, "subscribers", 1000, "progress: syncProgress subscribers of the second sync")
	fs.IntVar(&o.idle, "idle", 10000, "idle: campaignEvents subscriptions held, one websocket each")
	fs.IntVar(&o.syncSize, "sync-size", 20000, "progress: people in the fake each progress sync fetches")
	fs.StringVar(&o.phase, "phase", "all", "all, queries, idle or progress")
	fs.IntVar(&o.campaigns, "campaigns", 5, "campaigns of the seeded organization, each with a trigger on each of the 4 integrations")
	fs.IntVar(&o.seedSize, "seed-size", 800, "people in the fakes the seeded triggers sync from")
	fs.IntVar(&o.watchers, "watchers", 5, "progress: campaignEvents subscribers beside the syncProgress ones")
	fs.StringVar(&o.only, "only", "", "queries: run only this operation of the mix ("+strings.Join(opNames[:], ", ")+")")
	fs.StringVar(&o.peer, "peer", "", "queries: also compare the reads of the mix with this server on the same database: "+peerPostGraphile+
		" (PostGraphile "+postgraphileVersion+", installed with npm; skipped without node) or "+peerIntake+
		" (intake serve, built from this module with go build)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch database instead of dropping it")
	fs.BoolVar(&o.verbose, "v", false, "log the server's info messages to stderr (default: warnings and errors)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, c := range []struct {
		name     string
		v, lo, h int
	}{
		{"-concurrency", o.concurrency, 1, 4096},
		{"-subscribers", o.subscribers, 1, 100_000},
		{"-idle", o.idle, 1, 100_000},
		{"-sync-size", o.syncSize, 10, 1_000_000},
		{"-campaigns", o.campaigns, 1, 1000},
		{"-seed-size", o.seedSize, 10, 100_000},
		{"-watchers", o.watchers, 0, 1000},
	} {
		if c.v < c.lo || c.v > c.h {
			return o, fmt.Errorf("%s: %d is not between %d and %d", c.name, c.v, c.lo, c.h)
		}
	}
	if o.duration < 100*time.Millisecond || o.duration > 24*time.Hour {
		return o, fmt.Errorf("-duration: %s is not between 100ms and 24h", o.duration)
	}
	var err error
	if o.weights, err = weightsFor(o.only); err != nil {
		return o, err
	}
	switch o.phase {
	case "all", "queries", "idle", "progress":
	default:
		return o, fmt.Errorf("-phase: %q is not all, queries, idle or progress", o.phase)
	}
	switch o.peer {
	case "":
	case peerPostGraphile, peerIntake:
		if readWeights(o.weights) == ([numOps]int{}) {
			return o, fmt.Errorf("-peer: -only %s leaves no read to compare", o.only)
		}
	default:
		return o, fmt.Errorf("-peer: %q is not %s or %s", o.peer, peerPostGraphile, peerIntake)
	}
	o.postgres, err = benchkit.PostgresURL(o.postgres)
	return o, err
}

// queriesResult is what the queries phase measured.
type queriesResult struct {
	Weights                [numOps]int // the mix, percent per operation
	Intake, Baseline, Open loadStats
	Percent                float64     // Intake's maximum rate as a percentage of the baseline's
	Peer                   *peerResult // with -peer, unless skipped
}

// result is what one run of the tool measured.
type result struct {
	Database string
	Contacts int // contacts and import issues the seeding made
	Issues   int
	Queries  *queriesResult
	Idle     *idleResult
	Progress []progressRound
	Summary  []string // one line per phase
}

// run runs the phases and prints their figures to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*result, error) {
	o, err := parseFlags(args, os.Getenv, stderr)
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(); err != nil {
		return nil, err
	}
	res := &result{}
	dbURL, dbName, drop, err := benchkit.ScratchDatabase(ctx, o.postgres, "intake_load")
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
			fmt.Fprintf(stderr, "load: dropping %s: %v\n", res.Database, err)
		}
	}()
	// One credentials key for the database, as replicas share theirs.
	encKey, err := benchkit.NewEncryptionKey()
	if err != nil {
		return nil, err
	}
	keys, err := prepareDatabase(ctx, dbURL, encKey, keysNeeded(o), o.verbose)
	if err != nil {
		return nil, err
	}
	// The peer is installed and started before the seeding, so that a
	// failure shows at once; the migrated schema is all it reads at start.
	var peer *peerProcess
	if o.peer != "" && o.runs("queries") {
		cfg, err := benchkit.Config(dbURL, intakeEnv(encKey, o.verbose))
		if err != nil {
			return nil, err
		}
		peer, err = startPeer(ctx, peerConfig{
			kind: o.peer, dbURL: dbURL, encKey: encKey, poolSize: cfg.DBMaxConns, verbose: o.verbose, lookPath: exec.LookPath,
		}, stdout, stderr)
		if err != nil {
			return nil, fmt.Errorf("-peer %s: %w", o.peer, err)
		}
		if peer != nil {
			defer peer.stop()
		}
	}

	// People created and last changed before now, so every search finds
	// them all.
	anchor := time.Now().Add(-sandbox.UpdatedAtLag - time.Minute)
	seedData := sandbox.Dataset{Seed: 2, Size: o.seedSize, Step: time.Second}.AnchoredAt(anchor)
	progressData := sandbox.Dataset{Seed: 1, Size: o.syncSize, Step: time.Second}.AnchoredAt(anchor)
	seedFakes, progressFakes := fakes.New(seedData), fakes.New(progressData)
	for _, fk := range []*fakes.Set{seedFakes, progressFakes} {
		if err := fk.Start("127.0.0.1:0"); err != nil {
			return nil, err
		}
		defer fk.Close()
	}

	srv, stopServer, err := startServer(ctx, dbURL, encKey, o.verbose, stderr)
	if err != nil {
		return nil, err
	}
	defer stopServer()

	fmt.Fprintf(stdout, "load: server pid %d (Intake %s, baseline %s), GOMAXPROCS %d, load average %s, database %s\n",
		srv.pid, srv.intake, srv.baseline, runtime.GOMAXPROCS(0), benchkit.LoadAverage(), res.Database)
	s := &seeder{hc: newHTTPClient(4), url: srv.intake + "/graphql", key: keys[0]}
	began := time.Now()
	org, err := s.seed(ctx, seedFakes, progressFakes, seedData, o.campaigns)
	if err != nil {
		return nil, err
	}
	res.Contacts, res.Issues = org.contactCount, org.issueCount
	fmt.Fprintf(stdout, "seeded in %.1fs: %d campaigns, %d triggers, %d contacts, %d import issues (%d runs with issues), %d API keys\n",
		time.Since(began).Seconds(), len(org.campaigns), len(org.triggers), org.contactCount, org.issueCount, len(org.runs), len(keys))
	began = time.Now()
	if err := vacuumAnalyze(ctx, dbURL); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "vacuumed and analyzed in %.1fs\n", time.Since(began).Seconds())

	if o.runs("queries") {
		q := queriesPhase(ctx, o, srv, org, keys)
		res.Queries = q
		printQueries(stdout, q)
		line := fmt.Sprintf("queries: Intake %.0f req/s = %.0f%% of the baseline's %.0f req/s (target >= %.0f%%); at half (%.0f req/s): p50 %s, p95 %s, p99 %s (target < %s); errors %d",
			q.Intake.Rate, q.Percent, q.Baseline.Rate, targetRatio, q.Open.Scheduled,
			ms(q.Open.P50), ms(q.Open.P95), ms(q.Open.P99), ms(targetP99), q.Intake.Errors+q.Baseline.Errors+q.Open.Errors)
		res.Summary = append(res.Summary, line)
		fmt.Fprintln(stdout, line)
		if err := firstError(q.Intake, q.Baseline, q.Open); err != nil {
			return res, err
		}
		if peer != nil {
			p, err := peerPhase(ctx, stdout, o, srv, peer, org, keys)
			peer.stop() // not needed by the other phases
			if p != nil {
				q.Peer = p
				printPeer(stdout, p)
				line := peerSummary(p)
				res.Summary = append(res.Summary, line)
				fmt.Fprintln(stdout, line)
			}
			if err != nil {
				return res, err
			}
		}
	}
	if o.runs("idle") {
		fmt.Fprintf(stdout, "idle: opening %d websockets with a campaignEvents subscription each\n", o.idle)
		r, err := idlePhase(ctx, s, srv, keys, org, o.idle)
		if err != nil {
			return res, fmt.Errorf("idle: %w", err)
		}
		res.Idle = r
		printIdle(stdout, r)
		line := fmt.Sprintf("idle: %d subscriptions held: %.1f KB of server RSS each (Go heap and stacks %.1f KB; target < %d KB); their pushback event reached %d of %d, p99 %s",
			r.Subscriptions, r.RSSPerSub/1024, r.HeapPerSub/1024, targetBytesPerWS/1024, r.Delivered, r.Subscriptions, ms(r.DeliverP99))
		res.Summary = append(res.Summary, line)
		fmt.Fprintln(stdout, line)
		if r.Delivered != r.Subscriptions {
			return res, fmt.Errorf("idle: the pushback event reached %d of %d subscribers within %s", r.Delivered, r.Subscriptions, r.DeliveryDeadline)
		}
	}
	if o.runs("progress") {
		rounds, err := progressPhase(ctx, s, srv, keys, org, progressData, o.subscribers, o.watchers)
		for _, r := range rounds {
			printProgress(stdout, r)
		}
		if err != nil {
			return res, fmt.Errorf("progress: %w", err)
		}
		res.Progress = rounds
		one, many := rounds[0], rounds[1]
		line := fmt.Sprintf("progress: 1 subscriber: p99 %s, max %s; %d subscribers: p50 %s, p99 %s, max %s (targets: p99 < %s, each < %s); %d of %d saw the final state",
			ms(one.P99), ms(one.Max), many.Subscribers, ms(many.P50), ms(many.P99), ms(many.Max),
			ms(targetFanoutP99), ms(targetProgress), many.SawDone, many.Subscribers)
		res.Summary = append(res.Summary, line)
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "load average at the end: %s\n", benchkit.LoadAverage())
	return res, nil
}

// keysNeeded is how many API keys the organization gets: enough that no
// key carries more than connsPerKey websockets, and one per closed-loop
// client, so per-key caps and rate limits do not bind.
func keysNeeded(o options) int {
	ws := 0
	if o.runs("idle") {
		ws = o.idle
	}
	if o.runs("progress") {
		ws = max(ws, o.subscribers+o.watchers)
	}
	n := (ws + connsPerKey - 1) / connsPerKey
	if o.runs("queries") {
		n = max(n, o.concurrency)
	}
	return max(n, 1)
}

func queriesPhase(ctx context.Context, o options, srv *serverProcess, org *org, keys []string) *queriesResult {
	m := newMix(org, keys, o.weights)
	hc := newHTTPClient(2 * o.concurrency)
	intake := target{name: "Intake", graphQL: true, url: srv.intake, pid: srv.pid, mem: srv.baseline + memPath}
	base := target{name: "baseline", url: srv.baseline, pid: srv.pid, mem: srv.baseline + memPath}
	warm := min(2*time.Second, o.duration/4)
	q := &queriesResult{Weights: o.weights}
	m.closedLoop(ctx, hc, intake, o.concurrency, warm)
	q.Intake = m.closedLoop(ctx, hc, intake, o.concurrency, o.duration)
	m.closedLoop(ctx, hc, base, o.concurrency, warm)
	q.Baseline = m.closedLoop(ctx, hc, base, o.concurrency, o.duration)
	if q.Baseline.Rate > 0 {
		q.Percent = 100 * q.Intake.Rate / q.Baseline.Rate
	}
	if q.Intake.Rate > 0 {
		q.Open = m.openLoop(ctx, hc, intake, q.Intake.Rate/2, o.duration)
	}
	return q
}

func firstError(stats ...loadStats) error {
	for _, s := range stats {
		if s.Errors > 0 {
			return fmt.Errorf("queries: %d of %d requests to %s failed, e.g. %s", s.Errors, s.Requests, s.Target, s.FirstErr)
		}
	}
	return nil
}

func printQueries(w io.Writer, q *queriesResult) {
	fmt.Fprintf(w, "queries: mix %s\n", mixDescription(q.Weights))
	for _, s := range []loadStats{q.Intake, q.Baseline} {
		printClosedLoop(w, s, 8)
		for op := range numOps {
			b := s.ByOp[op]
			fmt.Fprintf(w, "      %-17s %6d  p50 %s, p99 %s\n", opNames[op], b.Requests, ms(b.P50), ms(b.P99))
		}
	}
	fmt.Fprintf(w, "  Intake = %.1f%% of the baseline's throughput\n", q.Percent)
	s := q.Open
	fmt.Fprintf(w, "  open loop Intake at %.0f req/s: %.0f req/s answered (%d requests, %d errors): p50 %s, p95 %s, p99 %s, max %s\n",
		s.Scheduled, s.Rate, s.Requests, s.Errors, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
}

// printClosedLoop prints a closed loop's line, the target's name padded
// to width.
func printClosedLoop(w io.Writer, s loadStats, width int) {
	fmt.Fprintf(w, "  closed loop %-*s %6.0f req/s (%d requests in %.1fs, %d errors): p50 %s, p95 %s, p99 %s, max %s, %s\n",
		width, s.Target, s.Rate, s.Requests, s.Seconds, s.Errors, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), cpuText(s))
}

// cpuText is a closed loop's CPU time per request of the server process.
func cpuText(s loadStats) string {
	text := "cpu n/a"
	if s.CPUMeasured {
		text = fmt.Sprintf("cpu %.2f ms/req", float64(s.CPUPerReq)/float64(time.Millisecond))
	}
	if s.AllocMeasured {
		text += fmt.Sprintf(", %.0f allocs %.1f KB/req", s.AllocsPerReq, s.AllocBytesPerReq/1024)
	}
	return text
}

func mixDescription(weights [numOps]int) string {
	parts := make([]string, 0, numOps)
	for op := range numOps {
		if weights[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", opNames[op], weights[op]))
		}
	}
	return strings.Join(parts, ", ")
}

func printIdle(w io.Writer, r *idleResult) {
	fmt.Fprintf(w, "  opened and subscribed in %.1fs\n", r.OpenSeconds)
	fmt.Fprintf(w, "  server VmRSS        %.1f MB -> %.1f MB: %.1f KB per subscription\n", mb(r.RSSBefore), mb(r.RSSAfter), r.RSSPerSub/1024)
	fmt.Fprintf(w, "  server heap+stacks  %.1f MB -> %.1f MB: %.1f KB per subscription\n", mb(r.HeapBefore), mb(r.HeapAfter), r.HeapPerSub/1024)
	fmt.Fprintf(w, "  server goroutines   %d -> %d: %.1f per subscription\n", r.GoroutinesBefore, r.GoAfter,
		float64(r.GoAfter-r.GoroutinesBefore)/float64(r.Subscriptions))
	fmt.Fprintf(w, "  a call result's pushback event reached %d of %d subscribers: p50 %s, p99 %s, max %s after the call result was recorded\n",
		r.Delivered, r.Subscriptions, ms(r.DeliverP50), ms(r.DeliverP99), ms(r.DeliverMax))
}

func printProgress(w io.Writer, r progressRound) {
	fmt.Fprintf(w, "progress: run %s of %d people followed by %d syncProgress subscribers and %d campaignEvents watchers, %.1fs\n",
		r.RunID, r.Fetched, r.Subscribers, r.Watchers, r.Seconds)
	fmt.Fprintf(w, "  latency (arrival - run.updatedAt) over %d messages: p50 %s, p95 %s, p99 %s, max %s\n",
		r.Samples, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "  messages per subscriber: %d to %d (mean %.1f); %d completed, %d saw done: true\n",
		r.MinMsgs, r.MaxMsgs, r.MessagesPerSubscribe, r.Completed, r.SawDone)
	if r.Watchers > 0 {
		fmt.Fprintf(w, "  campaignEvents watchers: p99 %s over %d messages; %d of %d saw done: true\n",
			ms(r.WatcherP99), r.WatcherSamples, r.WatchersSawDone, r.Watchers)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
func mb(b int64) float64        { return float64(b) / (1 << 20) }

// prepareDatabase migrates the scratch database and creates the load's
// organization with n admin API keys, through Intake assembled as the
// CLI's commands assemble it (built, not started).
func prepareDatabase(ctx context.Context, dbURL, encKey string, n int, verbose bool) (_ []string, err error) {
	cfg, err := benchkit.Config(dbURL, intakeEnv(encKey, verbose))
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, app.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, a.Stop(context.WithoutCancel(ctx))) }() // nothing started: closes the database
	keys := make([]string, n)
	for i := range keys {
		if keys[i], err = a.Service.CreateAPIKey(ctx, "load", schematype.RoleAdmin); err != nil {
			return nil, fmt.Errorf("creating an API key: %w", err)
		}
	}
	return keys, nil
}

// vacuumAnalyze brings the seeded database to where autovacuum keeps a
// live one: the planner's statistics gathered, the visibility map set.
// Without statistics on tables filled seconds ago, PostgreSQL plans a page
// of a run's import issues as a scan and sort of all of them instead of
// the first rows of the (run_id, id) index, for Intake and peer alike, and
// the reads measure a database no deployment runs on for long.
func vacuumAnalyze(ctx context.Context, dbURL string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuuming the seeded database: %w", err)
	}
	return nil
}

// startServer starts the server process on the database and waits for
// its endpoints. stop ends it: closing its stdin, then signalling it.
func startServer(ctx context.Context, dbURL, encKey string, verbose bool, stderr io.Writer) (*serverProcess, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	args := []string{serveFlag, "-database", dbURL}
	if verbose {
		args = append(args, "-v")
	}
	cmd := exec.Command(exe, args...)
	// The key in the environment, not on the command line, which other
	// users of the machine can read.
	cmd.Env = append(os.Environ(), encryptionKeyEnv+"="+encKey)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting the server process: %w", err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
			return
		case <-time.After(30 * time.Second):
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	var ep endpoints
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &ep); err != nil || ep.Intake == "" {
			stop()
			return nil, nil, fmt.Errorf("the server process printed %q", line)
		}
	case err := <-exited:
		return nil, nil, fmt.Errorf("the server process exited: %v", err)
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	case <-time.After(2 * time.Minute):
		stop()
		return nil, nil, errors.New("the server process did not start within 2 minutes")
	}
	return &serverProcess{pid: cmd.Process.Pid, intake: ep.Intake, baseline: ep.Baseline, hc: newHTTPClient(2)}, stop, nil
}

// raiseFileLimit raises the soft limit of open files to the hard limit:
// each websocket is a file in the tool and in the server process, which
// inherits the limit.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= lim.Max {
		return nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	return nil
}

// clockTicks is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which is 100 on Linux whatever the kernel's HZ (what sysconf(_SC_CLK_TCK)
// answers; assumed rather than asked, which would need cgo).
const clockTicks = 100

// procCPU is the user+system CPU time a process has spent, from
// /proc/<pid>/stat (its threads', not its children's).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15, of a
// /proc/<pid>/stat line. Field 2, the command's name in parentheses, may
// hold spaces and parentheses itself: the fields are counted from after
// its last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", truncate([]byte(stat), 100))
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name in %q", len(f), truncate([]byte(stat), 100))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime or stime: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// procStatusKB reads a "kB" field of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server process's memory: %w", err)
	}
	for line := range bytes.Lines(b) {
		name, rest, ok := strings.Cut(string(line), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
