//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The peers -peer accepts: another GraphQL server over the same database,
// for comparing Intake's reads with.
const (
	peerPostGraphile = "postgraphile"
	// postgraphileVersion is the PostGraphile installed, pinned: the
	// latest 4.x release (`npm view postgraphile@4 version`).
	postgraphileVersion = "4.14.1"
	postgraphileBin     = "node_modules/.bin/postgraphile"
)

// postgraphileQueries are the reads of the mix in PostGraphile's
// schema, reflected from the tables: the same rows and columns as
// Intake's queries (opQueries) ask, in the same order, with the same
// counts. The IDs the mix picks are the tables' primary keys. With a
// single organization in the database, PostGraphile's unscoped lists
// hold the same rows as Intake's scoped ones. There is no
// configureTrigger: PostGraphile runs without mutations.
var postgraphileQueries = [numOps]string{
	opCampaigns: `query CampaignList($first: Int!) {
  allCampaigns(first: $first, orderBy: PRIMARY_KEY_ASC) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name phoneRegion createdAt updatedAt
      triggersByCampaignId(orderBy: CREATED_AT_ASC) { nodes {
        id enabled searchType description pushbackEnabled syncIntervalSeconds lastSyncAt nextSyncAt
        integrationByIntegrationId { id name status }
        syncRunsByTriggerId(orderBy: PRIMARY_KEY_DESC, first: 1) { nodes {
          id kind status startedAt finishedAt fetched imported duplicates invalidPhone failed
        } }
      } }
    } }
  }
}`,
	opContacts: `query CampaignContacts($id: String!, $first: Int!) {
  campaignById(id: $id) {
    id name
    contactsByCampaignId(first: $first, orderBy: PRIMARY_KEY_ASC) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id phoneE164 phoneRaw firstName lastName email externalId attributes createdAt } }
    }
  }
}`,
	opIssues: `query ImportIssues($id: String!, $first: Int!) {
  syncRunById(id: $id) {
    id status fetched imported duplicates invalidPhone
    importIssuesByRunId(first: $first, orderBy: PRIMARY_KEY_ASC) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id externalId code message rawPhone createdAt } }
    }
  }
}`,
	opContact: `query NodeLookup($id: String!) {
  contactById(id: $id) {
    id phoneE164 phoneRaw firstName lastName email externalId createdAt
    campaignByCampaignId { id name }
  }
}`,
}

// readWeights is the mix without its writes: the peer has no mutations.
func readWeights(w [numOps]int) [numOps]int {
	w[opConfigure] = 0
	return w
}

// peerConfig is what startPeer needs.
type peerConfig struct {
	kind     string // peerPostGraphile or peerIntake
	dbURL    string // the scratch database
	encKey   string // the database's credentials key (peerIntake)
	poolSize int    // PostgreSQL connections, as many as Intake's pool has
	verbose  bool   // copy the peer's output to stderr
	// lookPath finds node and npm (exec.LookPath; tests replace it).
	lookPath func(string) (string, error)
}

// peerProcess is the peer server, running.
type peerProcess struct {
	name    string // as printed
	version string
	url     string // base URL
	pid     int    // the process serving, whose CPU time is measured
	stop    func() // ends it and its process group; safe to call again
	// auth: an Intake, asked Intake's queries with the API keys;
	// otherwise PostGraphile, asked postgraphileQueries without.
	auth bool
}

// peerTools finds node and npm on PATH. skip says what is missing.
func peerTools(lookPath func(string) (string, error)) (node, npm, skip string) {
	node, err := lookPath("node")
	if err != nil {
		return "", "", "node not found on PATH"
	}
	npm, err = lookPath("npm")
	if err != nil {
		return "", "", "npm not found on PATH"
	}
	return node, npm, ""
}

// startPeer installs the peer (once: the install is cached) and starts
// it on the database, on a free loopback port, and waits until it answers.
// Without node or npm it prints why and returns no peer and no error: the
// load goes on without it.
func startPeer(ctx context.Context, cfg peerConfig, stdout, stderr io.Writer) (*peerProcess, error) {
	switch cfg.kind {
	case peerPostGraphile:
	case peerIntake:
		return startIntakeServe(ctx, cfg, stdout, stderr)
	default:
		return nil, fmt.Errorf("unknown peer %q", cfg.kind)
	}
	node, npm, skip := peerTools(cfg.lookPath)
	if skip != "" {
		fmt.Fprintf(stdout, "peer: skipped: %s\n", skip)
		return nil, nil
	}
	dir, cleanup, err := installPostGraphile(ctx, npm, stdout)
	if err != nil {
		return nil, err
	}
	p, err := runPostGraphile(ctx, node, dir, cfg, stderr)
	if err != nil {
		cleanup()
		return nil, err
	}
	stop := p.stop
	p.stop = sync.OnceFunc(func() {
		stop()
		cleanup()
	})
	fmt.Fprintf(stdout, "peer: %s %s at %s (node pid %d, %d PostgreSQL connections, no authentication) on the same database\n",
		p.name, p.version, p.url, p.pid, cfg.poolSize)
	return p, nil
}

// installPostGraphile installs postgraphile@postgraphileVersion with npm
// and returns the folder holding node_modules. The install is kept in the
// user's cache folder (intake-load/postgraphile-<version>) and reused
// from there. It is made in a scratch folder beside it and renamed into
// place once complete, so an interrupted install is never taken for one.
// Without a cache folder it stays in a scratch folder that cleanup
// removes.
func installPostGraphile(ctx context.Context, npm string, stdout io.Writer) (dir string, cleanup func(), err error) {
	noop := func() {}
	cached, parent := "", ""
	if root, err := os.UserCacheDir(); err == nil {
		cached = filepath.Join(root, "intake-load", "postgraphile-"+postgraphileVersion)
		if installed(cached) {
			fmt.Fprintf(stdout, "peer: PostGraphile %s installed in %s\n", postgraphileVersion, cached)
			return cached, noop, nil
		}
		parent = filepath.Dir(cached)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			cached, parent = "", ""
		}
	}
	tmp, err := os.MkdirTemp(parent, "postgraphile-"+postgraphileVersion+".tmp-")
	if err != nil {
		return "", nil, err
	}
	removeTmp := func() { _ = os.RemoveAll(tmp) }
	fmt.Fprintf(stdout, "peer: installing postgraphile@%s with npm into %s\n", postgraphileVersion, tmp)
	began := time.Now()
	if err := npmInstall(ctx, npm, tmp); err != nil {
		removeTmp()
		return "", nil, err
	}
	if err := checkInstalledVersion(tmp); err != nil {
		removeTmp()
		return "", nil, err
	}
	fmt.Fprintf(stdout, "peer: installed in %.1fs\n", time.Since(began).Seconds())
	if cached == "" {
		return tmp, removeTmp, nil
	}
	// A folder in the way is no install (installed said so above) unless
	// another run has just put one there.
	if installed(cached) {
		removeTmp()
		return cached, noop, nil
	}
	_ = os.RemoveAll(cached)
	if err := os.Rename(tmp, cached); err != nil {
		if installed(cached) {
			removeTmp()
			return cached, noop, nil
		}
		return tmp, removeTmp, nil
	}
	return cached, noop, nil
}

// installed reports whether dir holds an install of PostGraphile.
func installed(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, postgraphileBin))
	return err == nil
}

// npmInstall runs npm install of the pinned PostGraphile in dir, which it
// gives an empty package.json first.
func npmInstall(ctx context.Context, npm, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte("{}\n"), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "postgraphile@"+postgraphileVersion)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	setPeerProcAttr(cmd)
	// npm runs scripts of its own: cancelling ends its whole group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm install postgraphile@%s: %w: %s", postgraphileVersion, err, tail(out, 2000))
	}
	return nil
}

// checkInstalledVersion checks that npm installed the version pinned.
func checkInstalledVersion(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "postgraphile", "package.json"))
	if err != nil {
		return fmt.Errorf("npm installed no postgraphile: %w", err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Errorf("reading postgraphile's package.json: %w", err)
	}
	if pkg.Version != postgraphileVersion {
		return fmt.Errorf("npm installed postgraphile %q, not %s", pkg.Version, postgraphileVersion)
	}
	if !installed(dir) {
		return fmt.Errorf("npm installed no %s", postgraphileBin)
	}
	return nil
}

