//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/sandbox"
)

// connsPerKey is how many websockets share an API key: under the server's
// per-key connection cap.
const connsPerKey = 40

// dialParallel is how many websockets the tool opens at once.
const dialParallel = 64

const campaignEventsSubscription = `subscription CampaignEvents($id: ID!) {
  campaignEvents(campaignID: $id) {
    __typename
    ... on SyncProgress { done run { id updatedAt } }
    ... on Pushback { id status }
  }
}`

const syncProgressSubscription = `subscription SyncProgress($id: ID!) {
  syncProgress(runID: $id) { phase fetched imported done run { id status updatedAt } }
}`

// dialAll opens n websockets, each acknowledged, dialParallel at a time;
// connection i uses key i/connsPerKey. opened, when not nil, is called
// with each connection as soon as it is acknowledged.
func dialAll(ctx context.Context, baseURL string, keys []string, n int, opened func(i int, c *wsConn) error) ([]*wsConn, error) {
	conns := make([]*wsConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, dialParallel)
	for range min(dialParallel, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				c, err := dialWS(dctx, baseURL, keys[(i/connsPerKey)%len(keys)])
				cancel()
				if err != nil {
					errs <- fmt.Errorf("websocket %d of %d: %w", i+1, n, err)
					return
				}
				conns[i] = c
				if opened != nil {
					if err := opened(i, c); err != nil {
						errs <- fmt.Errorf("websocket %d of %d: %w", i+1, n, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*wsConn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Go(c.close)
		}
	}
	wg.Wait()
}

// idleResult is what the idle phase measured.
type idleResult struct {
	Subscriptions int
	OpenSeconds   float64
	// The server process before and after: VmRSS, and Go's heap and
	// stacks in use, after a full collection.
	RSSBefore, RSSAfter       int64 // bytes
	HeapBefore, HeapAfter     int64 // HeapInuse + StackInuse
	GoroutinesBefore, GoAfter int
	RSSPerSub, HeapPerSub     float64 // bytes
	// The fan-out check: a call result's pushback event reaching every
	// idle subscriber.
	Delivered        int
	DeliverP50       time.Duration
	DeliverP99       time.Duration
	DeliverMax       time.Duration
	DeliveryDeadline time.Duration
}

// idlePhase holds n idle campaignEvents subscriptions and measures the
// server process's memory per subscription; then it records a call result
// in the campaign, whose pushback event must reach every subscriber.
func idlePhase(ctx context.Context, s *seeder, srv *serverProcess, keys []string, o *org, n int) (*idleResult, error) {
	res := &idleResult{Subscriptions: n}
	before, err := srv.mem(ctx)
	if err != nil {
		return nil, err
	}
	// Each socket subscribes and is read from as soon as it is open, as a
	// browser's would be: reading answers the server's pings, without
	// which it drops the socket. The first event to arrive is kept.
	arrived := make([]time.Time, n)
	var pending atomic.Int64
	pending.Store(int64(n))
	// Only events after the check's call result count: the seeding's
	// pushbacks may still be settling while the sockets open.
	var armed atomic.Bool
	var wg sync.WaitGroup
	began := time.Now()
	conns, err := dialAll(ctx, srv.intake, keys, n, func(i int, c *wsConn) error {
		if err := c.subscribe("1", campaignEventsSubscription, map[string]any{"id": o.campaigns[0]}); err != nil {
			return err
		}
		wg.Go(func() {
			for {
				m, at, err := c.next(time.Now().Add(24 * time.Hour))
				if err != nil {
					return // closed
				}
				if m.Type == "next" && m.ID == "1" && armed.Load() && arrived[i].IsZero() {
					arrived[i] = at
					pending.Add(-1)
				}
			}
		})
		return nil
	})
	if err != nil {
		wg.Wait() // dialAll closed the connections
		return nil, err
	}
	stop := sync.OnceFunc(func() {
		closeAll(conns)
		wg.Wait()
	})
	defer stop()
	res.OpenSeconds = time.Since(began).Seconds()
	// Every subscription is running once the server's goroutines stop
	// growing.
	after, err := srv.settle(ctx)
	if err != nil {
		return nil, err
	}
	res.RSSBefore, res.RSSAfter = before.rss, after.rss
	res.HeapBefore, res.HeapAfter = before.heap(), after.heap()
	res.GoroutinesBefore, res.GoAfter = before.Goroutines, after.Goroutines
	res.RSSPerSub = float64(after.rss-before.rss) / float64(n)
	res.HeapPerSub = float64(after.heap()-before.heap()) / float64(n)

	// The fan-out check.
	res.DeliveryDeadline = 60*time.Second + time.Duration(n)*5*time.Millisecond
	recorded := time.Now()
	armed.Store(true)
	if err := s.do(ctx, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"contactID": o.pushbackContact, "outcome": "SUCCESS", "calledAt": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"durationSeconds": 60, "transcript": "Agent: Hello. Candidate: Hi.",
	}}, nil); err != nil {
		return nil, fmt.Errorf("recording a call result: %w", err)
	}
	for pending.Load() > 0 && time.Since(recorded) < res.DeliveryDeadline && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	var lat []time.Duration
	for _, at := range arrived {
		if !at.IsZero() {
			lat = append(lat, at.Sub(recorded))
		}
	}
	slices.Sort(lat)
	res.Delivered = len(lat)
	res.DeliverP50, res.DeliverP99 = percentile(lat, 50), percentile(lat, 99)
	if len(lat) > 0 {
		res.DeliverMax = lat[len(lat)-1]
	}
	return res, nil
}

