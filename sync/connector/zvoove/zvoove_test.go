package zvoove_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/zvoove"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// clock is a settable clock shared by the connector and the fake.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type bundle struct {
	data  sandbox.Dataset
	fake  *zvoovefake.Server
	url   string // the fake's base URL, under a path prefix
	clock *clock
	opts  connector.Options
	conn  connector.Connector // opened with the reference key
	// intercept, when set, answers a request instead of the fake (return
	// false to pass it on).
	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

// setup serves a fake of 240 people (one an hour, 5 offices) under the
// path prefix /zvoove, and opens a connector with fast retries.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, zvoovefake.Config{Dataset: sandbox.Dataset{Seed: 3, Size: 240, Groups: 5, Step: time.Hour}})
}

// setupWith serves a fake of cfg as setup does, its clock an hour after
// the last change. When the test ends, every request the fake saw is
// checked against the contract.
func setupWith(t *testing.T, cfg zvoovefake.Config) *bundle {
	t.Helper()
	b := &bundle{data: cfg.Dataset, clock: &clock{}}
	b.clock.Set(b.data.UpdatedAt(b.data.Size - 1).Add(time.Hour))
	cfg.Now = b.clock.Now
	b.fake = zvoovefake.New(cfg)
	t.Cleanup(func() { verifyContract(t, b.fake) })
	b.fake.Faults.SetRetryAfter(0)
	fake := http.StripPrefix("/zvoove", b.fake.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := b.intercept.Load(); f != nil && (*f)(w, r) {
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/zvoove"
	b.opts = connector.Options{
		Retry: connector.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 10 * time.Second},
		Now:   b.clock.Now,
	}
	b.conn = b.open(t, b.fake.Credentials(b.url), b.opts)
	return b
}

// verifyContract fails t with the contract violations of fake's traffic.
// Unlike Checker.Verify, it accepts a test without traffic (Push must send
// nothing).
func verifyContract(t *testing.T, fake *zvoovefake.Server) {
	t.Helper()
	for _, v := range fake.Contract.Violations() {
		t.Errorf("contract: %s", v)
	}
}

func (b *bundle) open(t *testing.T, creds connector.Credentials, opts connector.Options) connector.Connector {
	t.Helper()
	c, err := zvoove.New().Open(creds, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// collect runs a fetch to the end.
func collect(t *testing.T, c connector.Connector, req connector.FetchRequest) []*connector.Page {
	t.Helper()
	var pages []*connector.Page
	for p, err := range c.Fetch(context.Background(), req) {
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		pages = append(pages, p)
	}
	return pages
}

func records(pages []*connector.Page) []connector.Record {
	var out []connector.Record
	for _, p := range pages {
		out = append(out, p.Records...)
	}
	return out
}

// line renders what a record must carry, for comparison.
func line(r connector.Record) string {
	return fmt.Sprintf("%s|%s|%s|%s|%q|%v|%s|%s", r.ExternalID, r.FirstName, r.LastName, r.Email, r.Phones, r.ReferenceIDs, r.Problem, r.Gone)
}

func want(d sandbox.Dataset, i int) connector.Record {
	p := d.Person(i)
	return connector.Record{
		ExternalID: p.ID, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Phones: p.Phones, ReferenceIDs: []string{strconv.Itoa(zvoovefake.OfficeID(p.Group))},
	}
}

func assertRecords(t *testing.T, got, want []connector.Record) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = line(got[i])
		}
		if i < len(want) {
			w = line(want[i])
		}
		if g != w {
			t.Fatalf("record %d of %d (want %d):\n got %s\nwant %s", i, len(got), len(want), g, w)
		}
	}
}

// expected lists the people i in [from, Size) for which keep is true.
func expected(d sandbox.Dataset, from int, keep func(i int) bool) []connector.Record {
	var out []connector.Record
	for i := from; i < d.Size; i++ {
		if keep(i) {
			out = append(out, want(d, i))
		}
	}
	return out
}

// expectedPool lists what a talent pool search yields of the people i in
// [from, Size): those the change log reports deleted, anonymised or
// removed as records with Gone (their office does not matter), the others
// for which keep is true as they are.
func expectedPool(d sandbox.Dataset, from int, keep func(i int) bool) []connector.Record {
	var out []connector.Record
	for i := from; i < d.Size; i++ {
		switch s := zvoovefake.EntryStatus(i); s {
		case zvoovefake.StatusDeleted, zvoovefake.StatusAnonymized, zvoovefake.StatusRemoved:
			out = append(out, connector.Record{ExternalID: d.ExternalID(i), Gone: s})
		default:
			if keep(i) {
				out = append(out, want(d, i))
			}
		}
	}
	return out
}

