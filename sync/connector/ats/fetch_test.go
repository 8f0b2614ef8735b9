package ats_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

func newApplications(req connector.FetchRequest) connector.FetchRequest {
	req.SearchType = connector.SearchNewApplications
	return req
}

func jobRefs(groups ...int) []connector.Reference {
	refs := make([]connector.Reference, len(groups))
	for k, g := range groups {
		refs[k] = connector.Reference{ExternalID: atsfake.JobID(g), Kind: schematype.ReferenceJob, Name: atsfake.JobName(g)}
	}
	return refs
}

func TestFetch(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		name := p.Descriptor().Name
		t.Run(name+"/new applications pages to the end", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			pages, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
			must(t, err, "Fetch")
			sameRecords(t, got, b.wantWhere(func(int) bool { return true }))
			if len(pages) != 9 { // 60 applications, 7 a page
				t.Fatalf("got %d pages, want 9", len(pages))
			}
			for _, page := range pages {
				if page.Total != -1 || page.Cursor == "" {
					t.Fatalf("page Total = %d, Cursor = %q; want -1 and a cursor", page.Total, page.Cursor)
				}
			}
		})
		t.Run(name+"/since keeps applications created at or after it", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			for _, tt := range []struct {
				since time.Time
				first int
			}{
				{b.data.CreatedAt(23), 23},
				{b.data.CreatedAt(23).Add(time.Nanosecond), 24},
				{b.data.CreatedAt(23).In(time.FixedZone("CET", 3600)), 23},
				{b.data.CreatedAt(60), 60},
			} {
				_, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{Since: tt.since})))
				must(t, err, "Fetch since %v", tt.since)
				sameRecords(t, got, b.wantWhere(func(i int) bool { return i >= tt.first }))
			}
		})
		t.Run(name+"/selected jobs filter the applications", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			req := newApplications(connector.FetchRequest{References: jobRefs(3, 1), Since: b.data.CreatedAt(10)})
			_, got, err := collect(b.conn.Fetch(context.Background(), req))
			must(t, err, "Fetch")
			sameRecords(t, got, b.wantWhere(func(i int) bool { return i >= 10 && (i%5 == 1 || i%5 == 3) }))
		})
		t.Run(name+"/an unknown job yields one empty page", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			req := newApplications(connector.FetchRequest{References: []connector.Reference{{ExternalID: "job-404", Kind: schematype.ReferenceJob}}})
			pages, got, err := collect(b.conn.Fetch(context.Background(), req))
			must(t, err, "Fetch")
			if len(pages) != 1 || len(got) != 0 {
				t.Fatalf("got %d pages, %d records; want one empty page", len(pages), len(got))
			}
		})
	}

	t.Run("resuming from any page's cursor yields exactly the rest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		req := newApplications(connector.FetchRequest{References: jobRefs(0, 2, 4)})
		pages, all, err := collect(b.conn.Fetch(context.Background(), req))
		must(t, err, "Fetch")
		seen := 0
		for k, page := range pages {
			seen += len(page.Records)
			resumed := req
			resumed.Cursor = page.Cursor
			rest, restRecords, err := collect(b.conn.Fetch(context.Background(), resumed))
			must(t, err, "resuming after page %d", k)
			sameRecords(t, restRecords, all[seen:])
			if k == len(pages)-1 && len(rest) != 0 {
				t.Fatalf("resuming after the last page yielded %d pages", len(rest))
			}
		}
	})

	t.Run("bad requests are refused before any request", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		for _, tt := range []struct {
			name string
			req  connector.FetchRequest
			want string
		}{
			{"unknown search type", connector.FetchRequest{SearchType: connector.SearchTalentPool}, `unknown search type "talent_pool_research"`},
			{"unknown parameter", newApplications(connector.FetchRequest{Params: map[string]any{"daysSinceLastChange": 3}}), "searchParams.daysSinceLastChange"},
			{"malformed cursor", newApplications(connector.FetchRequest{Cursor: "page-2"}), "malformed cursor"},
			{"reference of another kind", newApplications(connector.FetchRequest{References: []connector.Reference{{ExternalID: "1", Kind: schematype.ReferenceOffice}}}), "OFFICE"},
			{"reference without ID", newApplications(connector.FetchRequest{References: []connector.Reference{{Kind: schematype.ReferenceJob}}}), "no external ID"},
		} {
			pages, _, err := collect(b.conn.Fetch(context.Background(), tt.req))
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(pages) != 0 {
				t.Fatalf("%s: error = %v, pages %d; want an error mentioning %q", tt.name, err, len(pages), tt.want)
			}
		}
		if n, _ := b.counts(); n != 0 {
			t.Fatalf("%d application requests were sent", n)
		}
	})

	t.Run("breaking out of the loop stops fetching", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		for range b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})) {
			break
		}
		if n, _ := b.counts(); n != 1 {
			t.Fatalf("%d application pages were requested, want 1", n)
		}
	})

	t.Run("a cancelled context ends the fetch with its error", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var err error
		pages := 0
		for _, err = range b.conn.Fetch(ctx, newApplications(connector.FetchRequest{})) {
			if err != nil {
				break
			}
			pages++
			cancel()
		}
		if !errors.Is(err, context.Canceled) || pages != 1 {
			t.Fatalf("after %d pages error = %v, want context.Canceled after 1", pages, err)
		}
	})

	t.Run("candidate requests are concurrent within the bound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New(), func(c *atsfake.Config) { c.MaxPageSize = 50 })
		_, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		must(t, err, "Fetch")
		sameRecords(t, got, b.wantWhere(func(int) bool { return true }))
		if _, most := b.counts(); most > 8 {
			t.Fatalf("%d candidate requests were in flight at once, the bound is 8", most)
		}
	})

	t.Run("unreadable candidates become problem records in place", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		broken := map[string]func(w http.ResponseWriter){
			b.data.ExternalID(3): func(w http.ResponseWriter) { errorBody(w, http.StatusNotFound, "candidate not found") },
			b.data.ExternalID(4): func(w http.ResponseWriter) {
				sandbox.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"first_name": 5}})
			},
			b.data.ExternalID(5): func(w http.ResponseWriter) {
				sandbox.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "data": nil})
			},
		}
		b.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
			answer, ok := broken[strings.TrimPrefix(r.URL.Path, "/ats/candidates/")]
			if ok {
				answer(w)
			}
			return ok
		})
		_, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		must(t, err, "Fetch")
		want := b.wantWhere(func(int) bool { return true })
		for i, problem := range map[int]string{3: "not found", 4: "undecodable candidate", 5: "has no data"} {
			if !strings.Contains(got[i].Problem, problem) || !strings.Contains(got[i].Problem, b.data.ExternalID(i)) {
				t.Fatalf("record %d problem = %q, want one naming the candidate and %q", i, got[i].Problem, problem)
			}
			// What the application told is kept.
			want[i] = connector.Record{
				ExternalID: want[i].ExternalID, ReferenceIDs: want[i].ReferenceIDs, Attributes: b.applicationAttributes(i),
				CreatedAt: want[i].CreatedAt, Problem: got[i].Problem,
			}
		}
		sameRecords(t, got, want)
	})

	t.Run("unreadable applications become problem records in place", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/applications":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"status":"success","data":{"next":null,"results":[
					{"id":"a1","candidate_id":"c1","job_id":"j1","remote_created_at":"2026-02-01T10:00:00Z"},
					{"id":"a2","job_id":"j1"},
					{"id":3,"candidate_id":"c3"},
					{"candidate_id":"c4","job_id":"j2"}]}}`))
			case "/candidates/c1":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"status":"success","data":{"id":"c1","first_name":"Ada","last_name":"Lovelace",
					"phone_numbers":[{"phone_number":"030 1234567","type":"home"},{"phone_number":" ","type":"mobile"},{"phone_number":"0151 2345678","type":"MOBILE"}],
					"email_addresses":[{"email_address":"","type":"work"},{"email_address":"ada@example.com","type":"personal"}],
					"changed_at":"2026-02-02T10:00:00Z"}}`))
			default:
				errorBody(w, http.StatusNotFound, "no such thing")
			}
		}))
		defer srv.Close()
		c, err := talention.New().Open(connector.Credentials{"baseURL": srv.URL, "apiKey": "k"}, connector.Options{Retry: fastRetry})
		must(t, err, "Open")
		_, got, err := collect(c.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		must(t, err, "Fetch")
		created := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
		want := []connector.Record{
			{
				ExternalID: "c1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
				Phones: []string{"0151 2345678", "030 1234567"}, ReferenceIDs: []string{"j1"},
				Attributes: map[string]any{ats.AttrApplicationID: "a1", ats.AttrJobID: "j1"},
				CreatedAt:  created, UpdatedAt: created.Add(24 * time.Hour),
			},
			{ReferenceIDs: []string{"j1"}, Attributes: map[string]any{ats.AttrApplicationID: "a2", ats.AttrJobID: "j1"}, Problem: "application a2 has no candidate_id"},
			{Problem: got[2].Problem},
			{ExternalID: "c4", ReferenceIDs: []string{"j2"}, Attributes: map[string]any{ats.AttrJobID: "j2"}, Problem: "application without id"},
		}
		if !strings.HasPrefix(got[2].Problem, "undecodable application") {
			t.Fatalf("record 2 problem = %q", got[2].Problem)
		}
		sameRecords(t, got, want)
	})
}

func TestFetchFaults(t *testing.T) {
	t.Parallel()
	for _, fault := range []sandbox.Fault{sandbox.RateLimit, sandbox.ServerError, sandbox.Slow, sandbox.Malformed} {
		t.Run(fault.String()+" is retried to success", func(t *testing.T) {
			t.Parallel()
			b := setup(t, talention.New())
			b.fake.Faults.SetRetryAfter(0)
			b.fake.Faults.SetSlowDelay(time.Minute)
			opts := connector.Options{Retry: fastRetry}
			opts.Retry.AttemptTimeout = 200 * time.Millisecond
			conn := b.open(t, b.fake.Credentials(b.baseURL), opts)
			// The first request for the list and for one candidate fail.
			var mu sync.Mutex
			seen := map[string]bool{}
			b.fake.Faults.Only(func(r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				first := !seen[r.URL.Path]
				seen[r.URL.Path] = true
				return first && (r.URL.Path == "/applications" || r.URL.Path == "/candidates/"+b.data.ExternalID(2))
			})
			b.fake.Faults.SetRate(fault, 1)
			_, got, err := collect(conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
			must(t, err, "Fetch")
			sameRecords(t, got, b.wantWhere(func(int) bool { return true }))
			if n := b.fake.Faults.Injected()[fault]; n != 2 {
				t.Fatalf("%d faults injected, want 2", n)
			}
		})
	}

	t.Run("a persistent server error fails the fetch clearly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/candidates/") })
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		pages, _, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusInternalServerError || !e.Temporary || len(pages) != 0 {
			t.Fatalf("after %d pages error = %v, want a temporary 500", len(pages), err)
		}
		for _, part := range []string{"TALENTION", "GET /candidates/", "HTTP 500", "internal error (injected by the sandbox)"} {
			if !strings.Contains(err.Error(), part) {
				t.Fatalf("error %q does not mention %q", err, part)
			}
		}
		if n := b.fake.Faults.Injected()[sandbox.ServerError]; n < fastRetry.MaxAttempts {
			t.Fatalf("%d attempts, want at least %d", n, fastRetry.MaxAttempts)
		}
	})

	t.Run("a persistent timeout fails the fetch clearly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.SetSlowDelay(time.Minute)
		b.fake.Faults.SetRate(sandbox.Slow, 1)
		opts := connector.Options{Retry: fastRetry}
		opts.Retry.MaxAttempts, opts.Retry.AttemptTimeout = 2, 50*time.Millisecond
		_, _, err := collect(b.open(t, b.fake.Credentials(b.baseURL), opts).Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		if !connector.IsTemporary(err) || !strings.Contains(err.Error(), "GET /applications: request timed out") {
			t.Fatalf("error = %v, want a temporary timeout", err)
		}
	})

	t.Run("a persistently malformed answer fails the fetch clearly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.SetRate(sandbox.Malformed, 1)
		_, _, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		if !strings.Contains(err.Error(), "TALENTION: GET /applications: HTTP 200: malformed JSON response") {
			t.Fatalf("error = %v, want a malformed JSON error", err)
		}
	})

	t.Run("a Retry-After beyond the bound is handed to the caller", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.SetRetryAfter(2 * time.Second)
		b.fake.Faults.SetRate(sandbox.RateLimit, 1)
		_, _, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		if wait, ok := connector.IsRateLimited(err); !ok || wait != 2*time.Second {
			t.Fatalf("error = %v, want rate limited with a 2s wait", err)
		}
		if n := b.fake.Faults.Injected()[sandbox.RateLimit]; n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
}

func TestFetchRefusesAStuckCursor(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"next":"same","results":[]}}`))
	}))
	defer srv.Close()
	c, err := talention.New().Open(connector.Credentials{"baseURL": srv.URL, "apiKey": "k"}, connector.Options{Retry: fastRetry})
	must(t, err, "Open")
	pages, _, err := collect(c.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
	if err == nil || !strings.Contains(err.Error(), "did not advance") || len(pages) != 1 {
		t.Fatalf("after %d pages error = %v, want a stuck cursor error after 1", len(pages), err)
	}
	_, err = c.References(context.Background(), connector.ReferenceQuery{Cursor: "same"})
	if err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Fatalf("References error = %v, want a stuck cursor error", err)
	}
}
