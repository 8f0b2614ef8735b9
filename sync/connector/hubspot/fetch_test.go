package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// collect runs a fetch to its end.
func collect(seq iter.Seq2[*connector.Page, error]) ([]*connector.Page, error) {
	var pages []*connector.Page
	for page, err := range seq {
		if err != nil {
			return pages, err
		}
		pages = append(pages, page)
	}
	return pages, nil
}

func recordsOf(pages []*connector.Page) []connector.Record {
	var out []connector.Record
	for _, p := range pages {
		out = append(out, p.Records...)
	}
	return out
}

// want is how the connector should read the people at idx, as members of
// list (if not "").
func want(data sandbox.Dataset, list string, idx ...int) []connector.Record {
	var out []connector.Record
	for _, i := range idx {
		p := data.Person(i)
		r := connector.Record{
			ExternalID: p.ID,
			FirstName:  p.FirstName,
			LastName:   p.LastName,
			Email:      p.Email,
			Phones:     p.Phones,
			Attributes: wantFit(p, ""),
			CreatedAt:  p.CreatedAt.Truncate(time.Millisecond),
			UpdatedAt:  p.UpdatedAt.Truncate(time.Millisecond),
		}
		if list != "" {
			r.ReferenceIDs = []string{list}
		}
		out = append(out, r)
	}
	return out
}

// wantFit is the fit attributes of person p, whose hs_lead_status is
// leadStatus: the fake serves jobtitle, company, industry, lifecyclestage,
// city and country from the person.
func wantFit(p sandbox.Person, leadStatus string) map[string]any {
	fit := map[string]any{}
	for k, v := range map[string]string{
		connector.AttrJobTitle: p.Profession, connector.AttrCompany: p.Company, connector.AttrIndustry: p.Industry,
		connector.AttrLifecycleStage: p.LifecycleStage, connector.AttrLeadStatus: leadStatus,
	} {
		if v != "" {
			fit[k] = v
		}
	}
	switch {
	case p.City != "" && p.CountryName != "":
		fit[connector.AttrLocation] = p.City + ", " + p.CountryName
	case p.City != "" || p.CountryName != "":
		fit[connector.AttrLocation] = p.City + p.CountryName
	}
	if len(fit) == 0 {
		return nil
	}
	return fit
}

// span returns the integers in [from, to) that are congruent to rem
// modulo mod (mod 1: all of them).
func span(from, to, mod, rem int) []int {
	var out []int
	for i := from; i < to; i++ {
		if i%mod == rem {
			out = append(out, i)
		}
	}
	return out
}

// checkRecords compares records, times by instant.
func checkRecords(t *testing.T, got, want []connector.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Fatalf("record %d (%s): times %v / %v, want %v / %v", i, g.ExternalID, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
		}
		g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func checkTotals(t *testing.T, pages []*connector.Page, total int) {
	t.Helper()
	for i, p := range pages {
		if p.Total != total || p.Cursor == "" || len(p.Records) == 0 {
			t.Fatalf("page %d: total %d, cursor %q, %d records; want total %d, a cursor and records", i, p.Total, p.Cursor, len(p.Records), total)
		}
	}
}

func talentPool(days int) map[string]any { return map[string]any{"daysSinceLastChange": days} }

func TestFetchNewApplications(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 7, Size: 1000}
	b := setup(t, data)
	ctx := context.Background()

	t.Run("created since a date", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchNewApplications, Since: data.CreatedAt(123)}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if len(pages) != 5 {
			t.Fatalf("%d pages, want 5 of up to 200", len(pages))
		}
		checkTotals(t, pages, 877)
		checkRecords(t, recordsOf(pages), want(data, "", span(123, 1000, 1, 0)...))
	})
	t.Run("from the beginning", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkTotals(t, pages, 1000)
		checkRecords(t, recordsOf(pages), want(data, "", span(0, 1000, 1, 0)...))
	})
	t.Run("nothing new", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{Since: data.CreatedAt(1000)}))
		if err != nil || len(pages) != 0 {
			t.Fatalf("Fetch = %d pages, %v; want none", len(pages), err)
		}
	})
}

