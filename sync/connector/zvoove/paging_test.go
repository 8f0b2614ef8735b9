package zvoove_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// pagingModes are every reading of what zvoove's documents leave open:
// the PageNumber base, whether the array lists page at all, and the
// tenant's change-log page size.
func pagingModes() []zvoovefake.Config {
	var out []zvoovefake.Config
	for _, base := range []int{0, 1} {
		for _, unpaged := range []bool{false, true} {
			for _, onPrem := range []bool{false, true} {
				out = append(out, zvoovefake.Config{PageBase: base, UnpagedLists: unpaged, OnPrem: onPrem})
			}
		}
	}
	return out
}

func modeName(c zvoovefake.Config) string {
	s := fmt.Sprintf("base %d", c.PageBase)
	if c.UnpagedLists {
		s += " unpaged"
	}
	if c.OnPrem {
		s += " on-prem"
	}
	return s
}

// forModes runs f for every mode, with a fake of size people in groups
// offices.
func forModes(t *testing.T, size, groups int, f func(t *testing.T, b *bundle)) {
	for _, m := range pagingModes() {
		t.Run(modeName(m)+fmt.Sprintf(" %d people %d offices", size, groups), func(t *testing.T) {
			t.Parallel()
			m.Dataset = sandbox.Dataset{Seed: 4, Size: size, Groups: groups, Step: time.Hour}
			f(t, setupWith(t, m))
		})
	}
}

// ids lists the external IDs of records.
func ids(recs []connector.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ExternalID
	}
	return out
}

// checkResumes checks that a fetch resumed from each page's cursor yields
// exactly the records of the pages after it.
func checkResumes(t *testing.T, b *bundle, req connector.FetchRequest, pages []*connector.Page) {
	t.Helper()
	for k, p := range pages {
		req := req
		req.Cursor = p.Cursor
		if got, want := ids(records(collect(t, b.conn, req))), ids(records(pages[k+1:])); !slices.Equal(got, want) {
			t.Fatalf("resumed after page %d of %d: %v, want %v", k, len(pages), got, want)
		}
	}
}

func TestReferencesEveryMode(t *testing.T) {
	t.Parallel()
	// One office; exactly one full page of the 100 asked; several pages.
	for _, groups := range []int{1, 100, 230} {
		forModes(t, groups, groups, func(t *testing.T, b *bundle) {
			var got []string
			q := connector.ReferenceQuery{Limit: 7}
			for range 100 {
				p, err := b.conn.References(context.Background(), q)
				if err != nil {
					t.Fatalf("References: %v", err)
				}
				for _, r := range p.Items {
					got = append(got, r.ExternalID)
				}
				if p.NextCursor == "" {
					break
				}
				q.Cursor = p.NextCursor
			}
			var want []string
			for g := range groups {
				want = append(want, strconv.Itoa(zvoovefake.OfficeID(g)))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d offices listed, want each of %d once: %v", len(got), groups, got)
			}
			// The whole list in one page, and no more.
			p, err := b.conn.References(context.Background(), connector.ReferenceQuery{Limit: 100})
			if err != nil || len(p.Items) != min(groups, 100) || (groups > 100) != (p.NextCursor != "") {
				t.Fatalf("one page of 100: %d items, next %q, error %v", len(p.Items), p.NextCursor, err)
			}
			if _, err := b.conn.References(context.Background(), connector.ReferenceQuery{Cursor: "-3"}); err == nil {
				t.Fatal("no error for a negative cursor")
			}
		})
	}
}

func TestNewApplicationsEveryMode(t *testing.T) {
	t.Parallel()
	// Fewer than a page (10), exactly one page of the 50 asked per office
	// set, and a count that is no multiple of any page size.
	for _, n := range []int{10, 50, 137} {
		forModes(t, n, 1, func(t *testing.T, b *bundle) {
			req := connector.FetchRequest{}
			pages := collect(t, b.conn, req)
			assertRecords(t, records(pages), expected(b.data, 0, func(int) bool { return true }))
			checkResumes(t, b, req, pages)
		})
	}
	forModes(t, 137, 3, func(t *testing.T, b *bundle) {
		req := connector.FetchRequest{Since: b.data.CreatedAt(30).Add(time.Minute), References: []connector.Reference{office(0), office(2)}}
		pages := collect(t, b.conn, req)
		assertRecords(t, records(pages), expected(b.data, 31, inGroups(b.data, 0, 2)))
		checkResumes(t, b, req, pages)
	})
}