// progressRound is one sync followed by subscribers.
type progressRound struct {
	Subscribers int // on syncProgress
	Watchers    int // on campaignEvents
	RunID       string
	Fetched     int
	Seconds     float64 // from testSync to the last subscriber's completion
	// Per message after each subscription's first (its current state at
	// subscription time): receive time - run.updatedAt.
	Samples              int
	P50, P95, P99, Max   time.Duration
	MinMsgs, MaxMsgs     int // messages per syncProgress subscriber
	WatcherSamples       int
	WatcherP99           time.Duration
	Completed, SawDone   int // syncProgress subscribers that completed / saw done: true
	WatchersSawDone      int
	MessagesPerSubscribe float64
}

// progressPhase runs a sync of the progress fakes followed by one
// subscriber, then another followed by m subscribers and a few campaign
// watchers, measuring how long each progress message takes to arrive.
func progressPhase(ctx context.Context, s *seeder, srv *serverProcess, keys []string, o *org, data sandbox.Dataset, m, watchers int) ([]progressRound, error) {
	var rounds []progressRound
	for i, subs := range []int{1, m} {
		w := 0
		if i == 1 {
			w = watchers
		}
		r, err := progressOnce(ctx, s, srv, keys, o, data, i+1, subs, w)
		if err != nil {
			return rounds, err
		}
		rounds = append(rounds, *r)
	}
	return rounds, nil
}

// progressPayload is the payload of a next message of either
// subscription.
type progressPayload struct {
	Data struct {
		SyncProgress   *progressData `json:"syncProgress"`
		CampaignEvents *struct {
			Typename string `json:"__typename"`
			progressData
		} `json:"campaignEvents"`
	} `json:"data"`
}

type progressData struct {
	Done bool `json:"done"`
	Run  struct {
		ID        string    `json:"id"`
		UpdatedAt time.Time `json:"updatedAt"`
	} `json:"run"`
}

