package server_test

import (
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestPageCounts: a connection's totalCount and pageInfo are those of
// every row the query matches, for every kind of page; a page that holds
// every row is counted without a count query, and any other page with one.
func TestPageCounts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "page-counts", schematype.RoleAdmin))
		org := isoOrgID(t, admin)
		for _, name := range []string{"alpha one", "beta two", "gamma one"} {
			isoCreateCampaign(t, admin, name)
		}
		isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
		for _, phone := range []string{"+4915199887701", "+4915199887702"} {
			admin.MustDo(t, `mutation($p: String!) { addDoNotCall(phone: $p) { id } }`, map[string]any{"p": phone}, &struct{}{})
		}
		queries := orgQueries(app, org)

		type page struct {
			TotalCount int
			Total      int // totalCount under an alias
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				EndCursor                    *string
			}
			Edges []struct{ Node struct{ ID string } }
		}
		// ask runs a query whose root field (aliased c) is a connection,
		// and returns it and the number of queries it cost.
		ask := func(query string, vars map[string]any) (page, int64) {
			t.Helper()
			var got struct{ C page }
			before := queries.Load()
			admin.MustDo(t, query, vars, &got)
			return got.C, queries.Load() - before
		}
		const fields = `totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id } }`
		first, _ := ask(`{ c: campaigns(first: 2) { `+fields+` } }`, nil)

		for _, tc := range []struct {
			name      string
			query     string
			vars      map[string]any
			total     int
			edges     int
			next, prv bool
			queries   int64 // the page's and, unless it holds every row, the count's
		}{
			{"a first page holding every row", `{ c: campaigns(first: 5) { ` + fields + ` } }`, nil, 3, 3, false, false, 1},
			{"a first page of fewer", `{ c: campaigns(first: 2) { ` + fields + ` } }`, nil, 3, 2, true, false, 2},
			{"the page after a cursor", `query($after: Cursor) { c: campaigns(first: 2, after: $after) { ` + fields + ` } }`,
				map[string]any{"after": *first.PageInfo.EndCursor}, 3, 1, false, true, 2},
			{"a last page holding every row", `{ c: campaigns(last: 5) { ` + fields + ` } }`, nil, 3, 3, false, false, 1},
			{"a last page of fewer", `{ c: campaigns(last: 2) { ` + fields + ` } }`, nil, 3, 2, false, true, 2},
			{"no first or last", `{ c: campaigns { ` + fields + ` } }`, nil, 3, 3, false, false, 1},
			{"first 0: counted, not fetched", `{ c: campaigns(first: 0) { ` + fields + ` } }`, nil, 3, 0, true, false, 1},
			{"totalCount alone: counted, not fetched", `{ c: campaigns(first: 5) { totalCount } }`, nil, 3, 0, false, false, 1},
			{"a filter, every row", `{ c: campaigns(first: 5, where: {nameContains: "one"}) { ` + fields + ` } }`, nil, 2, 2, false, false, 1},
			{"a filter, a full page of every row", `{ c: campaigns(first: 1, where: {nameContainsFold: "ALPHA"}) { ` + fields + ` } }`, nil, 1, 1, false, false, 1},
			{"a filter, a page of fewer", `{ c: campaigns(first: 1, where: {nameContains: "one"}) { ` + fields + ` } }`, nil, 2, 1, true, false, 2},
			{"pageInfo without totalCount: not counted", `{ c: campaigns(first: 2) { pageInfo { hasNextPage hasPreviousPage } edges { node { id } } } }`, nil, 0, 2, true, false, 1},
			{"totalCount under an alias", `{ c: campaigns(first: 2) { total: totalCount edges { node { id } } } }`, nil, 3, 2, false, false, 2},
			{"totalCount in a fragment", `{ c: campaigns(first: 2) { ...on CampaignConnection { totalCount } edges { node { id } } } }`, nil, 3, 2, false, false, 2},
			{"integrations, every row", `{ c: integrations(first: 5) { ` + fields + ` } }`, nil, 1, 1, false, false, 1},
			{"integrations, a full page of every row", `{ c: integrations(first: 1, where: {nameContains: "Tal"}) { ` + fields + ` } }`, nil, 1, 1, false, false, 1},
			{"do-not-call numbers, every row", `{ c: doNotCallNumbers(first: 5) { ` + fields + ` } }`, nil, 2, 2, false, false, 1},
			{"do-not-call numbers, a page of fewer", `{ c: doNotCallNumbers(first: 1) { ` + fields + ` } }`, nil, 2, 1, true, false, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n := ask(tc.query, tc.vars)
				total := got.TotalCount
				if got.Total != 0 {
					total = got.Total
				}
				if total != tc.total || len(got.Edges) != tc.edges ||
					got.PageInfo.HasNextPage != tc.next || got.PageInfo.HasPreviousPage != tc.prv {
					t.Errorf("totalCount %d, %d edges, hasNextPage %v, hasPreviousPage %v; want %d, %d, %v, %v",
						total, len(got.Edges), got.PageInfo.HasNextPage, got.PageInfo.HasPreviousPage,
						tc.total, tc.edges, tc.next, tc.prv)
				}
				if n != tc.queries {
					t.Errorf("%d queries, want %d", n, tc.queries)
				}
			})
		}
	})
}
