package hubspot_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// fastRetry keeps retries quick; tests change single fields where needed.
var fastRetry = connector.RetryPolicy{
	MaxAttempts:    4,
	BaseDelay:      time.Millisecond,
	MaxDelay:       5 * time.Millisecond,
	MaxRetryAfter:  2 * time.Second,
	AttemptTimeout: 5 * time.Second,
}

// now is the connector's clock in every test.
var now = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

type bundle struct {
	data sandbox.Dataset
	fake *hubspotfake.Server
	srv  *httptest.Server
	base string // the fake's base URL, under a path prefix
	conn connector.Connector

	// sendsNothing is set by tests that check that nothing was sent, and
	// so have no traffic for the contract check.
	sendsNothing bool

	mu   sync.Mutex
	reqs []string // "METHOD /path" of every request the fake received
}

// requests returns what the fake received so far.
func (b *bundle) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

type options struct {
	retry connector.RetryPolicy
	creds func(connector.Credentials)
}

// setup serves a fake of data under /hubspot on loopback and opens a
// connector to it.
func setup(t *testing.T, data sandbox.Dataset) *bundle {
	return setupWith(t, data, options{})
}

func setupWith(t *testing.T, data sandbox.Dataset, o options) *bundle {
	t.Helper()
	b := &bundle{data: data, fake: hubspotfake.New(hubspotfake.Config{Dataset: data, Now: func() time.Time { return now }})}
	mux := http.NewServeMux()
	mux.Handle("/hubspot/", http.StripPrefix("/hubspot", b.fake.Handler()))
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/hubspot"))
		b.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	// Every request the connector sent and every answer the fake gave must
	// agree with what HubSpot documents. Cleanups run last in, first out:
	// this one runs before the server closes, after the test's subtests.
	t.Cleanup(func() {
		if !b.sendsNothing {
			b.fake.Contract.Verify(t)
		}
	})
	b.base = b.srv.URL + "/hubspot"
	creds := b.fake.Credentials(b.base)
	if o.creds != nil {
		o.creds(creds)
	}
	retry := o.retry
	if retry == (connector.RetryPolicy{}) {
		retry = fastRetry
	}
	conn, err := hubspot.New().Open(creds, connector.Options{Retry: retry, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b.conn = conn
	return b
}

func TestDescriptor(t *testing.T) {
	t.Parallel()
	d := hubspot.New().Descriptor()
	if d.Key != schematype.ProviderHubSpot || d.Name != "HubSpot" || !d.SupportsPushback || !d.SupportsStatusMapping || !d.SupportsWebhooks {
		t.Fatalf("descriptor = %+v", d)
	}
	if def := d.DefaultSearchType(); def.Key != connector.SearchNewApplications || def.Name != "Default - New Applications" || len(def.Fields) != 0 {
		t.Fatalf("default search type = %+v", def)
	}
	st, ok := d.SearchType(connector.SearchTalentPool)
	if !ok || st.Name != "Talent Pool Research" || len(st.Fields) != 1 {
		t.Fatalf("talent pool search type = %+v", st)
	}
	f := st.Fields[0]
	if f.Key != "daysSinceLastChange" || f.Label != "Days since last change" || f.Type != schematype.FieldInt || !f.Required || *f.Min != 1 || *f.Max != 3650 {
		t.Fatalf("daysSinceLastChange = %+v", f)
	}
	if !reflect.DeepEqual(d.ReferenceKinds, []schematype.ReferenceKind{schematype.ReferenceList}) {
		t.Fatalf("reference kinds = %v", d.ReferenceKinds)
	}
	if !reflect.DeepEqual(d.CredentialKeys, []string{"accessToken", "baseURL", "webhookSecret"}) {
		t.Fatalf("credential keys = %v", d.CredentialKeys)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		creds connector.Credentials
		key   string // the key the *CredentialError names; "" = no error
	}{
		{"unknown key", connector.Credentials{"accessToken": "t", "apiKey": "k"}, "apiKey"},
		{"missing access token", connector.Credentials{"baseURL": "https://api.hubapi.com"}, "accessToken"},
		{"empty access token", connector.Credentials{"accessToken": ""}, "accessToken"},
		{"access token with a newline", connector.Credentials{"accessToken": "t\nX-Evil: 1"}, "accessToken"},
		{"base URL not http", connector.Credentials{"accessToken": "t", "baseURL": "ftp://api.hubapi.com"}, "baseURL"},
		{"base URL with credentials", connector.Credentials{"accessToken": "t", "baseURL": "https://u:p@api.hubapi.com"}, "baseURL"},
		{"base URL relative", connector.Credentials{"accessToken": "t", "baseURL": "api.hubapi.com"}, "baseURL"},
		{"default base URL", connector.Credentials{"accessToken": "t"}, ""},
		{"every key", connector.Credentials{"accessToken": "t", "baseURL": "http://127.0.0.1:1/x", "webhookSecret": "s"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := hubspot.New().Open(tc.creds, connector.Options{})
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			var ce *connector.CredentialError
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("Open = %v, want a *CredentialError naming %q", err, tc.key)
			}
			if strings.Contains(err.Error(), "X-Evil") {
				t.Fatalf("error %q repeats the credential", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("valid token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
		if err := b.conn.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got := b.requests(); !reflect.DeepEqual(got, []string{"GET /crm/v3/objects/contacts"}) {
			t.Fatalf("requests = %v", got)
		}
	})
	t.Run("wrong token is a clear 401", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, sandbox.Dataset{Seed: 1, Size: 10}, options{creds: func(c connector.Credentials) { c["accessToken"] = "wrong-token" }})
		err := b.conn.Check(context.Background())
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Temporary {
			t.Fatalf("Check = %#v, want a permanent 401 *connector.Error", err)
		}
		for _, want := range []string{"HUBSPOT", "HTTP 401", "The access token is invalid or has expired.", "INVALID_AUTHENTICATION"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "wrong-token") {
			t.Errorf("error %q repeats the token", err)
		}
		if n := len(b.requests()); n != 1 {
			t.Errorf("a 401 was tried %d times, want once", n)
		}
	})
}

func TestReferences(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 100, Groups: 7})
	ctx := context.Background()

	t.Run("pages to the end", func(t *testing.T) {
		t.Parallel()
		var got []connector.Reference
		cursor, pages := "", 0
		for {
			page, err := b.conn.References(ctx, connector.ReferenceQuery{Cursor: cursor, Limit: 3})
			if err != nil {
				t.Fatalf("References: %v", err)
			}
			pages++
			got = append(got, page.Items...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		var want []connector.Reference
		for g := range 7 {
			want = append(want, connector.Reference{ExternalID: hubspotfake.ListID(g), Kind: schematype.ReferenceList, Name: hubspotfake.ListName(g)})
		}
		if pages != 3 || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d pages of %v, want 3 pages of %v", pages, got, want)
		}
	})
	t.Run("search by name", func(t *testing.T) {
		t.Parallel()
		page, err := b.conn.References(ctx, connector.ReferenceQuery{Search: "STAFF"})
		if err != nil {
			t.Fatalf("References: %v", err)
		}
		want := []connector.Reference{
			{ExternalID: hubspotfake.ListID(2), Kind: schematype.ReferenceList, Name: "Nursing staff"},
			{ExternalID: hubspotfake.ListID(4), Kind: schematype.ReferenceList, Name: "Event staff"},
		}
		if !reflect.DeepEqual(page.Items, want) || page.NextCursor != "" {
			t.Fatalf("page = %+v, want %v", page, want)
		}
	})
	t.Run("no match", func(t *testing.T) {
		t.Parallel()
		page, err := b.conn.References(ctx, connector.ReferenceQuery{Search: "no such list"})
		if err != nil || len(page.Items) != 0 || page.NextCursor != "" {
			t.Fatalf("References = %+v, %v; want an empty last page", page, err)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		t.Parallel()
		if _, err := b.conn.References(ctx, connector.ReferenceQuery{Cursor: "-4"}); err == nil {
			t.Fatal("References accepted a bad cursor")
		}
	})
}
