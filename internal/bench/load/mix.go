//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// An SPA's query mix: what its screens ask for, in proportions typical of
// a campaign manager's session, plus a small share of configureTrigger
// writes.
const (
	opCampaigns = iota // the campaign list with triggers and their latest run
	opContacts         // a campaign with its first page of contacts
	opIssues           // a sync run with its first page of import issues
	opContact          // a node lookup (a contact and its campaign)
	opConfigure        // configureTrigger
	numOps
)

var (
	opNames   = [numOps]string{"campaignList", "campaignContacts", "importIssues", "nodeLookup", "configureTrigger"}
	opWeights = [numOps]int{30, 25, 20, 20, 5} // percent
	opPaths   = [numOps]string{pathCampaigns, pathContacts, pathIssues, pathContact, pathConfigure}
)

// pageSize is the SPA's page of contacts and import issues; campaignPage
// its page of campaigns.
const (
	pageSize     = 50
	campaignPage = 20
)

const campaignsQuery = `query CampaignList($first: Int!) {
  campaigns(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name phoneRegion createdAt updatedAt
      triggers {
        id enabled searchType description pushbackEnabled syncIntervalSeconds lastSyncAt nextSyncAt
        integration { id name status }
        lastRun { id kind status startedAt finishedAt fetched imported duplicates invalidPhone failed }
      }
    } }
  }
}`

const contactsQuery = `query CampaignContacts($id: ID!, $first: Int!) {
  node(id: $id) { ... on Campaign {
    id name
    contacts(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id phoneE164 phoneRaw firstName lastName email externalID attributes createdAt } }
    }
  } }
}`

const issuesQuery = `query ImportIssues($id: ID!, $first: Int!) {
  node(id: $id) { ... on SyncRun {
    id status fetched imported duplicates invalidPhone
    issues(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id externalID code message rawPhone createdAt } }
    }
  } }
}`

const contactQuery = `query NodeLookup($id: ID!) {
  node(id: $id) { id ... on Contact {
    phoneE164 phoneRaw firstName lastName email externalID createdAt
    campaign { id name }
  } }
}`

const configureMutation = `mutation ConfigureTrigger($input: ConfigureTriggerInput!) {
  configureTrigger(input: $input) {
    id enabled searchType searchParams description pushbackEnabled syncIntervalSeconds nextSyncAt updatedAt
    references { externalID kind name }
    statusMapping { success partial failure notAnswered }
  }
}`

var opQueries = [numOps]string{campaignsQuery, contactsQuery, issuesQuery, contactQuery, configureMutation}

// target is a server the mix runs against.
type target struct {
	name    string
	graphQL bool   // a GraphQL server's /graphql; else the baseline's routes
	url     string // base URL
	// queries are the GraphQL documents of the operations; nil: Intake's
	// (opQueries).
	queries *[numOps]string
	// strict: an answer counts only if every field at the root of its
	// data is set, so that a lookup answered with null is an error.
	strict bool
	noAuth bool // send no Authorization header
	pid    int  // the process serving it, whose CPU time closedLoop reads; 0: none
	// mem is the URL where that process reports its memStats, whose
	// allocation counters closedLoop reads; "": none.
	mem string
}

// mix builds the requests of the query mix over the seeded organization.
type mix struct {
	weights [numOps]int // percent
	org     *org
	keys    []string
	locks   []sync.Mutex // one per trigger: no two writes of a trigger at once
	edits   atomic.Int64
}

func newMix(o *org, keys []string, weights [numOps]int) *mix {
	return &mix{weights: weights, org: o, keys: keys, locks: make([]sync.Mutex, len(o.triggers))}
}

// weightsFor is the mix's weights: opWeights, or only the named operation.
func weightsFor(only string) ([numOps]int, error) {
	if only == "" {
		return opWeights, nil
	}
	for op, name := range opNames {
		if name == only {
			var w [numOps]int
			w[op] = 100
			return w, nil
		}
	}
	return opWeights, fmt.Errorf("-only: %q is none of %s", only, strings.Join(opNames[:], ", "))
}

// request is one operation of the mix, ready to send.
type request struct {
	op     int
	url    string
	body   []byte
	strict bool   // see target.strict
	unlock func() // after the response, for writes
}