func all(int) bool { return true }

func inGroups(d sandbox.Dataset, groups ...int) func(int) bool {
	return func(i int) bool { return slices.Contains(groups, d.Person(i).Group) }
}

func office(g int) connector.Reference {
	return connector.Reference{ExternalID: strconv.Itoa(zvoovefake.OfficeID(g)), Kind: schematype.ReferenceOffice}
}

func TestDescriptor(t *testing.T) {
	t.Parallel()
	d := zvoove.New().Descriptor()
	if d.Key != schematype.ProviderZvoove || d.Name != "zvoove" || d.SupportsPushback || d.SupportsStatusMapping || d.SupportsWebhooks {
		t.Fatalf("descriptor = %+v", d)
	}
	if !slices.Equal(d.ReferenceKinds, []schematype.ReferenceKind{schematype.ReferenceOffice}) {
		t.Fatalf("reference kinds = %v", d.ReferenceKinds)
	}
	if def := d.DefaultSearchType(); def.Key != connector.SearchNewApplications || def.Name != "Default - New Applications" || len(def.Fields) != 0 {
		t.Fatalf("default search type = %+v", def)
	}
	tp, ok := d.SearchType(connector.SearchTalentPool)
	if !ok || tp.Name != "Talent Pool Research" || len(tp.Fields) != 1 {
		t.Fatalf("talent pool search type = %+v", tp)
	}
	f := tp.Fields[0]
	if f.Key != "daysSinceLastChange" || f.Label != "Days since last change" || f.Type != schematype.FieldInt ||
		!f.Required || *f.Min != 1 || *f.Max != 3650 || f.Description == "" {
		t.Fatalf("field = %+v", f)
	}
	if !slices.Equal(d.CredentialKeys, []string{"baseURL", "mandantID", "apiKey", "clientID", "clientSecret", "tokenURL"}) {
		t.Fatalf("credential keys = %v", d.CredentialKeys)
	}
}