func TestFetchTalentPool(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 3, Size: 600, Step: time.Hour}
	b := setup(t, data)
	ctx := context.Background()

	t.Run("modified within the days", func(t *testing.T) {
		t.Parallel()
		from := data.FirstUpdatedAtOrAfter(now.Add(-10 * 24 * time.Hour))
		if from <= 0 || from >= data.Size {
			t.Fatalf("the data set does not straddle the date: first index %d", from)
		}
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: talentPool(10)}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkTotals(t, pages, data.Size-from)
		checkRecords(t, recordsOf(pages), want(data, "", span(from, data.Size, 1, 0)...))
	})
	t.Run("params from JSON", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": float64(3650)}}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkRecords(t, recordsOf(pages), want(data, "", span(0, data.Size, 1, 0)...))
	})
	for _, tc := range []struct {
		name   string
		params map[string]any
		key    string
	}{
		{"days missing", nil, "daysSinceLastChange"},
		{"days zero", talentPool(0), "daysSinceLastChange"},
		{"days too many", talentPool(3651), "daysSinceLastChange"},
		{"days not a number", map[string]any{"daysSinceLastChange": "ten"}, "daysSinceLastChange"},
		{"unknown field", map[string]any{"daysSinceLastChange": 5, "owner": "me"}, "owner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: tc.params}))
			var pe *connector.ParamError
			if !errors.As(err, &pe) || pe.Key != tc.key {
				t.Fatalf("Fetch = %v, want a *ParamError naming %q", err, tc.key)
			}
		})
	}
	t.Run("unknown search type", func(t *testing.T) {
		t.Parallel()
		if _, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: "open_deals"})); err == nil || !strings.Contains(err.Error(), "open_deals") {
			t.Fatalf("Fetch = %v, want an error naming the search type", err)
		}
	})
}

// TestFetchPastSearchCap pages through more contacts than one HubSpot
// search returns. Contacts are 0.3 ms apart and HubSpot dates have
// milliseconds, so several share each createdate, and the 10,000th result
// shares its date with the next ones.
func TestFetchPastSearchCap(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{
		Seed:  5,
		Size:  hubspotfake.SearchResultCap + 700,
		Start: time.Date(2026, 1, 1, 0, 0, 0, int(500*time.Microsecond), time.UTC),
		Step:  300 * time.Microsecond,
	}
	last, next := data.CreatedAt(hubspotfake.SearchResultCap-1), data.CreatedAt(hubspotfake.SearchResultCap)
	if !last.Truncate(time.Millisecond).Equal(next.Truncate(time.Millisecond)) {
		t.Fatal("the 10,000th contact does not share its createdate with the next one")
	}
	b := setup(t, data)
	ctx := context.Background()
	all := want(data, "", span(0, data.Size, 1, 0)...)

	pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{}))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkTotals(t, pages, data.Size)
	checkRecords(t, recordsOf(pages), all)

	// Resuming at the cap, just after it and at the end.
	for _, k := range []int{49, 50, len(pages) - 1} {
		t.Run(fmt.Sprintf("resume after page %d", k), func(t *testing.T) {
			t.Parallel()
			rest, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{Cursor: pages[k].Cursor}))
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			checkTotals(t, rest, data.Size)
			checkRecords(t, recordsOf(rest), all[len(recordsOf(pages[:k+1])):])
		})
	}
}

func TestFetchTooManyContactsAtOneDate(t *testing.T) {
	t.Parallel()
	// Every contact is created within the same millisecond.
	data := sandbox.Dataset{Seed: 1, Size: hubspotfake.SearchResultCap + 1, Step: time.Nanosecond}
	b := setup(t, data)
	pages, err := collect(b.conn.Fetch(context.Background(), connector.FetchRequest{}))
	if err == nil || !strings.Contains(err.Error(), "more than 10000 contacts have the same createdate") {
		t.Fatalf("Fetch = %v, want an error about too many contacts at one date", err)
	}
	if n := len(recordsOf(pages)); n != hubspotfake.SearchResultCap {
		t.Fatalf("%d records before the error, want %d", n, hubspotfake.SearchResultCap)
	}
}

