package hubspot_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
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

var digitRun = regexp.MustCompile(`[0-9]{4}`)

// assertNoContactData fails when a fit attribute holds a phone number, an
// e-mail address or a name of the person.
func assertNoContactData(t *testing.T, p sandbox.Person, r connector.Record) {
	t.Helper()
	for k, v := range connector.FitOf(r.Attributes) {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("record %s: fit attribute %s = %#v is not a string", r.ExternalID, k, v)
		}
		if strings.Contains(s, "@") || digitRun.MatchString(s) || strings.Contains(s, p.FirstName) || strings.Contains(s, p.LastName) {
			t.Fatalf("record %s: fit attribute %s = %q holds contact data", r.ExternalID, k, s)
		}
	}
}

func TestFetchFitAttributes(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 5, Size: 60, Groups: 3, Step: time.Hour}
	b := setup(t, data)
	ctx := context.Background()

	// The lead status the pushback sets is read back.
	status := hubspotfake.LeadStatuses[6]
	err := b.conn.Push(ctx, connector.PushRequest{
		Key: "fit-1", Contact: connector.ContactRef{ExternalID: data.ExternalID(3)},
		Outcome: schematype.OutcomeSuccess, CalledAt: now, MappedStatus: status,
	})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	lead := func(i int) string {
		if i == 3 {
			return status
		}
		return ""
	}
	check := func(t *testing.T, got []connector.Record) {
		t.Helper()
		seen := 0
		for _, r := range got {
			i, _ := data.IndexOf(r.ExternalID)
			p := data.Person(i)
			if fit := connector.FitOf(r.Attributes); !reflect.DeepEqual(fit, wantFit(p, lead(i))) || len(fit) != len(r.Attributes) {
				t.Fatalf("record %d: attributes %v, want the fit attributes %v", i, r.Attributes, wantFit(p, lead(i)))
			}
			assertNoContactData(t, p, r)
			switch i {
			case 3:
				seen++
				if r.Attributes[connector.AttrLeadStatus] != status {
					t.Fatalf("record 3: lead status %v, want %s", r.Attributes[connector.AttrLeadStatus], status)
				}
			case 14: // no city
				seen++
				if r.Attributes[connector.AttrLocation] != p.CountryName {
					t.Fatalf("record 14: location %v, want the country alone", r.Attributes[connector.AttrLocation])
				}
			case 29: // no profession, company or industry
				seen++
				for _, k := range []string{connector.AttrJobTitle, connector.AttrCompany, connector.AttrIndustry} {
					if _, ok := r.Attributes[k]; ok {
						t.Fatalf("record 29: attributes %v have %s", r.Attributes, k)
					}
				}
			case 0:
				seen++
				want := map[string]any{
					connector.AttrJobTitle: p.Profession, connector.AttrCompany: p.Company, connector.AttrIndustry: p.Industry,
					connector.AttrLifecycleStage: p.LifecycleStage, connector.AttrLocation: p.City + ", " + p.CountryName,
				}
				if !reflect.DeepEqual(r.Attributes, want) {
					t.Fatalf("record 0: attributes %v, want %v", r.Attributes, want)
				}
			}
		}
		if seen != 4 {
			t.Fatalf("%d of the records 0, 3, 14 and 29 were checked", seen)
		}
	}
	t.Run("search", func(t *testing.T) {
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		check(t, recordsOf(pages))
	})
	t.Run("lists", func(t *testing.T) {
		var refs []connector.Reference
		for g := range data.Groups {
			refs = append(refs, connector.Reference{ExternalID: hubspotfake.ListID(g), Kind: schematype.ReferenceList})
		}
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{References: refs}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		check(t, recordsOf(pages))
	})
}

// The connector asks for the fit properties in the search and the batch
// read, and makes the location of city and country, either alone.
func TestFitProperties(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		asked = map[string][]string{}
	)
	contacts := `[
		{"id":"1","properties":{"createdate":"2026-01-01T00:00:00Z","lastmodifieddate":"2026-01-01T00:00:00Z","jobtitle":"Welder","company":" ","industry":null,"city":"Graz","country":null,"lifecyclestage":"lead","hs_lead_status":"NEW"}},
		{"id":"2","properties":{"createdate":"2026-01-01T00:00:00Z","lastmodifieddate":"2026-01-01T00:00:00Z","city":"","country":"Austria"}},
		{"id":"3","properties":{"createdate":"2026-01-01T00:00:00Z","lastmodifieddate":"2026-01-01T00:00:00Z"}}]`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Properties []string `json:"properties"`
		}
		_ = json.Unmarshal(body, &req)
		mu.Lock()
		asked[r.URL.Path] = req.Properties
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/crm/v3/objects/contacts/search":
			_, _ = w.Write([]byte(`{"total":3,"results":` + contacts + `}`))
		case "/crm/v3/lists/7/memberships":
			_, _ = w.Write([]byte(`{"results":[{"recordId":"1"},{"recordId":"2"},{"recordId":"3"}]}`))
		case "/crm/v3/objects/contacts/batch/read":
			_, _ = w.Write([]byte(`{"status":"COMPLETE","results":` + contacts + `}`))
		case "/crm/v3/objects/contacts": // the archived contacts: none
			_, _ = w.Write([]byte(`{"results":[]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":"error","message":"not found","correlationId":"x"}`))
		}
	}))
	defer srv.Close()
	conn, err := hubspot.New().Open(connector.Credentials{"baseURL": srv.URL, "accessToken": "t"}, connector.Options{Retry: fastRetry})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := []map[string]any{
		{connector.AttrJobTitle: "Welder", connector.AttrLocation: "Graz", connector.AttrLifecycleStage: "lead", connector.AttrLeadStatus: "NEW"},
		{connector.AttrLocation: "Austria"},
		nil,
	}
	for _, req := range []connector.FetchRequest{{}, {References: []connector.Reference{{ExternalID: "7", Kind: schematype.ReferenceList}}}} {
		pages, err := collect(conn.Fetch(context.Background(), req))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		got := recordsOf(pages)
		if len(got) != len(want) {
			t.Fatalf("%d records, want %d", len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i].Attributes, want[i]) {
				t.Fatalf("record %d: attributes %v, want %v", i, got[i].Attributes, want[i])
			}
		}
	}
	for _, path := range []string{"/crm/v3/objects/contacts/search", "/crm/v3/objects/contacts/batch/read"} {
		for _, p := range []string{"jobtitle", "company", "industry", "lifecyclestage", "hs_lead_status", "city", "country"} {
			if !slices.Contains(asked[path], p) {
				t.Fatalf("%s asked for %v, without %s", path, asked[path], p)
			}
		}
	}
}