func TestOpenValidatesCredentials(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) connector.Credentials {
		c := connector.Credentials{"baseURL": "https://api.zvoove.cloud", "mandantID": "m1"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(c, kv[i])
			} else {
				c[kv[i]] = kv[i+1]
			}
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		creds connector.Credentials
		key   string // "" = valid
	}{
		{"reference key", base("apiKey", "k"), ""},
		{"client credentials", base("clientID", "id", "clientSecret", "s"), ""},
		{"client credentials with token URL", base("clientID", "id", "clientSecret", "s", "tokenURL", "http://127.0.0.1:1/connect/token"), ""},
		{"unknown key", base("apiKey", "k", "password", "x"), "password"},
		{"missing baseURL", base("apiKey", "k", "baseURL", ""), "baseURL"},
		{"missing mandantID", base("apiKey", "k", "mandantID", ""), "mandantID"},
		{"no authentication", base(), "apiKey"},
		{"client ID without secret", base("clientID", "id"), "clientSecret"},
		{"client secret without ID", base("clientSecret", "s"), "clientID"},
		{"reference key with client ID", base("apiKey", "k", "clientID", "id", "clientSecret", "s"), "clientID"},
		{"reference key with client secret", base("apiKey", "k", "clientSecret", "s"), "clientSecret"},
		{"reference key with token URL", base("apiKey", "k", "tokenURL", "https://sso.example/token"), "tokenURL"},
		{"bad baseURL", base("apiKey", "k", "baseURL", "api.zvoove.cloud"), "baseURL"},
		{"baseURL with credentials", base("apiKey", "k", "baseURL", "https://u:p@api.zvoove.cloud"), "baseURL"},
		{"bad tokenURL", base("clientID", "id", "clientSecret", "s", "tokenURL", "ftp://sso"), "tokenURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := zvoove.New().Open(tc.creds, connector.Options{})
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			var ce *connector.CredentialError
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("Open error = %v, want a credential error naming %s", err, tc.key)
			}
			for _, secret := range []string{"k", "s"} {
				if strings.Contains(err.Error(), "="+secret) || strings.HasSuffix(err.Error(), " "+secret) {
					t.Fatalf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("reference key", func(t *testing.T) {
		t.Parallel()
		if err := b.conn.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("wrong key is 401 naming provider, status and message", func(t *testing.T) {
		t.Parallel()
		creds := b.fake.Credentials(b.url)
		creds["apiKey"] = "wrong"
		err := b.open(t, creds, b.opts).Check(context.Background())
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != 401 || e.Temporary {
			t.Fatalf("Check error = %v, want a non-temporary 401", err)
		}
		for _, s := range []string{"ZVOOVE", "401", "The access token is missing, invalid or expired."} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error %q shows the key", err)
		}
	})
	t.Run("wrong mandant is 403", func(t *testing.T) {
		t.Parallel()
		creds := b.fake.Credentials(b.url)
		creds["mandantID"] = "other"
		err := b.open(t, creds, b.opts).Check(context.Background())
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != 403 || !strings.Contains(err.Error(), "No access to this mandant.") {
			t.Fatalf("Check error = %v, want 403 with the provider's message", err)
		}
	})
}

func TestOAuth(t *testing.T) {
	t.Parallel()

	t.Run("concurrent requests share one token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.open(t, b.fake.OAuthCredentials(b.url), b.opts)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- c.Check(context.Background()) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
		}
		got := records(collect(t, c, connector.FetchRequest{References: []connector.Reference{office(1)}}))
		if len(got) == 0 {
			t.Fatal("no records")
		}
		if n := b.fake.TokensIssued(); n != 1 {
			t.Fatalf("tokens issued = %d, want 1", n)
		}
	})
	t.Run("a 401 fetches a new token once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.open(t, b.fake.OAuthCredentials(b.url), b.opts)
		if err := c.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		b.fake.RevokeTokens()
		if err := c.Check(context.Background()); err != nil {
			t.Fatalf("Check after revocation: %v", err)
		}
		if n := b.fake.TokensIssued(); n != 2 {
			t.Fatalf("tokens issued = %d, want 2", n)
		}
	})
	t.Run("an expiring token is replaced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.open(t, b.fake.OAuthCredentials(b.url), b.opts)
		if err := c.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		b.clock.Advance(zvoovefake.DefaultTokenTTL - 30*time.Second) // still valid, but close to expiry
		if err := c.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if n := b.fake.TokensIssued(); n != 2 {
			t.Fatalf("tokens issued = %d, want 2", n)
		}
	})
	t.Run("a refused client is a clear error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		creds := b.fake.OAuthCredentials(b.url)
		creds["clientSecret"] = "wrong-secret"
		err := b.open(t, creds, b.opts).Check(context.Background())
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != 401 || e.Temporary {
			t.Fatalf("Check error = %v, want a non-temporary 401", err)
		}
		for _, s := range []string{"ZVOOVE", "POST /zvoove/connect/token", "401", "unknown client or wrong secret"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
		if strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("error %q shows the secret", err)
		}
	})
	t.Run("token endpoint faults are retried", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.Faults.Only(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/connect/token") })
		b.fake.Faults.Next(sandbox.ServerError, sandbox.Malformed)
		c := b.open(t, b.fake.OAuthCredentials(b.url), b.opts)
		if err := c.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if n := b.fake.TokensIssued(); n != 1 {
			t.Fatalf("tokens issued = %d, want 1", n)
		}
	})
}

func TestReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := func(t *testing.T, q connector.ReferenceQuery) []connector.Reference {
		t.Helper()
		var out []connector.Reference
		for range 100 {
			p, err := b.conn.References(context.Background(), q)
			if err != nil {
				t.Fatalf("References: %v", err)
			}
			out = append(out, p.Items...)
			if p.NextCursor == "" {
				return out
			}
			q.Cursor = p.NextCursor
		}
		t.Fatal("References never ended")
		return nil
	}
	names := func(refs []connector.Reference) []string {
		var out []string
		for _, r := range refs {
			if r.Kind != schematype.ReferenceOffice {
				t.Fatalf("reference %+v is not an office", r)
			}
			out = append(out, r.ExternalID+" "+r.Name)
		}
		return out
	}
	var active []string
	for g := range b.data.Groups {
		id := zvoovefake.OfficeID(g)
		active = append(active, strconv.Itoa(id)+" "+zvoovefake.OfficeName(id))
	}

	t.Run("pages to the end without the inactive office", func(t *testing.T) {
		t.Parallel()
		if got := names(all(t, connector.ReferenceQuery{Limit: 2})); !slices.Equal(got, active) {
			t.Fatalf("offices = %q, want %q", got, active)
		}
	})
	t.Run("search is a case-insensitive substring", func(t *testing.T) {
		t.Parallel()
		if got := names(all(t, connector.ReferenceQuery{Search: "BERLIN", Limit: 2})); !slices.Equal(got, active[:1]) {
			t.Fatalf("offices = %q, want %q", got, active[:1])
		}
		var wantN []string
		for _, a := range active {
			if strings.Contains(strings.ToLower(a[strings.Index(a, " ")+1:]), "n") {
				wantN = append(wantN, a)
			}
		}
		if got := names(all(t, connector.ReferenceQuery{Search: "n", Limit: 1})); !slices.Equal(got, wantN) {
			t.Fatalf("offices = %q, want %q", got, wantN)
		}
		if got := all(t, connector.ReferenceQuery{Search: "nowhere"}); len(got) != 0 {
			t.Fatalf("offices = %v, want none", got)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		t.Parallel()
		if _, err := b.conn.References(context.Background(), connector.ReferenceQuery{Cursor: "x"}); err == nil {
			t.Fatal("no error for a bad cursor")
		}
	})
}