func TestFetchLists(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 9, Size: 1000, Groups: 5, Step: time.Hour}
	b := setup(t, data)
	ctx := context.Background()
	list1, list3 := hubspotfake.ListID(1), hubspotfake.ListID(3)
	refs := []connector.Reference{
		{ExternalID: list1, Kind: schematype.ReferenceList},
		{ExternalID: list3, Kind: schematype.ReferenceSegment},
		{ExternalID: list1, Kind: schematype.ReferenceList},
	}

	t.Run("new applications of the lists", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{References: refs, Since: data.CreatedAt(500)}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkTotals(t, pages, -1)
		checkRecords(t, recordsOf(pages), append(want(data, list1, span(500, 1000, 5, 1)...), want(data, list3, span(500, 1000, 5, 3)...)...))
	})
	t.Run("talent pool of a list", func(t *testing.T) {
		t.Parallel()
		from := data.FirstUpdatedAtOrAfter(now.Add(-20 * 24 * time.Hour))
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: talentPool(20), References: refs[1:2]}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkTotals(t, pages, -1)
		checkRecords(t, recordsOf(pages), want(data, list3, span(from, 1000, 5, 3)...))
	})
	t.Run("unknown list", func(t *testing.T) {
		t.Parallel()
		_, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{References: []connector.Reference{{ExternalID: "999", Kind: schematype.ReferenceList}}}))
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "List 999 does not exist.") {
			t.Fatalf("Fetch = %v, want a 404 naming the list", err)
		}
	})
	for _, tc := range []struct {
		name string
		ref  connector.Reference
	}{
		{"reference of another kind", connector.Reference{ExternalID: "1", Kind: schematype.ReferenceJob}},
		{"list ID that is not an ID", connector.Reference{ExternalID: "../contacts", Kind: schematype.ReferenceList}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{References: []connector.Reference{tc.ref}})); err == nil || !strings.Contains(err.Error(), tc.ref.ExternalID) {
				t.Fatalf("Fetch = %v, want an error naming the reference", err)
			}
		})
	}
}

func TestFetchResume(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 11, Size: 1000, Groups: 5}
	b := setup(t, data)
	ctx := context.Background()
	lists := []connector.Reference{{ExternalID: hubspotfake.ListID(0), Kind: schematype.ReferenceList}, {ExternalID: hubspotfake.ListID(4), Kind: schematype.ReferenceList}}

	for _, tc := range []struct {
		name string
		req  connector.FetchRequest
	}{
		{"search", connector.FetchRequest{Since: data.CreatedAt(50)}},
		{"talent pool", connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: talentPool(3650)}},
		{"lists", connector.FetchRequest{References: lists}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pages, err := collect(b.conn.Fetch(ctx, tc.req))
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if len(pages) < 3 {
				t.Fatalf("only %d pages", len(pages))
			}
			all := recordsOf(pages)
			for k := range pages {
				req := tc.req
				req.Cursor = pages[k].Cursor
				rest, err := collect(b.conn.Fetch(ctx, req))
				if err != nil {
					t.Fatalf("resuming after page %d: %v", k, err)
				}
				checkRecords(t, recordsOf(rest), all[len(recordsOf(pages[:k+1])):])
			}
		})
	}
	t.Run("cursor of another search", func(t *testing.T) {
		t.Parallel()
		pages, err := collect(b.conn.Fetch(ctx, connector.FetchRequest{}))
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for _, req := range []connector.FetchRequest{
			{SearchType: connector.SearchTalentPool, Params: talentPool(5), Cursor: pages[0].Cursor},
			{References: lists, Cursor: pages[0].Cursor},
			{Cursor: "not a cursor"},
		} {
			if _, err := collect(b.conn.Fetch(ctx, req)); err == nil || !strings.Contains(err.Error(), "cursor") {
				t.Errorf("Fetch(%+v) = %v, want a cursor error", req, err)
			}
		}
	})
}