var talentPool = connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 3650}}

func TestTalentPoolEveryMode(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 20, 137} {
		forModes(t, n, 2, func(t *testing.T, b *bundle) {
			pages := collect(t, b.conn, talentPool)
			assertRecords(t, records(pages), expectedPool(b.data, 0, all))
			for _, p := range pages {
				if p.Total != n {
					t.Fatalf("page total %d, want %d", p.Total, n)
				}
			}
			checkResumes(t, b, talentPool, pages)
		})
	}
}

// The connector learns the on-premises page size once: one 400, then 10.
func TestTalentPoolOnPremLearnsPageSize(t *testing.T) {
	t.Parallel()
	b := setupWith(t, zvoovefake.Config{OnPrem: true, Dataset: sandbox.Dataset{Seed: 4, Size: 45, Groups: 2, Step: time.Hour}})
	var refused, asked atomic.Int32
	f := func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/changelog") {
			asked.Add(1)
			if r.URL.Query().Get("PageSize") != "10" {
				refused.Add(1)
			}
		}
		return false
	}
	b.intercept.Store(&f)
	for range 2 {
		assertRecords(t, records(collect(t, b.conn, talentPool)), expectedPool(b.data, 0, all))
	}
	if refused.Load() != 1 || asked.Load() != 1+2*5 {
		t.Fatalf("%d requests with PageSize above 10, %d in all; want 1 and 11", refused.Load(), asked.Load())
	}
}

// Changes made while the change log is walked lose no candidate and
// repeat none but the touched ones, whose newer change comes at the end.
func TestTalentPoolConcurrentChanges(t *testing.T) {
	t.Parallel()
	forModes(t, 137, 2, func(t *testing.T, b *bundle) {
		var n atomic.Int32
		touched := []int{3, 60, 120} // read before the touch, and not yet
		f := func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/changelog") && n.Add(1) == 3 {
				for _, i := range touched {
					b.fake.Touch(i)
				}
			}
			return false
		}
		b.intercept.Store(&f)
		got := map[string]int{}
		for _, r := range records(collect(t, b.conn, talentPool)) {
			got[r.ExternalID]++
		}
		for i := range b.data.Size {
			id := b.data.ExternalID(i)
			switch {
			case slices.Contains(touched, i):
				if got[id] < 1 || got[id] > 2 {
					t.Errorf("touched person %d read %d times", i, got[id])
				}
			case got[id] != 1:
				t.Errorf("person %d read %d times, want once (a removed one as gone)", i, got[id])
			}
		}
		if got[b.data.ExternalID(3)] != 2 {
			t.Errorf("person 3, read before its change, read %d times, want again for the change", got[b.data.ExternalID(3)])
		}
	})
}

// A change log out of ID order cannot be walked by keyset: the connector
// reads the same query by numbered pages instead, in the reported base.
func TestTalentPoolOutOfOrderFallsBackToPages(t *testing.T) {
	t.Parallel()
	for _, base := range []int{0, 1} {
		t.Run(fmt.Sprintf("base %d", base), func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, zvoovefake.Config{PageBase: base, Dataset: sandbox.Dataset{Seed: 4, Size: 137, Groups: 2, Step: time.Hour}})
			h := http.StripPrefix("/zvoove", b.fake.Handler())
			var lastID atomic.Int32
			f := func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/changelog") {
					return false
				}
				if r.URL.Query().Has("LastId") {
					lastID.Add(1)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				var page struct {
					Metadata json.RawMessage   `json:"metadata"`
					Data     []json.RawMessage `json:"data"`
				}
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
					w.WriteHeader(rec.Code)
					w.Write(rec.Body.Bytes())
					return true
				}
				slices.Reverse(page.Data)
				var buf bytes.Buffer
				json.NewEncoder(&buf).Encode(page)
				sandbox.WriteJSON(w, http.StatusOK, json.RawMessage(buf.Bytes()))
				return true
			}
			b.intercept.Store(&f)
			pages := collect(t, b.conn, talentPool)
			got := ids(records(pages))
			want := ids(expectedPool(b.data, 0, all))
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%d records, want each of %d once", len(got), len(want))
			}
			if lastID.Load() != 0 {
				t.Fatalf("%d keyset requests on a log out of order", lastID.Load())
			}
			checkResumes(t, b, talentPool, pages)
		})
	}
}
