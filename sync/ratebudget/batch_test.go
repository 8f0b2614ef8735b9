package ratebudget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/sync/connector"
)

// A batch is decided as the same requests one by one would be: granted
// until the window is full; a refused search stops only the searches.
func TestDecideAll(t *testing.T) {
	t.Parallel()
	lim := connector.RateLimits{Requests: 5, Interval: 10 * time.Second, SearchesPerSecond: 1}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	st := &state{dailyRemaining: -1}
	req := func(search bool) request { return request{lim: lim, search: search, waited: 2 * time.Second} }
	granted, retry := st.decideAll(Background, []request{req(true), req(true), req(false), req(true), req(false), req(false), req(false), req(false)}, now)
	want := []bool{true, false, true, false, true, true, true, false}
	if fmt.Sprint(granted) != fmt.Sprint(want) {
		t.Errorf("granted %v, want %v", granted, want)
	}
	if !retry.Equal(now.Add(1100 * time.Millisecond)) {
		t.Errorf("retry %v, want the search limit's second", retry.Sub(now))
	}
	if len(st.grants) != 5 || st.dayUsed != 5 {
		t.Errorf("%d grants recorded, %d counted for the day; want 5", len(st.grants), st.dayUsed)
	}
	if got := st.throttled[now.Unix()/60]; got != 10 {
		t.Errorf("throttled %v s, want the 5 grants' 2 s each", got)
	}
}

// A round asks for each key's first waiter in turn, then each key's
// second; a granted waiter's key goes to the end of the turn.
func TestQueueTurns(t *testing.T) {
	t.Parallel()
	var q queue
	ws := map[string][]*waiter{}
	for _, k := range []string{"a", "a", "a", "b", "c", "c"} {
		w := &waiter{}
		ws[k] = append(ws[k], w)
		q.push(k, w)
	}
	name := func(cs []candidate) string {
		s := ""
		for _, c := range cs {
			for i, w := range ws[c.key] {
				if w == c.w {
					s += fmt.Sprintf("%s%d ", c.key, i)
				}
			}
		}
		return s
	}
	if got := name(q.candidates(10)); got != "a0 b0 c0 a1 c1 a2 " {
		t.Errorf("candidates %q", got)
	}
	if got := name(q.candidates(4)); got != "a0 b0 c0 a1 " {
		t.Errorf("four candidates %q", got)
	}
	q.served("a", ws["a"][0])
	q.served("b", ws["b"][0])
	q.served("a", ws["a"][0]) // granted after its context ended: no change
	if got := fmt.Sprint(q.keys); got != "[c a]" {
		t.Errorf("turn %s after a and b were served, want [c a]", got)
	}
	if got := name(q.candidates(10)); got != "c0 a1 c1 a2 " {
		t.Errorf("candidates after two grants %q", got)
	}
}

// A process writes what an account's answers say only when it is news:
// HubSpot sends its figures on every answer.
func TestNews(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b := newBudgets(newMemStore(func() time.Time { return now }), func() time.Time { return now })
	a := &account{b: b}
	hdr := func(max, remaining, daily string) http.Header {
		return http.Header{"X-Hubspot-Ratelimit-Max": {max}, "X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"},
			"X-Hubspot-Ratelimit-Remaining": {remaining}, "X-Hubspot-Ratelimit-Daily-Remaining": {daily}}
	}
	steps := []struct {
		advance time.Duration
		status  int
		h       http.Header
		want    bool
	}{
		{0, 200, hdr("100", "99", "1000"), true},                     // first answer
		{10 * time.Millisecond, 200, hdr("100", "98", "999"), false}, // same limit, daily within the second
		{10 * time.Millisecond, 200, hdr("190", "97", "998"), true},  // the limit changed
		{10 * time.Millisecond, 200, hdr("190", "0", "997"), true},   // nothing remaining
		{10 * time.Millisecond, 429, http.Header{}, true},            // refused
		{10 * time.Millisecond, 200, hdr("190", "96", "996"), false},
		{time.Second, 200, hdr("190", "95", "995"), true},         // the daily figure, a second later
		{10 * time.Millisecond, 200, hdr("190", "94", "0"), true}, // the day is used up
		{10 * time.Millisecond, 200, http.Header{}, false},        // nothing to learn
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := a.news(s.status, s.h); got != s.want {
			t.Errorf("step %d: news %v, want %v", i, got, s.want)
		}
	}
}