// next draws an operation and builds its request for the target. The
// weights are relative: opWeights add up to 100, a mix without writes to
// less.
func (m *mix) next(rnd *rand.Rand, t target) request {
	total := 0
	for _, w := range m.weights {
		total += w
	}
	op, n := 0, rnd.IntN(total)
	for n >= m.weights[op] {
		n -= m.weights[op]
		op++
	}
	vars := map[string]any{}
	var unlock func()
	switch op {
	case opCampaigns:
		vars["first"] = campaignPage
	case opContacts:
		vars["id"], vars["first"] = pick(rnd, m.org.campaigns), pageSize
	case opIssues:
		vars["id"], vars["first"] = pick(rnd, m.org.runs), pageSize
	case opContact:
		vars["id"] = pick(rnd, m.org.contacts)
	case opConfigure:
		i := rnd.IntN(len(m.org.triggers))
		if !m.locks[i].TryLock() {
			// Another client is writing this trigger: read instead, as
			// the SPA would not send two edits of one trigger at once.
			op, vars["id"] = opContact, pick(rnd, m.org.contacts)
			break
		}
		unlock = m.locks[i].Unlock
		tc := m.org.triggers[i]
		edit := m.edits.Add(1)
		refs := []map[string]any{
			{"externalID": fmt.Sprintf("ref-%d", edit%7), "kind": string(tc.refKind), "name": "Pflegefachkraft (m/w/d)"},
			{"externalID": fmt.Sprintf("ref-%d", edit%7+7), "kind": string(tc.refKind), "name": "Altenpfleger (m/w/d)"},
		}
		vars["input"] = tc.input(fmt.Sprintf("Nurses with 3+ years of experience (edit %d)", edit), refs)
	}
	var body []byte
	url := t.url + opPaths[op]
	if t.graphQL {
		queries := &opQueries
		if t.queries != nil {
			queries = t.queries
		}
		url = t.url + "/graphql"
		body, _ = json.Marshal(gqlRequest{Query: queries[op], Variables: vars})
	} else {
		body, _ = json.Marshal(vars)
	}
	return request{op: op, url: url, body: body, strict: t.strict, unlock: unlock}
}

func pick(rnd *rand.Rand, ids []string) string { return ids[rnd.IntN(len(ids))] }

// send sends a request and checks the answer: HTTP 200 with data and no
// errors, decoded the same way from every target.
func send(ctx context.Context, hc *http.Client, key string, r request) error {
	_, err := sendData(ctx, hc, key, r)
	return err
}

