package apptest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// StartSyncFakes serves fakes of every provider for d on a loopback port of
// their own, through wrap (nil: as they are), so that a test can change
// what the external systems answer: hold requests (SyncGate), answer some
// of them itself, or swap one fake for another. Connect integrations with
// the returned set's Credentials. The test fails when a request or an
// answer of the fakes breaks a provider's documented contract.
func StartSyncFakes(t testing.TB, d sandbox.Dataset, wrap func(http.Handler) http.Handler) *fakes.Set {
	t.Helper()
	fk := fakes.New(d)
	h := fk.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fk.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		// Requests still held (a gate that was never opened) end with
		// their connections.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		// Every request the connectors sent, and every answer of the fakes,
		// keeps to what the vendors document.
		for _, v := range fk.ContractViolations() {
			t.Errorf("contract: %s", v)
		}
	})
	return fk
}

// SyncGate holds the requests it matches until it is opened, as an
// external system that is slow to answer would, and counts them: how many
// arrived, and how many the client gave up on while they were held.
type SyncGate struct {
	match func(*http.Request) bool
	open  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	arrived int
	aborted int
}

// NewSyncGate returns a closed gate for the requests match accepts.
func NewSyncGate(match func(*http.Request) bool) *SyncGate {
	return &SyncGate{match: match, open: make(chan struct{})}
}

// Wrap holds next's matching requests while the gate is closed.
func (g *SyncGate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.match(r) {
			g.mu.Lock()
			g.arrived++
			g.mu.Unlock()
			select {
			case <-g.open:
			case <-r.Context().Done():
				g.mu.Lock()
				g.aborted++
				g.mu.Unlock()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Open lets held and future requests through. It may be called repeatedly.
func (g *SyncGate) Open() { g.once.Do(func() { close(g.open) }) }

// Arrived returns how many matching requests arrived so far.
func (g *SyncGate) Arrived() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrived
}

// Aborted returns how many held requests their client gave up on.
func (g *SyncGate) Aborted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.aborted
}

// SyncReplica is one Intake replica on a shared PostgreSQL database: the
// application's own assembly with its own store (pools and ent client),
// service, sync engine, HTTP server and PostgreSQL progress broker,
// sharing nothing in memory with other replicas.
type SyncReplica struct {
	*App
	Progress *progress.Postgres
}

// StartSyncReplica starts a replica on db, an already migrated PostgreSQL
// database, whose integrations reach the fakes in fk. Every replica uses
// the same encryption key as Start, so each reads the credentials the
// others stored. Call it once per replica.
func StartSyncReplica(t testing.TB, db *dbtest.DB, fk *fakes.Set) *SyncReplica {
	t.Helper()
	if db.Dialect != dialect.Postgres {
		t.Fatalf("StartSyncReplica needs PostgreSQL, not %s", db.Dialect)
	}
	a, logs, sink := assemble(t, nil, db.URL, LoopbackEgress(), nil, nil)
	own := &dbtest.DB{Dialect: db.Dialect, URL: db.URL, Store: a.Store}
	pg, _ := a.Broker.(*progress.Postgres)
	return &SyncReplica{
		App: &App{URL: "http://" + a.Addr().String(), DB: own, Svc: a.Service, Broker: a.Broker, Fakes: fk, Engine: a.Engine,
			Webhooks: sink, Metrics: a.Metrics, App: a, logs: logs},
		Progress: pg,
	}
}
