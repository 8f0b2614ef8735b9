package progress

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
)

// wait bounds every wait for a notice: generous, since a test that works
// never reaches it.
const wait = 20 * time.Second

// freshDatabase returns the URL of a new, empty PostgreSQL database: NOTIFY
// is per database, so each test has its own channel namespace. It skips (or
// fails with CI set) when PostgreSQL is unreachable.
func freshDatabase(tb testing.TB) string {
	tb.Helper()
	return dbtest.Empty(tb, dialect.Postgres).URL
}

// withApp names the connections of dsn in pg_stat_activity.
func withApp(tb testing.TB, dsn, app string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}

var appSeq atomic.Int64

// replica is one replica's broker: its own *sql.DB and listener.
type replica struct {
	*Postgres
	db  *sql.DB
	app string // application_name of its connections
}

// startReplica starts a broker on dsn, stopped when the test ends.
func startReplica(tb testing.TB, dsn string) *replica {
	tb.Helper()
	app := fmt.Sprintf("progress-test-%d", appSeq.Add(1))
	dsn = withApp(tb, dsn, app)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	p := NewPostgres(db, dsn, nil)
	p.MinReconnect, p.MaxReconnect = 20*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		db.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			tb.Error(err)
		}
		db.Close()
	})
	return &replica{Postgres: p, db: db, app: app}
}

// collect drains s until it has received every notice in want (by ID,
// with the same content), and returns all it received meanwhile.
func collect(t *testing.T, s *Subscription, want ...Notice) []Notice {
	t.Helper()
	var got []Notice
	timeout := time.After(wait)
	for {
		missing := slices.DeleteFunc(slices.Clone(want), func(n Notice) bool { return slices.Contains(got, n) })
		if len(missing) == 0 {
			return got
		}
		select {
		case <-s.Ready():
			got = append(got, s.Drain()...)
		case <-timeout:
			t.Fatalf("still waiting for %v after %v; got %v", missing, wait, got)
		}
	}
}

