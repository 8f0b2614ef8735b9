//go:build unix

package main

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// activityQuery reads, for every other client backend of the scratch
// database, its transaction's age and whether it waits for a lock, and on
// whom. now() is this statement's start.
//
// The age counts only for a backend inside a statement or a transaction:
// pq.Listener's pings are empty queries, during which xact_start still
// shows the connection's LISTEN of long ago.
const activityQuery = `SELECT pid, application_name,
	CASE WHEN state <> 'idle' AND query <> '' THEN coalesce(extract(epoch FROM now() - xact_start), 0) ELSE 0 END::float8,
	coalesce(wait_event_type = 'Lock', false), coalesce(wait_event, ''), coalesce(query_start, now()),
	coalesce(extract(epoch FROM now() - query_start), 0)::float8,
	CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END, left(query, 120)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`

// sampler reads pg_stat_activity every few milliseconds while the purge
// runs, keeping the longest transactions and the lock waits it sees.
type sampler struct {
	db   *sql.DB
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu         sync.Mutex
	samples    int
	errors     int
	purgeXact  time.Duration
	otherXact  time.Duration
	otherQuery string
	otherApp   string
	waits      map[waitKey]*lockWait
}

// waitKey is one statement's wait: its backend and its start.
type waitKey struct {
	pid   int
	since time.Time
}

type lockWait struct {
	purge   bool // the purge waits
	onPurge bool // for the purge backend
	event   string
	longest time.Duration
	query   string
}

func startSampler(ctx context.Context, dbURL string, every time.Duration) (*sampler, error) {
	u, err := withApp(dbURL, samplerApp)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", u)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s := &sampler{db: db, done: make(chan struct{}), waits: map[waitKey]*lockWait{}}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample(ctx)
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return s, nil
}

func (s *sampler) sample(ctx context.Context) {
	rows, err := s.db.QueryContext(ctx, activityQuery)
	if err != nil {
		s.mu.Lock()
		s.errors++
		s.mu.Unlock()
		return
	}
	defer rows.Close()
	type backend struct {
		pid               int
		app, event, query string
		xact, queryAge    float64
		waiting           bool
		since             time.Time
		blockers          pq.Int64Array
	}
	var bs []backend
	purgePIDs := map[int]bool{}
	for rows.Next() {
		var b backend
		if err := rows.Scan(&b.pid, &b.app, &b.xact, &b.waiting, &b.event, &b.since, &b.queryAge, &b.blockers, &b.query); err != nil {
			s.mu.Lock()
			s.errors++
			s.mu.Unlock()
			return
		}
		if b.app == purgeApp {
			purgePIDs[b.pid] = true
		}
		bs = append(bs, b)
	}
	if rows.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	for _, b := range bs {
		xact := time.Duration(b.xact * float64(time.Second))
		if purgePIDs[b.pid] {
			s.purgeXact = max(s.purgeXact, xact)
		} else if xact > s.otherXact {
			s.otherXact, s.otherQuery, s.otherApp = xact, oneLine(b.query), b.app
		}
		if !b.waiting {
			continue
		}
		k := waitKey{b.pid, b.since}
		w := s.waits[k]
		if w == nil {
			w = &lockWait{purge: purgePIDs[b.pid], event: b.event, query: oneLine(b.query)}
			s.waits[k] = w
		}
		w.longest = max(w.longest, time.Duration(b.queryAge*float64(time.Second)))
		for _, p := range b.blockers {
			w.onPurge = w.onPurge || purgePIDs[int(p)]
		}
	}
}

func (s *sampler) stop() {
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.db.Close()
	})
}

// summarize puts what the sampler saw into res.
func (s *sampler) summarize(res *result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res.Samples, res.SampleErrors = s.samples, s.errors
	res.PurgeXactMax, res.OtherXactMax, res.OtherXactQuery, res.OtherXactApp = s.purgeXact, s.otherXact, s.otherQuery, s.otherApp
	events := map[string]int{}
	for _, w := range s.waits {
		if w.purge {
			res.PurgeWaits++
		} else {
			res.OtherWaits++
		}
		if w.onPurge {
			res.WaitsOnPurge++
		}
		events[w.event]++
		if w.longest > res.LongestWait {
			res.LongestWait, res.LongestWaitQuery = w.longest, w.query
		}
	}
	var parts []string
	for _, e := range slices.Sorted(maps.Keys(events)) {
		parts = append(parts, fmt.Sprintf("%s %d", e, events[e]))
	}
	res.WaitEvents = strings.Join(parts, ", ")
}

// oneLine is a query on one line with its runs of white space shortened.
func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }
