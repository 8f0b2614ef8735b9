package ats_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

// fastRetry keeps retries quick so fault tests stay fast.
var fastRetry = connector.RetryPolicy{
	MaxAttempts:    4,
	BaseDelay:      time.Millisecond,
	MaxDelay:       5 * time.Millisecond,
	MaxRetryAfter:  time.Second,
	AttemptTimeout: 10 * time.Second,
}

// bundle is a connector wired to its fake over loopback HTTP, mounted
// under a path prefix the way the demo mounts fakes.
type bundle struct {
	provider connector.Provider
	fake     *atsfake.Server
	data     sandbox.Dataset
	baseURL  string
	conn     connector.Connector

	mu sync.Mutex
	// override answers a request instead of the fake when it returns true.
	override     func(w http.ResponseWriter, r *http.Request) bool
	listRequests int // GET /applications requests
	noteLists    int // GET /candidates/{id}/notes requests
	notePosts    int // POST /candidates/{id}/notes requests, faulted ones included
	inFlight     int // candidate requests being served
	maxInFlight  int
	// quiet says the test sends the fake no request at all.
	quiet bool
}

type setupOption func(*atsfake.Config)

func setup(t *testing.T, p connector.Provider, opts ...setupOption) *bundle {
	t.Helper()
	desc := p.Descriptor()
	cfg := atsfake.Config{
		Provider:    desc.Name,
		Dataset:     sandbox.Dataset{Seed: 7, Size: 60, Groups: 5},
		StageMoves:  desc.SupportsStatusMapping,
		MaxPageSize: 7,
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := &bundle{provider: p, fake: atsfake.New(cfg), data: cfg.Dataset}
	fake := http.StripPrefix("/ats", b.fake.Handler())
	mux := http.NewServeMux()
	mux.Handle("/ats/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		override := b.override
		notes := strings.HasSuffix(r.URL.Path, "/notes")
		candidate := strings.HasPrefix(r.URL.Path, "/ats/candidates/") && !notes && r.Method == http.MethodGet
		if r.URL.Path == "/ats/applications" {
			b.listRequests++
		}
		switch {
		case notes && r.Method == http.MethodGet:
			b.noteLists++
		case notes && r.Method == http.MethodPost:
			b.notePosts++
		}
		if candidate {
			b.inFlight++
			b.maxInFlight = max(b.maxInFlight, b.inFlight)
		}
		b.mu.Unlock()
		defer func() {
			if candidate {
				b.mu.Lock()
				b.inFlight--
				b.mu.Unlock()
			}
		}()
		if override != nil && override(w, r) {
			return
		}
		fake.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// Every request the test sent and every answer the fake gave must
	// keep to the contract.
	t.Cleanup(func() {
		b.mu.Lock()
		quiet := b.quiet
		b.mu.Unlock()
		if !quiet {
			b.fake.Contract.Verify(t)
		} else if n := b.fake.Contract.Checked(); n != 0 {
			t.Errorf("%d requests reached the fake, want none", n)
		}
	})
	b.baseURL = srv.URL + "/ats"
	b.conn = b.open(t, b.fake.Credentials(b.baseURL), connector.Options{Retry: fastRetry})
	return b
}

func (b *bundle) open(t *testing.T, creds connector.Credentials, opts connector.Options) connector.Connector {
	t.Helper()
	c, err := b.provider.Open(creds, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

func (b *bundle) setOverride(f func(w http.ResponseWriter, r *http.Request) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.override = f
}

// expectNoRequests says the test sends the fake nothing, which the
// bundle then checks instead of the contract.
func (b *bundle) expectNoRequests() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.quiet = true
}

func (b *bundle) noteListRequests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.noteLists
}

// notesPosted counts the note creates sent to the fake, including those
// a fault answered before the fake saw them.
func (b *bundle) notesPosted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notePosts
}

func (b *bundle) counts() (listRequests, maxInFlight int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listRequests, b.maxInFlight
}

// want is the record the connector must make of person i, whose
// application is in its first stage.
func (b *bundle) want(i int) connector.Record {
	p := b.data.Person(i)
	attrs := b.applicationAttributes(i)
	for k, v := range candidateFit(p) {
		attrs[k] = v
	}
	return connector.Record{
		ExternalID:   p.ID,
		FirstName:    p.FirstName,
		LastName:     p.LastName,
		Email:        p.Email,
		Phones:       p.Phones,
		ReferenceIDs: []string{atsfake.JobID(p.Group)},
		Attributes:   attrs,
		CreatedAt:    p.CreatedAt,
		UpdatedAt:    p.UpdatedAt,
	}
}

// applicationAttributes are the attributes person i's record has from the
// application and its job, the application in its first stage: the IDs
// pushback needs, and the source, position and status.
func (b *bundle) applicationAttributes(i int) map[string]any {
	p := b.data.Person(i)
	attrs := map[string]any{
		ats.AttrApplicationID:  atsfake.ApplicationID(b.data, i),
		ats.AttrJobID:          atsfake.JobID(p.Group),
		connector.AttrPosition: atsfake.JobName(p.Group),
		connector.AttrStatus:   "New",
	}
	if p.Source != "" {
		attrs[connector.AttrSource] = p.Source
	}
	return attrs
}

// candidateFit are the fit attributes the candidate gives: title as the
// profession, locations joined by "; ", tags.
func candidateFit(p sandbox.Person) map[string]any {
	fit := map[string]any{}
	if p.Profession != "" {
		fit[connector.AttrProfession] = p.Profession
	}
	if p.City != "" {
		fit[connector.AttrLocation] = p.City
	}
	if len(p.Tags) > 0 {
		fit[connector.AttrTags] = p.Tags
	}
	return fit
}

// wantWhere is the records of the people for which keep is true, in order.
func (b *bundle) wantWhere(keep func(i int) bool) []connector.Record {
	var out []connector.Record
	for i := range b.data.Size {
		if keep(i) {
			out = append(out, b.want(i))
		}
	}
	return out
}

// collect runs a fetch to its end.
func collect(seq iter.Seq2[*connector.Page, error]) (pages []*connector.Page, records []connector.Record, err error) {
	for page, err := range seq {
		if err != nil {
			return pages, records, err
		}
		pages = append(pages, page)
		records = append(records, page.Records...)
	}
	return pages, records, nil
}

func sameRecords(t *testing.T, got, want []connector.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func providers() []connector.Provider { return []connector.Provider{talention.New(), compleet.New()} }

func TestOpen(t *testing.T) {
	t.Parallel()
	valid := func() connector.Credentials {
		return connector.Credentials{"baseURL": "https://ats.example.com/api", "apiKey": "k", "webhookSecret": "whsec_c2VjcmV0"}
	}
	tests := []struct {
		name    string
		edit    func(connector.Credentials)
		wantKey string
	}{
		{"unknown key is refused", func(c connector.Credentials) { c["token"] = "x" }, "token"},
		{"missing apiKey is refused", func(c connector.Credentials) { delete(c, "apiKey") }, "apiKey"},
		{"missing baseURL is refused", func(c connector.Credentials) { delete(c, "baseURL") }, "baseURL"},
		{"baseURL must be http(s)", func(c connector.Credentials) { c["baseURL"] = "ftp://ats.example.com" }, "baseURL"},
		{"baseURL must be absolute", func(c connector.Credentials) { c["baseURL"] = "ats.example.com/api" }, "baseURL"},
		{"baseURL must not carry credentials", func(c connector.Credentials) { c["baseURL"] = "https://u:p@ats.example.com" }, "baseURL"},
		{"apiKey must not contain spaces", func(c connector.Credentials) { c["apiKey"] = "a b" }, "apiKey"},
		{"whsec_ secret must be base64", func(c connector.Credentials) { c["webhookSecret"] = "whsec_***" }, "webhookSecret"},
		{"valid credentials open", func(connector.Credentials) {}, ""},
		{"webhookSecret is optional", func(c connector.Credentials) { delete(c, "webhookSecret") }, ""},
	}
	for _, p := range providers() {
		for _, tt := range tests {
			t.Run(p.Descriptor().Name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				creds := valid()
				tt.edit(creds)
				_, err := p.Open(creds, connector.Options{})
				if tt.wantKey == "" {
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					return
				}
				var ce *connector.CredentialError
				if !errors.As(err, &ce) || ce.Key != tt.wantKey {
					t.Fatalf("Open error = %v, want a CredentialError for %q", err, tt.wantKey)
				}
				if strings.Contains(err.Error(), "a b") || strings.Contains(err.Error(), "***") {
					t.Fatalf("error %q repeats the secret", err)
				}
			})
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		name := p.Descriptor().Name
		t.Run(name+"/valid credentials pass", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			if err := b.conn.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
		t.Run(name+"/wrong API key names provider, status and message", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			creds := b.fake.Credentials(b.baseURL)
			creds["apiKey"] = "wrong-key"
			err := b.open(t, creds, connector.Options{Retry: fastRetry}).Check(context.Background())
			var e *connector.Error
			if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Temporary {
				t.Fatalf("Check error = %v, want a permanent 401 *connector.Error", err)
			}
			msg := err.Error()
			for _, part := range []string{string(p.Descriptor().Key), "401", "invalid or missing API key"} {
				if !strings.Contains(msg, part) {
					t.Fatalf("error %q does not mention %q", msg, part)
				}
			}
			if strings.Contains(msg, "wrong-key") {
				t.Fatalf("error %q repeats the API key", msg)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	const jobs = 23
	b := setup(t, talention.New(), func(c *atsfake.Config) { c.Dataset.Groups = jobs })
	wantJobs := func(search string) []connector.Reference {
		var out []connector.Reference
		for g := range jobs {
			if strings.Contains(strings.ToLower(atsfake.JobName(g)), strings.ToLower(search)) {
				out = append(out, connector.Reference{ExternalID: atsfake.JobID(g), Kind: schematype.ReferenceJob, Name: atsfake.JobName(g)})
			}
		}
		return out
	}
	all := func(t *testing.T, search string, limit int) (refs []connector.Reference, pages int) {
		t.Helper()
		cursor := ""
		for {
			page, err := b.conn.References(context.Background(), connector.ReferenceQuery{Search: search, Cursor: cursor, Limit: limit})
			if err != nil {
				t.Fatalf("References: %v", err)
			}
			refs = append(refs, page.Items...)
			pages++
			if page.NextCursor == "" {
				return refs, pages
			}
			if pages > jobs {
				t.Fatal("References does not end")
			}
			cursor = page.NextCursor
		}
	}
	for _, tt := range []struct {
		name, search string
		limit        int
		wantPages    int
	}{
		{"every job, paged to the end", "", 5, 5},
		{"search is a case-insensitive substring", "PFLEGE", 2, 2},
		{"search with no match is empty", "astronaut", 0, 1},
		{"the default page size is capped by the server", "(m/w/d)", 0, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, pages := all(t, tt.search, tt.limit)
			if want := wantJobs(tt.search); !reflect.DeepEqual(got, want) {
				t.Fatalf("references:\n got %v\nwant %v", got, want)
			}
			if pages != tt.wantPages {
				t.Fatalf("took %d pages, want %d", pages, tt.wantPages)
			}
		})
	}
	t.Run("the search matches three jobs", func(t *testing.T) {
		t.Parallel()
		if n := len(wantJobs("pflege")); n != 3 {
			t.Fatalf("%d jobs match, the test expects 3", n)
		}
	})
}

// errorBody answers in the providers' error shape.
func errorBody(w http.ResponseWriter, status int, msg string) {
	sandbox.WriteJSON(w, status, map[string]string{"status": "error", "message": msg})
}

func must(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