func publish(t *testing.T, b Broker, n Notice) {
	t.Helper()
	if err := b.Publish(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func runNotice(run, camp pulid.ID) Notice {
	return Notice{Kind: KindRun, ID: run, RunID: run, CampaignID: camp}
}

// A notice published on one replica reaches the subscribers of its run and
// campaign on every replica, and nobody else.
func TestPostgresFanOutAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	a, b := startReplica(t, dsn), startReplica(t, dsn)
	camp, run, pb := pulid.New("cmp"), pulid.New("run"), pulid.New("pbk")
	type sub struct {
		name string
		s    *Subscription
	}
	var runSubs, campSubs, otherSubs, markerSubs []sub
	for _, r := range []*replica{a, b} {
		runSubs = append(runSubs, sub{r.app + " run", r.Subscribe(RunTopic(run))})
		campSubs = append(campSubs, sub{r.app + " campaign", r.Subscribe(CampaignTopic(camp))})
		otherSubs = append(otherSubs,
			sub{r.app + " other run", r.Subscribe(RunTopic(pulid.New("run")))},
			sub{r.app + " pushback as run", r.Subscribe(RunTopic(pb))})
	}
	marker := runNotice(pulid.New("run"), pulid.New("cmp"))
	for _, r := range []*replica{a, b} {
		markerSubs = append(markerSubs, sub{r.app + " marker", r.Subscribe(CampaignTopic(marker.CampaignID))})
	}

	runN := runNotice(run, camp)
	pbN := Notice{Kind: KindPushback, ID: pb, CampaignID: camp}
	publish(t, a, runN)
	publish(t, b, pbN)
	publish(t, a, marker)
	// Notices arrive in commit order: once each replica has the marker, it
	// has dispatched everything published before.
	for _, m := range markerSubs {
		collect(t, m.s, marker)
	}
	for _, s := range runSubs {
		if got := s.s.Drain(); !slices.Equal(got, []Notice{runN}) {
			t.Errorf("%s: got %v, want the run notice", s.name, got)
		}
	}
	for _, s := range campSubs {
		if got := s.s.Drain(); !slices.Equal(got, []Notice{runN, pbN}) {
			t.Errorf("%s: got %v, want the run then the pushback notice", s.name, got)
		}
	}
	for _, s := range otherSubs {
		if got := s.s.Drain(); len(got) != 0 {
			t.Errorf("%s: got %v, want nothing", s.name, got)
		}
	}
}

// PublishTx delivers when the transaction commits, never before and never
// after a rollback.
func TestPostgresPublishTx(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	a, b := startReplica(t, dsn), startReplica(t, dsn)
	camp := pulid.New("cmp")
	subA, subB := a.Subscribe(CampaignTopic(camp)), b.Subscribe(CampaignTopic(camp))
	ctx := context.Background()
	rolledBack, committed := runNotice(pulid.New("run"), camp), runNotice(pulid.New("run"), camp)
	before, after := runNotice(pulid.New("run"), camp), runNotice(pulid.New("run"), camp)

	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PublishTx(ctx, tx, rolledBack); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	tx, err = a.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PublishTx(ctx, tx, committed); err != nil {
		t.Fatal(err)
	}
	// While tx is open, a notice published outside it goes through, and the
	// one inside does not.
	publish(t, b, before)
	for _, s := range []*Subscription{subA, subB} {
		if got := collect(t, s, before); slices.Contains(got, committed) {
			t.Fatalf("notice delivered before its transaction committed: %v", got)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	publish(t, b, after)
	for _, s := range []*Subscription{subA, subB} {
		got := collect(t, s, committed, after)
		if slices.Contains(got, rolledBack) {
			t.Errorf("notice of a rolled-back transaction delivered: %v", got)
		}
		if i, j := slices.Index(got, committed), slices.Index(got, after); i > j {
			t.Errorf("committed notice after a later one: %v", got)
		}
	}
}

// A notice whose payload would exceed NOTIFY's limit is refused; one just
// within it goes through.
func TestPostgresPayloadLimit(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	a := startReplica(t, dsn)
	camp := pulid.New("cmp")
	s := a.Subscribe(CampaignTopic(camp))
	sized := func(size int) Notice {
		n := Notice{Kind: KindPushback, CampaignID: camp}
		empty, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		// Plain ASCII: each byte of the ID is a byte of the payload.
		n.ID = pulid.ID(strings.Repeat("x", size-len(empty)))
		if p, _ := json.Marshal(n); len(p) != size {
			t.Fatalf("sized(%d) is %d bytes", size, len(p))
		}
		return n
	}
	fits, tooLarge := sized(MaxPayload), sized(MaxPayload+1)

	ctx := context.Background()
	if err := a.Publish(ctx, tooLarge); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("Publish of %d bytes: err = %v, want ErrPayloadTooLarge", MaxPayload+1, err)
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := a.PublishTx(ctx, tx, tooLarge); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("PublishTx of %d bytes: err = %v, want ErrPayloadTooLarge", MaxPayload+1, err)
	}
	// The refusal did not abort the transaction: nothing reached the server.
	if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Errorf("transaction unusable after a refused notice: %v", err)
	}
	// PostgreSQL itself accepts MaxPayload bytes.
	publish(t, a, fits)
	collect(t, s, fits)
}

// When the listener's connection dies, its replica's subscribers are told
// to resync once it is back, and notices flow again.
func TestPostgresReconnectResyncs(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	a, b := startReplica(t, dsn), startReplica(t, dsn)
	camp := pulid.New("cmp")
	subA, subB := a.Subscribe(CampaignTopic(camp)), b.Subscribe(CampaignTopic(camp))
	first := runNotice(pulid.New("run"), camp)
	publish(t, b, first)
	collect(t, subA, first)
	collect(t, subB, first)

	// Kill a's listener: the one connection of a's application that is
	// LISTENing (a's *sql.DB may hold idle connections too).
	var killed int
	err := b.db.QueryRow(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%') t`, a.app).Scan(&killed)
	if err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener connections, want 1", killed)
	}
	resync := Notice{Kind: KindResync}
	collect(t, subA, resync)

	// Later notices arrive, on both replicas; b, never disconnected, got no
	// resync.
	later := runNotice(pulid.New("run"), camp)
	publish(t, b, later)
	collect(t, subA, later)
	if got := collect(t, subB, later); slices.Contains(got, resync) {
		t.Errorf("replica whose listener stayed up got a resync: %v", got)
	}
	// a's own notices come back to it too.
	mine := runNotice(pulid.New("run"), camp)
	publish(t, a, mine)
	collect(t, subA, mine)
	collect(t, subB, mine)
}

// Subscriptions opened before Start may have missed notices: Start tells
// them to resync.
func TestPostgresStartResyncsEarlySubscribers(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := NewPostgres(db, dsn, nil)
	early := p.Subscribe(RunTopic("run_1"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(ctx)
	if got := drainNow(t, early); !slices.Equal(got, []Notice{{Kind: KindResync}}) {
		t.Errorf("early subscriber got %v, want one resync", got)
	}
	if err := p.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	// Without application_name in the DSN, the listener is named.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
		FallbackApplicationName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d connections named %q, want the listener's", n, FallbackApplicationName)
	}
}

// A subscriber that never reads neither blocks Publish nor the listener:
// 10,000 notices later, another subscriber on the same replica still gets
// the next one, and the idle one holds all 10,000, once each.
func TestPostgresSlowSubscriberDoesNotBlock(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	a, b := startReplica(t, dsn), startReplica(t, dsn)
	camp := pulid.New("cmp")
	idle := a.Subscribe(CampaignTopic(camp))
	const count = 10_000
	sent := make([]Notice, count)
	for i := range sent {
		sent[i] = runNotice(pulid.New("run"), camp)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for _, n := range sent {
			if err := b.Publish(ctx, n); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Publish blocked behind a subscriber that never reads")
	}

	marker := runNotice(pulid.New("run"), pulid.New("cmp"))
	other := a.Subscribe(CampaignTopic(marker.CampaignID))
	publish(t, b, marker)
	collect(t, other, marker)
	if got := idle.Drain(); !slices.Equal(got, sent) {
		t.Errorf("idle subscriber holds %d notices, want the %d sent, in order", len(got), count)
	}
}

// Stop closes the listener and returns once every goroutine of the broker
// (and of lib/pq's listener) has; Stop again is harmless. Not parallel: it
// counts the process's goroutines.
func TestPostgresStopLeavesNoGoroutine(t *testing.T) {
	dsn := freshDatabase(t)
	before := runtime.NumGoroutine()

	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPostgres(db, dsn, nil)
	p.PingInterval = 10 * time.Millisecond // have the pinger run, too
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Subscribe(RunTopic("run_1"))
	n := runNotice("run_1", "cmp_1")
	publish(t, p, n)
	collect(t, s, n)
	time.Sleep(50 * time.Millisecond) // a few idle pings
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	s.Close()
	db.Close()
	noGoroutinesLeft(t, before)
}

// Start fails with the connection error when the server is unreachable,
// and leaves nothing running once stopped.
func TestPostgresStartFailsWhenUnreachable(t *testing.T) {
	before := runtime.NumGoroutine()
	dsn := "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5"
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPostgres(db, dsn, nil)
	p.MinReconnect = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Start(ctx); err == nil {
		t.Fatal("Start succeeded with no server")
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	noGoroutinesLeft(t, before)

	// Stop without Start is a no-op.
	if err := NewPostgres(nil, dsn, nil).Stop(ctx); err != nil {
		t.Error(err)
	}
}

func noGoroutinesLeft(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after Stop, %d before:\n%s", runtime.NumGoroutine(), before, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Parallel tests never run alongside the tests that call this, so any
	// lib/pq listener goroutine left would be ours.
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if bytes.Contains(buf, []byte("lib/pq.(*Listener")) {
		t.Fatalf("a lib/pq listener goroutine is still running:\n%s", buf)
	}
}

func TestWithFallbackApplicationName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?fallback_application_name=intake-progress&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?fallback_application_name=intake-progress"},
		{"postgres://u@h/db?application_name=mine", "postgres://u@h/db?application_name=mine"},
		{"host=h dbname=db", "host=h dbname=db fallback_application_name=intake-progress"},
		{"host=h application_name=mine", "host=h application_name=mine"},
		{"", ""},
	} {
		if got := withFallbackApplicationName(c.in); got != c.want {
			t.Errorf("withFallbackApplicationName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// BenchmarkPostgresRoundTrip measures a notice from Publish on one replica
// to Ready on a subscriber of another.
func BenchmarkPostgresRoundTrip(b *testing.B) {
	dsn := freshDatabase(b)
	pub, sub := startReplica(b, dsn), startReplica(b, dsn)
	camp := pulid.New("cmp")
	s := sub.Subscribe(CampaignTopic(camp))
	n := runNotice(pulid.New("run"), camp)
	ctx := context.Background()
	for b.Loop() {
		if err := pub.Publish(ctx, n); err != nil {
			b.Fatal(err)
		}
		select {
		case <-s.Ready():
		case <-time.After(wait):
			b.Fatal("notice not delivered")
		}
		s.Drain()
	}
}