func TestFetchNewApplications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	since := b.data.CreatedAt(100).Add(30 * time.Minute) // mid-day: CreatedAfter alone would return more

	t.Run("every active office since the watermark", func(t *testing.T) {
		t.Parallel()
		pages := collect(t, b.conn, connector.FetchRequest{SearchType: connector.SearchNewApplications, Since: since})
		got := records(pages)
		assertRecords(t, got, expected(b.data, 101, func(int) bool { return true }))
		if len(pages) < 3 {
			t.Fatalf("%d pages, want several", len(pages))
		}
		for _, p := range pages {
			if p.Total != -1 || p.Cursor == "" {
				t.Fatalf("page total %d cursor %q, want -1 and a cursor", p.Total, p.Cursor)
			}
		}
		r := got[0]
		if !r.CreatedAt.Equal(b.data.CreatedAt(101)) || r.Attributes["status"] != "Applicant" ||
			r.Attributes["candidateGuid"] != zvoovefake.CandidateGUID(b.data, 101) {
			t.Fatalf("record %+v: wrong createdAt or attributes", r)
		}
	})
	t.Run("default search type from the beginning", func(t *testing.T) {
		t.Parallel()
		got := records(collect(t, b.conn, connector.FetchRequest{}))
		assertRecords(t, got, expected(b.data, 0, func(int) bool { return true }))
	})
	t.Run("selected offices only", func(t *testing.T) {
		t.Parallel()
		refs := []connector.Reference{office(1), office(3)}
		got := records(collect(t, b.conn, connector.FetchRequest{References: refs, Since: since}))
		assertRecords(t, got, expected(b.data, 101, inGroups(b.data, 1, 3)))
	})
	t.Run("resumes after a page", func(t *testing.T) {
		t.Parallel()
		req := connector.FetchRequest{Since: since}
		pages := collect(t, b.conn, req)
		for k := range pages {
			req.Cursor = pages[k].Cursor
			assertRecords(t, records(collect(t, b.conn, req)), records(pages[k+1:]))
		}
	})
}

func TestFetchTalentPool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Now is an hour after the last change: 3 days back reach person 168.
	from := b.data.FirstUpdatedAtOrAfter(b.clock.Now().AddDate(0, 0, -3))
	if from != 168 {
		t.Fatalf("window starts at %d", from)
	}
	req := connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 3}}

	t.Run("every office, removed candidates reported gone", func(t *testing.T) {
		t.Parallel()
		pages := collect(t, b.conn, req)
		got := records(pages)
		assertRecords(t, got, expectedPool(b.data, from, all))
		if !slices.ContainsFunc(got, func(r connector.Record) bool { return r.Gone != "" }) {
			t.Fatal("the window has no removed candidates")
		}
		for _, p := range pages {
			if p.Total != b.data.Size-from {
				t.Fatalf("page total = %d, want %d", p.Total, b.data.Size-from)
			}
		}
		if r := got[0]; !r.UpdatedAt.Equal(b.data.UpdatedAt(168)) {
			t.Fatalf("updatedAt = %v, want %v", r.UpdatedAt, b.data.UpdatedAt(168))
		}
	})
	t.Run("selected offices only", func(t *testing.T) {
		t.Parallel()
		req := req
		req.References = []connector.Reference{office(0), office(4)}
		got := records(collect(t, b.conn, req))
		in := inGroups(b.data, 0, 4)
		assertRecords(t, got, expectedPool(b.data, from, in))
	})
	t.Run("JSON numbers as parameters", func(t *testing.T) {
		t.Parallel()
		req := req
		req.Params = map[string]any{"daysSinceLastChange": float64(3)}
		assertRecords(t, records(collect(t, b.conn, req)), expectedPool(b.data, from, all))
	})
	t.Run("resumes after a page", func(t *testing.T) {
		t.Parallel()
		pages := collect(t, b.conn, req)
		if len(pages) < 2 {
			t.Fatalf("%d pages, want several", len(pages))
		}
		for k := range pages {
			req := req
			req.Cursor = pages[k].Cursor
			assertRecords(t, records(collect(t, b.conn, req)), records(pages[k+1:]))
		}
	})
}

func TestFetchRefusesBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	newCursor := collect(t, b.conn, connector.FetchRequest{})[0].Cursor
	for _, tc := range []struct {
		name string
		req  connector.FetchRequest
		want string
	}{
		{"unknown search type", connector.FetchRequest{SearchType: "everything"}, `unknown search type "everything"`},
		{"missing days", connector.FetchRequest{SearchType: connector.SearchTalentPool}, "searchParams.daysSinceLastChange"},
		{"days out of range", connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 0}}, "searchParams.daysSinceLastChange"},
		{"unknown parameter", connector.FetchRequest{Params: map[string]any{"x": 1}}, "searchParams.x"},
		{"reference of another kind", connector.FetchRequest{References: []connector.Reference{{ExternalID: "1", Kind: schematype.ReferenceJob}}}, `reference "1" is a JOB`},
		{"reference that is no office ID", connector.FetchRequest{References: []connector.Reference{{ExternalID: "abc", Kind: schematype.ReferenceOffice}}}, `reference "abc" is not an office ID`},
		{"garbled cursor", connector.FetchRequest{Cursor: "%%%"}, "invalid cursor"},
		{"cursor of another search type", connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 3}, Cursor: newCursor}, "invalid cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			for p, err := range b.conn.Fetch(context.Background(), tc.req) {
				n++
				if err == nil || p != nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got page %v, error %v; want an error mentioning %q", p, err, tc.want)
				}
			}
			if n != 1 {
				t.Fatalf("%d results, want one error", n)
			}
		})
	}
}