// sendData is send returning the fields of the answer's data. Without a
// key, the request has no Authorization header. The answer is decoded
// once, into its root fields: the client shares the machine's processors
// with the server it measures, and a page of 50 contacts is 30 KB of JSON
// (decoded whole and then its data again, a strict check cost the client
// twice as much).
func sendData(ctx context.Context, hc *http.Client, key string, r request) (map[string]json.RawMessage, error) {
	if r.unlock != nil {
		defer r.unlock()
	}
	b, err := post(ctx, hc, r.url, key, r.body)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []gqlError                 `json:"errors"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("decoding the response: %w", err)
	}
	if len(resp.Errors) > 0 {
		return nil, resp.Errors[0]
	}
	if resp.Data == nil {
		return nil, fmt.Errorf("no data: %s", truncate(b, 200))
	}
	if r.strict {
		if len(resp.Data) == 0 {
			return nil, fmt.Errorf("no field in the data: %s", truncate(b, 200))
		}
		for name, v := range resp.Data {
			if string(v) == "null" {
				return nil, fmt.Errorf("%s is null: %s", name, truncate(b, 200))
			}
		}
	}
	return resp.Data, nil
}

// loadStats are the figures of one load run.
type loadStats struct {
	Target    string
	Seconds   float64
	Requests  int
	Errors    int
	FirstErr  string
	Rate      float64 // successful requests per second
	P50, P95  time.Duration
	P99, Max  time.Duration
	ByOp      [numOps]opStats
	Scheduled float64 // open loop: the rate asked for
	// Closed loop: the user+system CPU time the target's server process
	// spent during the loop, and that per request (when CPUMeasured).
	CPU, CPUPerReq time.Duration
	CPUMeasured    bool
	// Closed loop: the heap objects and bytes the target's server process
	// allocated per request (when AllocMeasured).
	AllocsPerReq, AllocBytesPerReq float64
	AllocMeasured                  bool
}

type opStats struct {
	Requests int
	P50, P99 time.Duration
}

// recorder collects latencies from many goroutines.
type recorder struct {
	mu       sync.Mutex
	lat      [numOps][]time.Duration
	errors   int
	firstErr string
}

func (r *recorder) add(op int, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.errors == 0 {
			r.firstErr = fmt.Sprintf("%s: %v", opNames[op], err)
		}
		r.errors++
		return
	}
	r.lat[op] = append(r.lat[op], d)
}

func (r *recorder) stats(name string, elapsed time.Duration) loadStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := loadStats{Target: name, Seconds: elapsed.Seconds(), Errors: r.errors, FirstErr: r.firstErr}
	var all []time.Duration
	for op := range numOps {
		l := r.lat[op]
		slices.Sort(l)
		s.ByOp[op] = opStats{Requests: len(l), P50: percentile(l, 50), P99: percentile(l, 99)}
		all = append(all, l...)
	}
	slices.Sort(all)
	s.Requests = len(all) + r.errors
	s.Rate = float64(len(all)) / elapsed.Seconds()
	s.P50, s.P95, s.P99 = percentile(all, 50), percentile(all, 95), percentile(all, 99)
	if len(all) > 0 {
		s.Max = all[len(all)-1]
	}
	return s
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// newHTTPClient keeps a connection per concurrent client alive.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
			DisableCompression: true,
		},
	}
}

// closedLoop runs n clients, each sending its next request when the last
// one is answered, for d: the target's maximum throughput at n in flight.
// Requests in flight at the end are waited for (not cancelled) and count.
// The CPU time of the target's process (t.pid) is read right before and
// right after: the loops run one at a time, so the difference is this
// loop's.
func (m *mix) closedLoop(ctx context.Context, hc *http.Client, t target, n int, d time.Duration) loadStats {
	rec := &recorder{}
	var cpuBefore time.Duration
	cpuErr := errors.New("no process")
	memBefore, memErr := readMem(ctx, hc, t.mem)
	if t.pid > 0 {
		cpuBefore, cpuErr = procCPU(t.pid)
	}
	began := time.Now()
	end := began.Add(d)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(began.UnixNano())))
			key := m.key(t, w)
			for ctx.Err() == nil && time.Now().Before(end) {
				r := m.next(rnd, t)
				start := time.Now()
				err := send(ctx, hc, key, r)
				rec.add(r.op, time.Since(start), err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	var cpuAfter time.Duration
	if cpuErr == nil {
		cpuAfter, cpuErr = procCPU(t.pid)
	}
	var memAfter memStats
	if memErr == nil {
		memAfter, memErr = readMem(ctx, hc, t.mem)
	}
	s := rec.stats(t.name, elapsed)
	if cpuErr == nil && s.Requests > 0 {
		s.CPU, s.CPUMeasured = cpuAfter-cpuBefore, true
		s.CPUPerReq = s.CPU / time.Duration(s.Requests)
	}
	if memErr == nil && s.Requests > 0 {
		s.AllocMeasured = true
		s.AllocsPerReq = float64(memAfter.Mallocs-memBefore.Mallocs) / float64(s.Requests)
		s.AllocBytesPerReq = float64(memAfter.TotalAlloc-memBefore.TotalAlloc) / float64(s.Requests)
	}
	return s
}

// readMem reads the allocation counters a server process reports at url
// (memPath), without the collection that reading its memory does.
func readMem(ctx context.Context, hc *http.Client, url string) (memStats, error) {
	var m memStats
	if url == "" {
		return m, errors.New("no memory report")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?collect=0", nil)
	if err != nil {
		return m, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// key is the API key client i sends to t.
func (m *mix) key(t target, i int) string {
	if t.noAuth {
		return ""
	}
	return m.keys[i%len(m.keys)]
}

// openLoop sends requests at a fixed rate for d whatever the answers, so
// a slow answer does not slow the arrivals down; each latency runs from
// the request's scheduled time, so queueing in the client counts too.
func (m *mix) openLoop(ctx context.Context, hc *http.Client, t target, rate float64, d time.Duration) loadStats {
	rec := &recorder{}
	interval := time.Duration(float64(time.Second) / rate)
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	began := time.Now()
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		at := began.Add(time.Duration(i) * interval)
		if at.Sub(began) >= d || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Until(at))
		r := m.next(rnd, t)
		key := m.key(t, i)
		wg.Go(func() {
			err := send(ctx, hc, key, r)
			rec.add(r.op, time.Since(at), err)
		})
	}
	wg.Wait()
	s := rec.stats(t.name, time.Since(began))
	s.Scheduled = rate
	return s
}