// runPostGraphile starts PostGraphile, installed in dir, in a process
// group of its own on a free loopback port, reflecting the database's
// public schema without its default mutations, JSON columns as JSON, no
// JWT secret (so no authentication) and NODE_ENV=production, and waits
// until POST /graphql answers.
func runPostGraphile(ctx context.Context, node, dir string, cfg peerConfig, stderr io.Writer) (*peerProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	// node runs the script itself, so the process measured is node's.
	cmd := exec.Command(node, filepath.Join(dir, postgraphileBin),
		"-c", cfg.dbURL, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--schema", "public", "--disable-default-mutations", "--disable-query-log", "--dynamic-json",
		"--max-pool-size", strconv.Itoa(cfg.poolSize))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if cfg.verbose {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(out, stderr), io.MultiWriter(out, stderr)
	}
	cmd.WaitDelay = 5 * time.Second
	g, err := startGroup(cmd, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("starting PostGraphile: %w", err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := g.await(ctx, time.Minute, func() error { return pingGraphQL(ctx, hc, url) }); err != nil {
		g.stop()
		return nil, fmt.Errorf("PostGraphile on %s: %w; its output: %s", url, err, out.String())
	}
	pid, stop := g.pid, g.stop
	return &peerProcess{name: "PostGraphile", version: postgraphileVersion, url: url, pid: pid, stop: stop}, nil
}

// group is a peer's process, started in a process group of its own.
type group struct {
	pid     int
	exited  chan struct{} // closed once the process has exited
	waitErr error         // how, once exited is closed
	stop    func()        // SIGTERM to the group, SIGKILL after the grace; safe to call again
}

// startGroup starts cmd in a process group of its own.
func startGroup(cmd *exec.Cmd, grace time.Duration) (*group, error) {
	setPeerProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &group{pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	g.stop = sync.OnceFunc(func() {
		_ = syscall.Kill(-g.pid, syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-g.pid, syscall.SIGKILL)
			<-g.exited
		}
	})
	return g, nil
}

// await calls ready every 200 ms until it succeeds; it fails when the
// process exits, ctx ends or within has passed first.
func (g *group) await(ctx context.Context, within time.Duration, ready func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", within, err)
		}
		select {
		case <-g.exited:
			return fmt.Errorf("exited (%v) before it was ready", g.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pingGraphQL asks {__typename} of the GraphQL server at url.
func pingGraphQL(ctx context.Context, hc *http.Client, url string) error {
	var out struct {
		Typename string `json:"__typename"`
	}
	if err := graphQL(ctx, hc, url+"/graphql", "", `{ __typename }`, nil, &out); err != nil {
		return err
	}
	if out.Typename == "" {
		return errors.New("no __typename in the answer")
	}
	return nil
}

// freePort is a loopback TCP port free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// tail is the end of b, at most n bytes.
func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}

// peerResult is what the comparison with the peer measured: closed loops
// of the reads of the mix (ReadMix; when the mix has a single read, that
// read's loops) and of each read alone, on Intake and on the peer, with
// the same concurrency and duration.
type peerResult struct {
	Name, Version string
	Auth          bool        // the peer is an Intake (peerIntake)
	Weights       [numOps]int // the reads of the mix, relative weights
	Intake, Peer  loadStats   // the reads of the mix
	ByOp          []peerOpResult
}

// peerOpResult is one read's closed loops.
type peerOpResult struct {
	Op           string
	Intake, Peer loadStats
}

// ratio is Intake's throughput over the peer's.
func ratio(intake, peer loadStats) float64 {
	if peer.Rate == 0 {
		return 0
	}
	return intake.Rate / peer.Rate
}

// peerPhase compares Intake's reads with the peer's: it checks that both
// answer each read with the same rows, then runs closed loops of the
// reads of the mix and of each read alone, Intake's loop and then the
// peer's, each after a warm-up of its own. Intake's requests carry their
// API keys (authentication and tenant scoping on every one); the peer's
// none.
func peerPhase(ctx context.Context, w io.Writer, o options, srv *serverProcess, peer *peerProcess, seeded *org, keys []string) (*peerResult, error) {
	hc := newHTTPClient(2 * o.concurrency)
	intake := target{name: "Intake", graphQL: true, url: srv.intake, strict: true, pid: srv.pid, mem: srv.baseline + memPath}
	pt := target{name: peer.name, graphQL: true, url: peer.url, queries: &postgraphileQueries, strict: true, noAuth: true, pid: peer.pid}
	if peer.auth {
		pt.queries, pt.noAuth = nil, false
	}
	weights := readWeights(o.weights)
	res := &peerResult{Name: peer.name, Version: peer.version, Auth: peer.auth, Weights: weights}
	var reads []int
	for op := range numOps {
		if weights[op] > 0 {
			reads = append(reads, op)
		}
	}
	loops := len(reads)
	if loops > 1 {
		loops++
	}
	fmt.Fprintf(w, "peer: %d closed loops of %s with %d clients on Intake and on %s\n", 2*loops, o.duration, o.concurrency, peer.name)
	if err := checkPeerAnswers(ctx, hc, seeded, keys, reads, intake, pt); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	// measure runs a warm-up of t with m's requests, then the loop it
	// reports, so that each loop starts on the same footing whichever
	// server ran the loop before it (the mix's loops always had one; in
	// the runs measured so far, the single reads' figures did not move
	// with it).
	measure := func(m *mix, t target) loadStats {
		m.closedLoop(ctx, hc, t, o.concurrency, min(2*time.Second, o.duration/4))
		return m.closedLoop(ctx, hc, t, o.concurrency, o.duration)
	}
	m := newMix(seeded, keys, weights)
	if len(reads) > 1 {
		res.Intake = measure(m, intake)
		res.Peer = measure(m, pt)
		if err := firstError(res.Intake, res.Peer); err != nil {
			return res, err
		}
	}
	for _, op := range reads {
		one, _ := weightsFor(opNames[op])
		mo := newMix(seeded, keys, one)
		r := peerOpResult{Op: opNames[op]}
		r.Intake = measure(mo, intake)
		r.Peer = measure(mo, pt)
		res.ByOp = append(res.ByOp, r)
		if err := firstError(r.Intake, r.Peer); err != nil {
			return res, err
		}
	}
	if len(reads) == 1 {
		res.Intake, res.Peer = res.ByOp[0].Intake, res.ByOp[0].Peer
	}
	return res, nil
}

// checkPeerAnswers sends each read, with the same variables, to Intake
// and to the peer and compares the answers: the IDs of every object in
// them (in any order) and every totalCount. A peer query asking for
// something else than Intake's fails here, before anything is measured.
//
// The data may change between the two reads: a replica's scheduler (intake
// serve's looks every 10 s) starts the enabled triggers' scheduled syncs,
// which add runs. So Intake is asked again after the peer; when its two
// answers differ, the data moved, and the comparison is made again.
func checkPeerAnswers(ctx context.Context, hc *http.Client, o *org, keys []string, reads []int, intake, peer target) error {
	for _, op := range reads {
		one, _ := weightsFor(opNames[op])
		m := newMix(o, keys, one)
		for seed := range uint64(3) {
			if err := comparePeerAnswer(ctx, hc, m, op, seed, intake, peer); err != nil {
				return err
			}
		}
	}
	return nil
}

// peerAttempts is how many times a read is compared while the data moves.
const peerAttempts = 5

// comparePeerAnswer compares one read (the variables seed draws) on
// Intake and on the peer.
func comparePeerAnswer(ctx context.Context, hc *http.Client, m *mix, op int, seed uint64, intake, peer target) error {
	read := func(t target) (answerSummary, error) {
		// The same seed draws the same variables for both.
		r := m.next(rand.New(rand.NewPCG(seed, 1)), t)
		fields, err := sendData(ctx, hc, m.key(t, 0), r)
		if err != nil {
			return answerSummary{}, fmt.Errorf("%s on %s: %w", opNames[op], t.name, err)
		}
		d, err := json.Marshal(fields)
		if err != nil {
			return answerSummary{}, err
		}
		s, err := summarize(d)
		if err != nil {
			return answerSummary{}, fmt.Errorf("%s on %s: %w", opNames[op], t.name, err)
		}
		return s, nil
	}
	for attempt := 1; ; attempt++ {
		si, err := read(intake)
		if err != nil {
			return err
		}
		sp, err := read(peer)
		if err != nil {
			return err
		}
		if len(si.ids) == 0 {
			return fmt.Errorf("%s: no object in the answers", opNames[op])
		}
		if si.equal(sp) {
			return nil
		}
		again, err := read(intake)
		if err != nil {
			return err
		}
		if again.equal(si) || attempt == peerAttempts {
			return fmt.Errorf("%s: Intake and %s answered differently: %s; %s", opNames[op], peer.name, si, sp)
		}
		select { // the data moved meanwhile: let it settle, and compare again
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// answerSummary is what checkPeerAnswers compares of an answer.
type answerSummary struct {
	ids    []string // every "id" of an object, sorted
	counts []string // every totalCount, sorted
}

func (s answerSummary) equal(t answerSummary) bool {
	return slices.Equal(s.ids, t.ids) && slices.Equal(s.counts, t.counts)
}

func (s answerSummary) String() string {
	return fmt.Sprintf("%d objects with IDs, totalCounts %v", len(s.ids), s.counts)
}

// summarize collects the IDs and totalCounts of a GraphQL answer's data.
func summarize(data json.RawMessage) (answerSummary, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return answerSummary{}, fmt.Errorf("decoding the data: %w", err)
	}
	var s answerSummary
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch k {
				case "id":
					if id, ok := e.(string); ok {
						s.ids = append(s.ids, id)
					}
				case "totalCount":
					s.counts = append(s.counts, fmt.Sprint(e))
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	slices.Sort(s.ids)
	slices.Sort(s.counts)
	return s, nil
}

// printPeer prints the comparison: the closed loops of the reads of the
// mix, then a line per read and one for the mix.
func printPeer(w io.Writer, p *peerResult) {
	parts := []string{}
	for op := range numOps {
		if p.Weights[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", opNames[op], p.Weights[op]))
		}
	}
	if p.Auth {
		fmt.Fprintf(w, "peer: Intake (the load tool's server process) against %s %s, both with API-key authentication and tenant scoping\n", p.Name, p.Version)
		fmt.Fprintf(w, "  reads of the mix, relative weights: %s (configureTrigger left out, as against PostGraphile)\n", strings.Join(parts, ", "))
	} else {
		fmt.Fprintf(w, "peer: Intake (API-key authentication and tenant scoping on every request) against %s %s (no authentication)\n", p.Name, p.Version)
		fmt.Fprintf(w, "  reads of the mix, relative weights: %s (configureTrigger left out: %s has no mutations)\n", strings.Join(parts, ", "), p.Name)
	}
	if len(p.ByOp) > 1 {
		for _, s := range []loadStats{p.Intake, p.Peer} {
			printClosedLoop(w, s, len(p.Name))
		}
	}
	// One column per heading, as wide as it.
	heads := []string{"Intake req/s", p.Name + " req/s", "Intake/" + p.Name, "Intake p99", p.Name + " p99",
		"Intake cpu/req", p.Name + " cpu/req"}
	fmt.Fprintf(w, "  %-17s", "closed loop of")
	for _, h := range heads {
		fmt.Fprintf(w, "  %s", h)
	}
	fmt.Fprintln(w)
	row := func(name string, in, pe loadStats) {
		cells := []string{fmt.Sprintf("%.0f", in.Rate), fmt.Sprintf("%.0f", pe.Rate), fmt.Sprintf("%.2f", ratio(in, pe)),
			ms(in.P99), ms(pe.P99), cpuMS(in), cpuMS(pe)}
		fmt.Fprintf(w, "  %-17s", name)
		for i, c := range cells {
			fmt.Fprintf(w, "  %*s", len(heads[i]), c)
		}
		fmt.Fprintln(w)
	}
	for _, r := range p.ByOp {
		row(r.Op, r.Intake, r.Peer)
	}
	if len(p.ByOp) > 1 {
		row("reads of the mix", p.Intake, p.Peer)
	}
}

// cpuMS is a closed loop's CPU time per request.
func cpuMS(s loadStats) string {
	if !s.CPUMeasured {
		return "n/a"
	}
	return fmt.Sprintf("%.2fms", float64(s.CPUPerReq)/float64(time.Millisecond))
}

// peerSummary is the comparison's summary line.
func peerSummary(p *peerResult) string {
	what := "the reads of the mix"
	if len(p.ByOp) == 1 {
		what = p.ByOp[0].Op
	}
	return fmt.Sprintf("peer: on %s Intake %.0f req/s = %.2fx %s %s's %.0f req/s; p99 %s vs %s; server CPU per request %s vs %s; errors %d",
		what, p.Intake.Rate, ratio(p.Intake, p.Peer), p.Name, p.Version, p.Peer.Rate, ms(p.Intake.P99), ms(p.Peer.P99),
		cpuMS(p.Intake), cpuMS(p.Peer), p.Intake.Errors+p.Peer.Errors)
}