// grantRate has 64 callers of one account, each waiting for grants one
// after another, under limits that never refuse; it reports grants per
// second.
func grantRate(b *testing.B, budgets *Budgets) {
	lim := connector.RateLimits{Requests: 1 << 30, Interval: time.Second}
	l := budgets.Limiter("HUBSPOT", fmt.Sprintf("acct-bench-%d", time.Now().UnixNano()), lim, true)
	ctx := WithCaller(context.Background(), Pushback, "bench", nil)
	const callers = 64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for j := i; j < b.N; j += callers {
				done, err := l.Wait(ctx, false)
				if err != nil {
					b.Error(err)
					return
				}
				done(http.StatusOK, nil)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "grants/s")
}

// BenchmarkGrants measures how many grants a process gets from a budget
// when many requests wait at once: go test ./sync/ratebudget -run '^$'
// -bench Grants (PostgreSQL with TEST_DATABASE_URL).
func BenchmarkGrants(b *testing.B) {
	b.Run("memory", func(b *testing.B) { grantRate(b, NewMemory()) })
	b.Run("postgres", func(b *testing.B) {
		db := dbtest.Open(b, dialect.Postgres)
		grantRate(b, NewPostgres(db.Store.DB))
	})
}

// Every request asks its precondition right before it goes, whether it
// waited for its grant or not.
func TestPrecondition(t *testing.T) {
	t.Parallel()
	l := NewMemory().Limiter("TALENTION", "acct-precondition", connector.RateLimits{Requests: 1, Interval: 500 * time.Millisecond}, true)
	asked := 0
	errEnded := errors.New("ended meanwhile")
	var answer error
	ctx := WithPrecondition(context.Background(), func(context.Context) error {
		asked++
		return answer
	})
	done, err := l.Wait(ctx, false)
	if err != nil || asked != 1 {
		t.Fatalf("granted at once: %v, precondition asked %d times", err, asked)
	}
	done(http.StatusOK, nil)
	answer = errEnded
	if _, err := l.Wait(ctx, false); !errors.Is(err, errEnded) || asked != 2 {
		t.Fatalf("granted after a wait: %v, precondition asked %d times; want its error", err, asked)
	}
	// The request refused by its precondition was not sent: it counts
	// from then, not as a request still out.
	answer = nil
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := l.Wait(short, false); err != nil {
		t.Fatalf("after a request not sent: %v", err)
	}
}

// A request counts in the window from when it ended, however long after
// its grant; until it ends, it holds its place in the window.
func TestCountedFromEnd(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		b := BudgetsFor(db)
		const window = 300 * time.Millisecond
		l := b.Limiter("ZVOOVE", "acct-ended", connector.RateLimits{Requests: 1, Interval: window}, true)
		ctx := context.Background()
		done, err := l.Wait(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		// Out for three windows: the next request waits all along.
		short, cancel := context.WithTimeout(ctx, 3*window)
		defer cancel()
		if _, err := l.Wait(short, false); !errors.Is(err, ErrNoGrant) {
			t.Fatalf("a second request while the first is out: %v, want no grant", err)
		}
		ended := time.Now()
		done(http.StatusOK, nil)
		done, err = l.Wait(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(ended); waited < window {
			t.Errorf("granted %s after the first request ended; the window is %s", waited, window)
		}
		done(0, nil)
		if db.Dialect != dialect.Postgres {
			return
		}
		// Every grant is recorded at its request's end, none as still out
		// (the last is told on the budget's next round).
		deadline := time.Now().Add(5 * time.Second)
		for {
			var out, all int
			if err := db.Store.DB.QueryRow(`SELECT count(*) FILTER (WHERE at > clock_timestamp()), count(*) FROM rate_grants WHERE account = 'acct-ended'`).Scan(&out, &all); err != nil {
				t.Fatal(err)
			}
			if out == 0 && all >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d grants still recorded as out", out, all)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