func progressOnce(ctx context.Context, s *seeder, srv *serverProcess, keys []string, o *org, data sandbox.Dataset, n, subs, watchers int) (*progressRound, error) {
	res := &progressRound{Subscribers: subs, Watchers: watchers}
	var camp struct {
		CreateCampaign struct{ ID string } `json:"createCampaign"`
	}
	if err := s.do(ctx, `mutation($name: String!) { createCampaign(input: {name: $name}) { id } }`,
		map[string]any{"name": fmt.Sprintf("load progress %d", n)}, &camp); err != nil {
		return nil, err
	}
	d, _ := providers.All().Get(schematype.ProviderHubSpot)
	tc := triggerConfig{campaignID: camp.CreateCampaign.ID, integrationID: o.progressIntegration, provider: schematype.ProviderHubSpot}
	tc.searchType, tc.params = benchkit.SearchAll(d.Descriptor(), data)
	var trig struct {
		ConfigureTrigger struct{ ID string } `json:"configureTrigger"`
	}
	if err := s.do(ctx, configureMutation, map[string]any{"input": tc.input("Everyone", nil)}, &trig); err != nil {
		return nil, fmt.Errorf("configuring the progress trigger: %w", err)
	}

	conns, err := dialAll(ctx, srv.intake, keys, subs+watchers, nil)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	followers, watching := conns[:subs], conns[subs:]
	for _, c := range watching {
		if err := c.subscribe("1", campaignEventsSubscription, map[string]any{"id": tc.campaignID}); err != nil {
			return nil, err
		}
	}
	// The watchers' subscriptions must be running before the run starts.
	if _, err := srv.settle(ctx); err != nil {
		return nil, err
	}

	var run struct {
		TestSync struct{ ID string } `json:"testSync"`
	}
	began := time.Now()
	if err := s.do(ctx, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trig.ConfigureTrigger.ID}, &run); err != nil {
		return nil, fmt.Errorf("starting the sync: %w", err)
	}
	res.RunID = run.TestSync.ID
	deadline := time.Now().Add(30*time.Minute + time.Duration(data.Size)*time.Millisecond)

	var (
		mu       sync.Mutex
		lat      []time.Duration
		wlat     []time.Duration
		counts   []int
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	var wg sync.WaitGroup
	for _, c := range followers {
		wg.Go(func() {
			if err := c.subscribe("1", syncProgressSubscription, map[string]any{"id": res.RunID}); err != nil {
				fail(err)
				return
			}
			var mine []time.Duration
			msgs, done := 0, false
			for {
				m, at, err := c.next(deadline)
				if err != nil {
					fail(fmt.Errorf("following the run: %w", err))
					return
				}
				if m.Type == "complete" {
					mu.Lock()
					lat = append(lat, mine...)
					counts = append(counts, msgs)
					res.Completed++
					if done {
						res.SawDone++
					}
					mu.Unlock()
					return
				}
				var pp progressPayload
				if err := json.Unmarshal(m.Payload, &pp); err != nil || m.Type != "next" || pp.Data.SyncProgress == nil {
					fail(fmt.Errorf("unexpected message %s %s", m.Type, m.Payload))
					return
				}
				p := pp.Data.SyncProgress
				if msgs > 0 { // the first is the state at subscription time
					mine = append(mine, at.Sub(p.Run.UpdatedAt))
				}
				msgs++
				done = p.Done
			}
		})
	}
	for _, c := range watching {
		wg.Go(func() {
			var mine []time.Duration
			for {
				m, at, err := c.next(deadline)
				if err != nil {
					fail(fmt.Errorf("watching the campaign: %w", err))
					return
				}
				var pp progressPayload
				if err := json.Unmarshal(m.Payload, &pp); err != nil {
					fail(fmt.Errorf("unexpected message %s %s", m.Type, m.Payload))
					return
				}
				ev := pp.Data.CampaignEvents
				if ev == nil || ev.Typename != "SyncProgress" || ev.Run.ID != res.RunID {
					continue
				}
				mine = append(mine, at.Sub(ev.Run.UpdatedAt))
				if ev.Done {
					mu.Lock()
					wlat = append(wlat, mine...)
					res.WatchersSawDone++
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(began).Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	final, err := s.waitRun(ctx, res.RunID, time.Minute)
	if err != nil {
		return res, err
	}
	if final.Status != "SUCCEEDED" {
		return res, fmt.Errorf("the progress run ended %s: %s", final.Status, final.Error)
	}
	res.Fetched = final.Fetched
	slices.Sort(lat)
	slices.Sort(wlat)
	slices.Sort(counts)
	res.Samples = len(lat)
	res.P50, res.P95, res.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	res.WatcherSamples, res.WatcherP99 = len(wlat), percentile(wlat, 99)
	if len(counts) > 0 {
		res.MinMsgs, res.MaxMsgs = counts[0], counts[len(counts)-1]
		total := 0
		for _, c := range counts {
			total += c
		}
		res.MessagesPerSubscribe = float64(total) / float64(len(counts))
	}
	if res.Completed != subs || res.SawDone != subs || res.WatchersSawDone != watchers {
		return res, fmt.Errorf("of %d subscribers %d completed and %d saw the final state; %d of %d watchers saw it",
			subs, res.Completed, res.SawDone, res.WatchersSawDone, watchers)
	}
	return res, nil
}

// serverProcess is the Intake server running in a process of its own.
type serverProcess struct {
	pid      int
	intake   string // base URL
	baseline string // base URL
	hc       *http.Client
}

// procMem is the server process's memory at one moment.
type procMem struct {
	memStats
	rss int64 // bytes
}

func (m procMem) heap() int64 { return int64(m.HeapInuse + m.StackInuse) }

// mem asks the server process to collect its garbage and return free
// memory to the OS, then reads its memory.
func (p *serverProcess) mem(ctx context.Context) (procMem, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseline+memPath, nil)
	if err != nil {
		return procMem{}, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return procMem{}, fmt.Errorf("reading the server's memory: %w", err)
	}
	defer resp.Body.Close()
	var m procMem
	if err := json.NewDecoder(resp.Body).Decode(&m.memStats); err != nil {
		return procMem{}, fmt.Errorf("reading the server's memory: %w", err)
	}
	kb, err := procStatusKB(p.pid, "VmRSS")
	if err != nil {
		return procMem{}, err
	}
	m.rss = kb * 1024
	return m, nil
}

// settle waits until the server's goroutine count holds still for a
// second (every subscription sent has started), and returns its memory.
func (p *serverProcess) settle(ctx context.Context) (procMem, error) {
	last, err := p.mem(ctx)
	if err != nil {
		return last, err
	}
	for range 120 {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(time.Second):
		}
		m, err := p.mem(ctx)
		if err != nil {
			return m, err
		}
		if m.Goroutines == last.Goroutines {
			return m, nil
		}
		last = m
	}
	return last, errors.New("the server's goroutines did not settle within 2 minutes")
}
