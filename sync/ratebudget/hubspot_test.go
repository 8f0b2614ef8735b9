package ratebudget_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/ratebudget"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// Twelve fetches from two replicas, searches and list reads, against a
// HubSpot fake that enforces its limits: every fetch completes and the
// fake answers no 429, because the replicas share one budget.
func TestHubSpotFakeNeverRefuses(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	data := sandbox.Dataset{Seed: 31, Size: 600, Groups: 5}
	lim := hubspotfake.Limits{Requests: 20, Interval: 2 * time.Second, SearchesPerSecond: 4}
	fake := hubspotfake.New(hubspotfake.Config{Dataset: data, Limits: &lim})
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	creds := fake.Credentials(srv.URL)
	d := hubspot.New().Descriptor()
	acct := ratebudget.AccountKey(d, creds)
	limits := connector.RateLimits{Requests: lim.Requests, Interval: lim.Interval, SearchesPerSecond: lim.SearchesPerSecond}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fetched := map[string]int{}
	for r := range 2 {
		b := ratebudget.NewPostgres(db.Store.DB)
		conn, err := hubspot.New().Open(creds, connector.Options{Limiter: b.Limiter(schematype.ProviderHubSpot, acct, limits, false)})
		if err != nil {
			t.Fatal(err)
		}
		for k := range 6 {
			req := connector.FetchRequest{}
			if k%2 == 1 {
				req.References = []connector.Reference{{ExternalID: hubspotfake.ListID(k / 2), Kind: schematype.ReferenceList}}
			}
			name := fmt.Sprintf("replica %d fetch %d", r, k)
			wg.Go(func() {
				n := 0
				for page, err := range conn.Fetch(ratebudget.WithCaller(ctx, ratebudget.Background, name, nil), req) {
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					n += len(page.Records)
				}
				mu.Lock()
				fetched[name] = n
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for name, n := range fetched {
		want := data.Size
		if name[len(name)-1]%2 == 1 {
			want = data.Size / data.Groups
		}
		if n != want {
			t.Errorf("%s fetched %d records, want %d", name, n, want)
		}
	}
	stats := fake.LimitStats()
	t.Logf("%d requests in %s, %d refused", stats.Served, time.Since(start), stats.Refused)
	if stats.Refused != 0 {
		t.Errorf("the fake answered 429 to %d of %d requests", stats.Refused, stats.Served+stats.Refused)
	}
	if stats.Served < 2*lim.Requests {
		t.Errorf("only %d requests: the limits were never tested", stats.Served)
	}
}

// slowStart holds the first n requests back before sending them, as a
// busy machine may between a grant and the request's arrival.
type slowStart struct {
	mu    sync.Mutex
	n     int
	delay time.Duration
}

func (s *slowStart) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	late := s.n > 0
	s.n--
	s.mu.Unlock()
	if late {
		time.Sleep(s.delay)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Requests that reach the account long after their grant (the first
// window's, held back 400 ms) still leave the next window's room to the
// requests after it: the budget counts a request from its answer, and
// the fake, which counts from arrival, answers no 429.
func TestHubSpotLateArrivals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		// Longer than the second a "none remaining" answer holds the
		// account for.
		lim := hubspotfake.Limits{Requests: 5, Interval: 2 * time.Second}
		fake := hubspotfake.New(hubspotfake.Config{Dataset: sandbox.Dataset{Seed: 5, Size: 10}, Limits: &lim})
		srv := httptest.NewServer(fake.Handler())
		t.Cleanup(srv.Close)
		creds := fake.Credentials(srv.URL)
		b := ratebudget.BudgetsFor(db)
		limits := connector.RateLimits{Requests: lim.Requests, Interval: lim.Interval}
		hc := &http.Client{Transport: &slowStart{n: lim.Requests, delay: 400 * time.Millisecond}}
		conn, err := hubspot.New().Open(creds, connector.Options{HTTPClient: hc,
			Limiter: b.Limiter(schematype.ProviderHubSpot, ratebudget.AccountKey(hubspot.New().Descriptor(), creds), limits, true)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 2 * lim.Requests {
			wg.Go(func() {
				if err := conn.Check(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if st := fake.LimitStats(); st.Refused != 0 || st.Served != 2*lim.Requests {
			t.Errorf("the fake served %d and refused %d, want %d and none", st.Served, st.Refused, 2*lim.Requests)
		}
	})
}

// The account's day, as its answers report it, rules over the provider's
// default: once HubSpot says none remain, nothing more is sent that day,
// and the fake answers no 429 DAILY.
func TestHubSpotDailyRemaining(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		fake := hubspotfake.New(hubspotfake.Config{Dataset: sandbox.Dataset{Seed: 3, Size: 10},
			Limits: &hubspotfake.Limits{Requests: 1000, Interval: time.Second, Daily: 4}})
		srv := httptest.NewServer(fake.Handler())
		t.Cleanup(srv.Close)
		creds := fake.Credentials(srv.URL)
		d := hubspot.New().Descriptor()
		b := ratebudget.BudgetsFor(db)
		acct := ratebudget.AccountKey(d, creds)
		// The provider's default: 250,000 a day, which the account's
		// answers override.
		conn, err := hubspot.New().Open(creds, connector.Options{Limiter: b.Limiter(schematype.ProviderHubSpot, acct, d.RateLimits, false)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// Read before any request: the provider's day, nothing used, and
		// (on PostgreSQL) no account row made by the read.
		if u, err := b.Usage(ctx, acct, d.RateLimits, false); err != nil || u.DailyRemaining != d.RateLimits.Daily || u.UsedLastMinute != 0 || u.LimitPerMinute != 600 {
			t.Fatalf("Usage before any request: %+v, %v", u, err)
		}
		if db.Dialect == dialect.Postgres {
			var n int
			if err := db.Store.DB.QueryRow(`SELECT count(*) FROM rate_accounts WHERE id = $1`, acct).Scan(&n); err != nil || n != 0 {
				t.Fatalf("reading the usage made %d account rows (%v)", n, err)
			}
		}
		for i := range 4 {
			if err := conn.Check(ctx); err != nil {
				t.Fatalf("request %d of the day's 4: %v", i+1, err)
			}
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := conn.Check(short); !errors.Is(err, ratebudget.ErrNoGrant) {
			t.Fatalf("a fifth request: %v, want it held for the next day", err)
		}
		if st := fake.LimitStats(); st.Refused != 0 || st.Served != 4 {
			t.Errorf("the fake served %d and refused %d, want 4 and none", st.Served, st.Refused)
		}
		u, err := b.Usage(ctx, acct, d.RateLimits, false)
		if err != nil || u.DailyRemaining != 0 {
			t.Errorf("Usage %+v, %v: want the account's 0 remaining", u, err)
		}
	})
}
