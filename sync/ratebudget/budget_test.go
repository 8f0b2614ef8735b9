package ratebudget

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/sync/connector"
)

// maxInWindow is the most of times (sorted) within any window of length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= w {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// The decisions themselves, on a clock the test moves.
func TestDecide(t *testing.T) {
	t.Parallel()
	lim := connector.RateLimits{Requests: 10, Interval: 10 * time.Second, SearchesPerSecond: 2, Daily: 25}
	st := &state{dailyRemaining: -1}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	// Two searches a second, then the third waits for the first to age.
	for i := range 2 {
		if ok, _ := st.decide(lim, Background, true, at(i)); !ok {
			t.Fatalf("search %d refused", i)
		}
	}
	ok, retry := st.decide(lim, Background, true, at(2))
	if ok || retry.Before(at(1000)) {
		t.Fatalf("third search in a second: %v, retry %v", ok, retry)
	}
	// A request that is no search still goes.
	if ok, _ := st.decide(lim, Background, false, at(3)); !ok {
		t.Fatal("a plain request was refused by the search limit")
	}
	// The window: 10 in 10 s, then nothing until the first ages out.
	for i := 3; i < 10; i++ {
		if ok, _ := st.decide(lim, Background, false, at(10+i)); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, retry = st.decide(lim, Background, false, at(5000))
	if ok || retry.Before(at(10000)) {
		t.Fatalf("11th request in the window: %v, retry %v", ok, retry)
	}
	if ok, _ := st.decide(lim, Background, false, at(10300)); !ok {
		t.Fatal("refused once the window had moved on")
	}

	// A class that waits caps the classes after it at ShareFloor.
	st = &state{dailyRemaining: -1}
	st.demand[Pushback] = at(0)
	granted := 0
	for i := range 10 {
		if ok, _ := st.decide(lim, Background, false, at(i)); ok {
			granted++
		}
	}
	if granted != 10*ShareFloor/100 {
		t.Errorf("background granted %d while pushbacks wait, want %d", granted, 10*ShareFloor/100)
	}
	if ok, _ := st.decide(lim, Pushback, false, at(20)); !ok {
		t.Error("a pushback was refused with room in the window")
	}
	// ... until the demand is stale.
	if ok, _ := st.decide(lim, Background, false, at(3000)); !ok {
		t.Error("background still capped after the pushbacks stopped waiting")
	}

	// The day's limit, and the account's own figure.
	st = &state{dailyRemaining: -1, day: "2026-12-07", dayUsed: 25}
	ok, retry = st.decide(lim, Interactive, false, at(0))
	if ok || !retry.Equal(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("over the day's limit: %v, retry %v", ok, retry)
	}
	st = &state{dailyRemaining: -1}
	observe(st, at(0), false, http.StatusOK, http.Header{"X-Hubspot-Ratelimit-Daily-Remaining": {"0"}})
	if ok, _ := st.decide(lim, Interactive, false, at(1)); ok {
		t.Error("granted after the account said the day is used up")
	}

	// A 429 blocks; the account's headers raise the window.
	st = &state{dailyRemaining: -1}
	observe(st, at(0), false, http.StatusTooManyRequests, http.Header{"Retry-After": {"3"}})
	if ok, retry := st.decide(lim, Pushback, false, at(100)); ok || !retry.Equal(at(1000)) {
		t.Errorf("after a 429 with Retry-After 3: %v, retry %v; want the account held for a second", ok, retry)
	}
	// A Retry-After of 0 says the account may be asked at once: nothing is
	// held but the refused request, which its own retry policy delays.
	st = &state{dailyRemaining: -1}
	observe(st, at(0), false, http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}})
	if ok, _ := st.decide(lim, Pushback, false, at(1)); !ok {
		t.Error("the account was held after a 429 with Retry-After 0")
	}
	observe(st, at(0), false, http.StatusTooManyRequests, http.Header{"Retry-After": {"soon"}})
	if ok, retry := st.decide(lim, Pushback, false, at(100)); ok || !retry.Equal(at(1000)) {
		t.Errorf("after a 429 with an unreadable Retry-After: %v, retry %v; want the account held for a second", ok, retry)
	}
	// A search's 429 holds searches only.
	st = &state{dailyRemaining: -1}
	observe(st, at(0), true, http.StatusTooManyRequests, http.Header{})
	if ok, _ := st.decide(lim, Pushback, true, at(100)); ok {
		t.Error("a search was granted right after a search's 429")
	}
	if ok, _ := st.decide(lim, Pushback, false, at(100)); !ok {
		t.Error("a request that is no search waited for a search's 429")
	}
	observe(st, at(0), false, http.StatusOK, http.Header{"X-Hubspot-Ratelimit-Max": {"190"}, "X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"}})
	if eff := st.effective(lim, false); eff.Requests != 190 {
		t.Errorf("effective %+v after the account said 190", eff)
	}
	if eff := st.effective(lim, true); eff.Requests != 10 {
		t.Errorf("an integration's own limit was overridden: %+v", eff)
	}
}

// waitN sends n requests of class c for key through l and returns when
// each was granted.
func waitN(t *testing.T, ctx context.Context, l connector.Limiter, c Class, key string, n int, search bool) []time.Time {
	t.Helper()
	ctx = WithCaller(ctx, c, key, nil)
	out := make([]time.Time, 0, n)
	for range n {
		done, err := l.Wait(ctx, search)
		if err != nil {
			t.Error(err)
			return out
		}
		done(http.StatusOK, nil)
		out = append(out, time.Now())
	}
	return out
}