func TestFetchStops(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 2, Size: 1000}

	t.Run("when the consumer breaks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		for range b.conn.Fetch(context.Background(), connector.FetchRequest{}) {
			break
		}
		if got := b.requests(); len(got) != 1 {
			t.Fatalf("requests after breaking = %v, want the first search only", got)
		}
	})
	t.Run("when the context is cancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pages int
		var last error
		for page, err := range b.conn.Fetch(ctx, connector.FetchRequest{}) {
			if err != nil {
				last = err
				continue
			}
			pages++
			if page != nil {
				cancel()
			}
		}
		if pages != 1 || !errors.Is(last, context.Canceled) {
			t.Fatalf("%d pages then %v, want 1 page then context.Canceled", pages, last)
		}
		if got := b.requests(); len(got) != 1 {
			t.Fatalf("requests = %v, want 1", got)
		}
	})
}

func TestFetchFaults(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 4, Size: 450, Groups: 2}
	lists := []connector.Reference{{ExternalID: hubspotfake.ListID(1), Kind: schematype.ReferenceList}}

	for _, tc := range []struct {
		fault sandbox.Fault
		retry connector.RetryPolicy
	}{
		{fault: sandbox.RateLimit},
		{fault: sandbox.ServerError},
		{fault: sandbox.Malformed},
		{fault: sandbox.Slow, retry: connector.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 100 * time.Millisecond}},
	} {
		t.Run(tc.fault.String()+" then success", func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, data, options{retry: tc.retry})
			b.fake.Faults.SetRetryAfter(0)
			b.fake.Faults.SetSlowDelay(time.Minute)

			b.fake.Faults.Next(tc.fault, tc.fault)
			pages, err := collect(b.conn.Fetch(context.Background(), connector.FetchRequest{}))
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			checkRecords(t, recordsOf(pages), want(data, "", span(0, data.Size, 1, 0)...))

			// Faults on the memberships and the batch read.
			b.fake.Faults.Next(tc.fault, sandbox.NoFault, tc.fault)
			pages, err = collect(b.conn.Fetch(context.Background(), connector.FetchRequest{References: lists}))
			if err != nil {
				t.Fatalf("Fetch lists: %v", err)
			}
			checkRecords(t, recordsOf(pages), want(data, lists[0].ExternalID, span(0, data.Size, 2, 1)...))
			if n := b.fake.Faults.Injected()[tc.fault]; n != 4 {
				t.Fatalf("%d faults injected, want 4", n)
			}
		})
	}
	t.Run("Retry-After is waited for", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRetryAfter(time.Second)
		b.fake.Faults.Next(sandbox.RateLimit)
		if err := b.conn.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if n := len(b.requests()); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
	t.Run("persistent server errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		_, err := collect(b.conn.Fetch(context.Background(), connector.FetchRequest{}))
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusInternalServerError || !e.Temporary {
			t.Fatalf("Fetch = %v, want a temporary 500", err)
		}
		for _, s := range []string{"HUBSPOT", "POST /crm/v3/objects/contacts/search", "HTTP 500", "internal error (injected by the sandbox)"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not contain %q", err, s)
			}
		}
		if n := len(b.requests()); n != fastRetry.MaxAttempts {
			t.Fatalf("%d attempts, want %d", n, fastRetry.MaxAttempts)
		}
	})
	t.Run("persistent rate limit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRetryAfter(0)
		b.fake.Faults.SetRate(sandbox.RateLimit, 1)
		err := b.conn.Check(context.Background())
		if _, limited := connector.IsRateLimited(err); !limited || !strings.Contains(err.Error(), "RATE_LIMIT, TEN_SECONDLY_ROLLING") {
			t.Fatalf("Check = %v, want a rate limit error", err)
		}
	})
	t.Run("persistent malformed responses", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRate(sandbox.Malformed, 1)
		_, err := collect(b.conn.Fetch(context.Background(), connector.FetchRequest{References: lists}))
		if err == nil || !strings.Contains(err.Error(), "malformed JSON response") || !strings.Contains(err.Error(), "list "+lists[0].ExternalID) {
			t.Fatalf("Fetch = %v, want a malformed JSON error naming the list", err)
		}
	})
}