func TestFetchYieldsUnreadableCandidatesWithProblem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gone, broken := b.data.ExternalID(5), b.data.ExternalID(6)
	f := func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/zvoove/temp-staffing-de/v2/candidates/" + gone:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title":"Not Found","status":404,"detail":"Candidate was deleted."}`)
			return true
		case "/zvoove/temp-staffing-de/v2/candidates/" + broken:
			fmt.Fprint(w, `{"id":`+broken+`,"officeId":"Berlin","firstName":"X"}`)
			return true
		}
		return false
	}
	b.intercept.Store(&f)
	got := records(collect(t, b.conn, connector.FetchRequest{References: []connector.Reference{office(0), office(1)}}))
	exp := expected(b.data, 0, inGroups(b.data, 0, 1))
	for i := range exp {
		switch exp[i].ExternalID {
		case gone:
			p := b.data.Person(5)
			exp[i] = connector.Record{ExternalID: gone, FirstName: p.FirstName, LastName: p.LastName, ReferenceIDs: exp[i].ReferenceIDs,
				Problem: "candidate detail unavailable: HTTP 404: Candidate was deleted."}
		case broken:
			p := b.data.Person(6)
			exp[i] = connector.Record{ExternalID: broken, FirstName: p.FirstName, LastName: p.LastName, ReferenceIDs: exp[i].ReferenceIDs,
				Problem: "unreadable candidate detail: invalid ID: want a non-negative integer"}
		}
	}
	assertRecords(t, got, exp)
}

func TestFaults(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		fault sandbox.Fault
		opts  func(*connector.Options)
	}{
		{fault: sandbox.RateLimit},
		{fault: sandbox.ServerError},
		{fault: sandbox.Malformed},
		{fault: sandbox.Slow, opts: func(o *connector.Options) { o.Retry.AttemptTimeout = 300 * time.Millisecond }},
	} {
		t.Run(tc.fault.String()+" then success", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.Faults.SetSlowDelay(time.Minute)
			opts := b.opts
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c := b.open(t, b.fake.Credentials(b.url), opts)
			b.fake.Faults.Next(tc.fault, tc.fault)
			if err := c.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if n := b.fake.Faults.Injected()[tc.fault]; n != 2 {
				t.Fatalf("%d faults injected, want 2", n)
			}
		})
	}
	t.Run("persistent server errors end in a clear temporary error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		err := b.conn.Check(context.Background())
		if !connector.IsTemporary(err) {
			t.Fatalf("Check error = %v, want a temporary error", err)
		}
		for _, s := range []string{"ZVOOVE", "HTTP 500", "internal error (injected by the sandbox)"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
		if n := b.fake.Faults.Injected()[sandbox.ServerError]; n != b.opts.Retry.MaxAttempts {
			t.Fatalf("%d attempts, want %d", n, b.opts.Retry.MaxAttempts)
		}
	})
	t.Run("persistent rate limiting ends in a rate-limited error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.Faults.SetRate(sandbox.RateLimit, 1)
		var got error
		for _, err := range b.conn.Fetch(context.Background(), connector.FetchRequest{}) {
			got = err
		}
		if _, ok := connector.IsRateLimited(got); !ok || !strings.Contains(got.Error(), "rate limit exceeded") {
			t.Fatalf("Fetch error = %v, want a rate-limited error with the provider's message", got)
		}
	})
	t.Run("persistent faults on details fail the fetch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.Faults.Only(func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/v2/candidates/1") })
		b.fake.Faults.SetRate(sandbox.Malformed, 1)
		var got error
		for p, err := range b.conn.Fetch(context.Background(), connector.FetchRequest{}) {
			if p != nil {
				t.Fatalf("page of %d records despite failing details", len(p.Records))
			}
			got = err
		}
		if !connector.IsTemporary(got) || !strings.Contains(got.Error(), "malformed JSON response") {
			t.Fatalf("Fetch error = %v, want a temporary malformed-JSON error", got)
		}
	})
	t.Run("random faults everywhere still give every record", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.Faults.SetRate(sandbox.RateLimit, 0.1)
		b.fake.Faults.SetRate(sandbox.ServerError, 0.1)
		b.fake.Faults.SetRate(sandbox.Malformed, 0.05)
		opts := b.opts
		opts.Retry.MaxAttempts = 12
		for _, creds := range []connector.Credentials{b.fake.Credentials(b.url), b.fake.OAuthCredentials(b.url)} {
			c := b.open(t, creds, opts)
			got := records(collect(t, c, connector.FetchRequest{}))
			assertRecords(t, got, expected(b.data, 0, func(int) bool { return true }))
			tp := connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 1}}
			if len(records(collect(t, c, tp))) == 0 {
				t.Fatal("no talent pool records")
			}
		}
		if inj := b.fake.Faults.Injected(); inj[sandbox.RateLimit] == 0 || inj[sandbox.ServerError] == 0 {
			t.Fatalf("faults injected: %v", inj)
		}
	})
}

func TestFetchStops(t *testing.T) {
	t.Parallel()

	t.Run("when the consumer breaks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := 0
		for p, err := range b.conn.Fetch(context.Background(), connector.FetchRequest{}) {
			if err != nil || p == nil {
				t.Fatalf("Fetch: %v", err)
			}
			n++
			break
		}
		if n != 1 {
			t.Fatalf("%d pages", n)
		}
	})
	t.Run("when the context is cancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pages int
		var last error
		for p, err := range b.conn.Fetch(ctx, connector.FetchRequest{}) {
			if err != nil {
				last = err
				continue
			}
			pages++
			if p != nil && pages == 1 {
				cancel()
			}
		}
		if pages != 1 || !errors.Is(last, context.Canceled) {
			t.Fatalf("%d pages, error %v; want 1 page then context.Canceled", pages, last)
		}
	})
}

func TestPushAndWebhooksAreUnsupported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.conn.Push(context.Background(), connector.PushRequest{Key: "k", Contact: connector.ContactRef{ExternalID: "100001"}}); !errors.Is(err, connector.ErrUnsupported) {
		t.Fatalf("Push error = %v, want ErrUnsupported", err)
	}
	if len(b.fake.Writes.Writes()) != 0 {
		t.Fatal("Push wrote to zvoove")
	}
	_, err := b.conn.ParseWebhook(connector.WebhookRequest{Method: http.MethodPost, Body: []byte(`{}`), Now: time.Now()})
	if !errors.Is(err, connector.ErrUnsupported) {
		t.Fatalf("ParseWebhook error = %v, want ErrUnsupported", err)
	}
}