// Two replicas sharing one PostgreSQL never exceed the account's limit in
// any window, searches included, and between them use nearly all of it.
func TestTwoReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	other, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	replicas := []*Budgets{NewPostgres(db.Store.DB), NewPostgres(other)}
	lim := connector.RateLimits{Requests: 20, Interval: 2 * time.Second, SearchesPerSecond: 4}
	const acct = "acct-shared"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := time.Now()
	var mu sync.Mutex
	var sent []time.Time
	var wg sync.WaitGroup
	for r, b := range replicas {
		l := b.Limiter("HUBSPOT", acct, lim, true)
		for k := range 3 {
			wg.Go(func() {
				got := waitN(t, ctx, l, Class(k), fmt.Sprintf("r%d-k%d", r, k), 20, k == 2)
				mu.Lock()
				sent = append(sent, got...)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("120 requests in %s", took)
	if len(sent) != 120 {
		t.Fatalf("%d requests sent, want 120", len(sent))
	}
	// The grants as the database recorded them, on its clock.
	rows, err := db.Store.DB.QueryContext(ctx, `SELECT at, search FROM rate_grants WHERE account = $1`, acct)
	if err != nil {
		t.Fatal(err)
	}
	var grants, searches []time.Time
	for rows.Next() {
		var at time.Time
		var search bool
		if err := rows.Scan(&at, &search); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, at)
		if search {
			searches = append(searches, at)
		}
	}
	rows.Close()
	if len(grants) != 120 {
		t.Fatalf("%d grants recorded, want 120", len(grants))
	}
	if most := maxInWindow(grants, lim.Interval); most > lim.Requests {
		t.Errorf("%d grants within %s, limit %d", most, lim.Interval, lim.Requests)
	}
	if most := maxInWindow(searches, time.Second); most > lim.SearchesPerSecond {
		t.Errorf("%d searches within a second, limit %d", most, lim.SearchesPerSecond)
	}
	// 120 requests at 20 per 2 s: the first 20 at once, then 5 windows;
	// the 40 searches alone take 10 s. The classes' shares order the
	// requests (the searches, last in line, are capped while the others
	// wait), which costs a little of that.
	if minimum := 5 * lim.Interval; took < minimum || took > minimum*3/2+time.Second {
		t.Errorf("took %s; the limits allow %s", took, minimum)
	}
}

// Callers of one class are served in turn, whatever their backlog.
func TestFairness(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		b := BudgetsFor(db)
		lim := connector.RateLimits{Requests: 30, Interval: time.Second}
		l := b.Limiter("ZVOOVE", "acct-fair", lim, true)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The window is full; three triggers queue with backlogs of very
		// different sizes.
		waitN(t, ctx, l, Background, "fill", 30, false)
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for _, key := range []string{"a", "b", "c"} {
			for range map[string]int{"a": 40, "b": 10, "c": 25}[key] {
				wg.Go(func() {
					done, err := l.Wait(WithCaller(ctx, Background, key, nil), false)
					if err != nil {
						return
					}
					done(http.StatusOK, nil)
					mu.Lock()
					order = append(order, key)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		count := map[string]int{}
		for _, k := range order[:30] {
			count[k]++
		}
		// b has only 10 waiters: in the first 30 grants it gets them all,
		// and a and c get the rest evenly.
		if count["b"] != 10 || count["a"] < 9 || count["c"] < 9 {
			t.Errorf("the first 30 grants went %v, want b's 10 and about 10 each for a and c", count)
		}
	})
}

// A waiting pushback goes first but never starves syncs; a Test Sync goes
// ahead of scheduled syncs.
func TestPriorities(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		b := BudgetsFor(db)
		lim := connector.RateLimits{Requests: 20, Interval: time.Second}
		l := b.Limiter("HUBSPOT", "acct-prio", lim, true)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Fill the window, then let everyone queue at once.
		waitN(t, ctx, l, Background, "fill", 20, false)
		var mu sync.Mutex
		var order []Class
		var wg sync.WaitGroup
		for c, n := range map[Class]int{Pushback: 40, Interactive: 20, Background: 40} {
			for range n {
				wg.Go(func() {
					done, err := l.Wait(WithCaller(ctx, c, fmt.Sprint("k", c), nil), false)
					if err != nil {
						return
					}
					done(http.StatusOK, nil)
					mu.Lock()
					order = append(order, c)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		count := func(grants []Class) map[Class]int {
			m := map[Class]int{}
			for _, c := range grants {
				m[c]++
			}
			return m
		}
		// In the first two windows (40 grants) pushbacks are waiting all
		// along: they take most, yet the others are not starved.
		first := count(order[:40])
		if first[Pushback] < 20 || first[Background]+first[Interactive] == 0 {
			t.Errorf("first 40 grants %v: want pushbacks first, the others not starved", first)
		}
		// The Test Sync's requests are done before the scheduled syncs'.
		lastInteractive, lastBackground := 0, 0
		for i, c := range order {
			switch c {
			case Interactive:
				lastInteractive = i
			case Background:
				lastBackground = i
			}
		}
		if lastInteractive > lastBackground {
			t.Errorf("the last Test Sync request was granted at %d, after the last scheduled one at %d: %v", lastInteractive, lastBackground, order)
		}
	})
}

// BudgetsFor returns budgets kept where db's dialect keeps them: in
// memory on SQLite (one process), in db on PostgreSQL. (Exported to the
// package's external tests.)
func BudgetsFor(db *dbtest.DB) *Budgets {
	if db.Dialect == dialect.Postgres {
		return NewPostgres(db.Store.DB)
	}
	return NewMemory()
}

// TestMain drops dbtest's template databases.
func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }
