package server_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// Helpers shared by the configuration API tests (campaigns_test.go,
// integrations_test.go, triggers_test.go) are prefixed with cfg so they
// cannot collide with other test files of the package.

// cfgUnknownCampaignID is a well-formed campaign ID that exists nowhere.
const cfgUnknownCampaignID = "cmp_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"

// cfgAnyField accepts any extensions.field in cfgWantError.
const cfgAnyField = "\x00any"

// cfgStart runs the app on db; when the test fails, it logs what the app
// logged at level ERROR, so an internal error shows its cause.
func cfgStart(t *testing.T, db *dbtest.DB) *apptest.App {
	t.Helper()
	app := apptest.Start(t, db)
	if db.Dialect == dialect.Postgres {
		// The PostgreSQL server is shared by every test process, and each
		// app keeps a pool of its own: close connections idle for a second
		// so that live apps do not exhaust max_connections between bursts.
		// Within a burst the pool keeps what it opened (dbtest.LimitPool):
		// a connection closed as soon as it is returned costs a new server
		// process for the next query, and made the bursts of concurrent
		// requests spend most of their time connecting.
		app.DB.Store.DB.SetConnMaxIdleTime(time.Second)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, line := range strings.Split(app.Logs(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Log("app: " + line)
			}
		}
	})
	return app
}

// cfgAdmin returns an admin client of a new organization named after the
// test, so parallel subtests on one app never see each other's data.
func cfgAdmin(t *testing.T, app *apptest.App) *apptest.Client {
	t.Helper()
	return app.Client(app.Key(t, "org "+t.Name(), schematype.RoleAdmin))
}

// cfgWantError asserts that r failed with code (and field, unless
// cfgAnyField) in its first error.
func cfgWantError(t *testing.T, r apptest.Response, code, field string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("want %s (field %q), got success: %s", code, field, r.Data)
	}
	if r.Code() != code || (field != cfgAnyField && r.Field() != field) {
		t.Fatalf("want %s field %q, got %s field %q (%q)", code, field, r.Code(), r.Field(), r.Errors[0].Message)
	}
}

type cfgCampaign struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	PhoneRegion string `json:"phoneRegion"`
	CreatedAt   string `json:"createdAt"`
	UpdatedAt   string `json:"updatedAt"`
}

const cfgCampaignFields = `id name phoneRegion createdAt updatedAt`

// norm returns c with its times at the microsecond precision PostgreSQL
// store (see cfgNormTime).
func (c cfgCampaign) norm() cfgCampaign {
	c.CreatedAt, c.UpdatedAt = cfgNormTime(c.CreatedAt), cfgNormTime(c.UpdatedAt)
	return c
}

// cfgNormTime rounds an RFC 3339 time to microseconds. A mutation answers
// with the time it wrote, PostgreSQL keeps microseconds: comparisons of a
// mutation's answer with what is read back go through here, and
// the "times read back" subtests check the precision itself.
func cfgNormTime(s string) string {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "unparsable " + s
	}
	return ts.UTC().Round(time.Microsecond).Format(time.RFC3339Nano)
}

// cfgCreateCampaign creates a campaign and returns it.
func cfgCreateCampaign(t *testing.T, c *apptest.Client, name string) cfgCampaign {
	t.Helper()
	var got struct{ CreateCampaign cfgCampaign }
	c.MustDo(t, `mutation($n: String!) { createCampaign(input: {name: $n}) { `+cfgCampaignFields+` } }`,
		map[string]any{"n": name}, &got)
	if got.CreateCampaign.ID == "" {
		t.Fatalf("createCampaign returned no id")
	}
	return got.CreateCampaign
}

// cfgGetCampaign reads a campaign back. It filters the campaigns connection
// rather than using node(id:), so that node has tests of its own and a
// broken node does not hide every other behaviour.
func cfgGetCampaign(t *testing.T, c *apptest.Client, id string) cfgCampaign {
	t.Helper()
	var got struct {
		Campaigns struct{ Edges []struct{ Node cfgCampaign } }
	}
	c.MustDo(t, `query($id: ID!) { campaigns(where: {id: $id}) { edges { node { `+cfgCampaignFields+` } } } }`,
		map[string]any{"id": id}, &got)
	if len(got.Campaigns.Edges) != 1 || got.Campaigns.Edges[0].Node.ID != id {
		t.Fatalf("campaign %s: %+v", id, got.Campaigns.Edges)
	}
	return got.Campaigns.Edges[0].Node
}

// cfgCampaignIDs lists every campaign of the client's organization, with the
// connection's totalCount.
func cfgCampaignIDs(t *testing.T, c *apptest.Client) ([]string, int) {
	t.Helper()
	var got struct {
		Campaigns struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	c.MustDo(t, `{ campaigns(first: 100) { totalCount edges { node { id } } } }`, nil, &got)
	ids := make([]string, len(got.Campaigns.Edges))
	for i, e := range got.Campaigns.Edges {
		ids[i] = e.Node.ID
	}
	return ids, got.Campaigns.TotalCount
}

// cfgWantCampaignCount asserts how many campaigns the organization has.
func cfgWantCampaignCount(t *testing.T, c *apptest.Client, want int) {
	t.Helper()
	ids, total := cfgCampaignIDs(t, c)
	if len(ids) != want || total != want {
		t.Fatalf("%d campaigns listed, totalCount %d; want %d", len(ids), total, want)
	}
}

func TestConfigCampaigns(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := cfgStart(t, db)
		const create = `mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { ` + cfgCampaignFields + ` } }`
		const update = `mutation($id: ID!, $input: UpdateCampaignInput!) { updateCampaign(id: $id, input: $input) { ` + cfgCampaignFields + ` } }`
		const del = `mutation($id: ID!) { deleteCampaign(id: $id) }`

		t.Run("create defaults phoneRegion to DE", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			var got struct{ CreateCampaign cfgCampaign }
			c.MustDo(t, create, map[string]any{"input": map[string]any{"name": "Lagerhelfer Q3"}}, &got)
			cmp := got.CreateCampaign
			if cmp.ID == "" || cmp.Name != "Lagerhelfer Q3" || cmp.PhoneRegion != "DE" || cmp.CreatedAt == "" || cmp.UpdatedAt == "" {
				t.Fatalf("created %+v", cmp)
			}
			if again := cfgGetCampaign(t, c, cmp.ID); again.norm() != cmp.norm() {
				t.Fatalf("node = %+v, created %+v", again, cmp)
			}
			cfgWantCampaignCount(t, c, 1)
		})

		t.Run("the times createCampaign returns are the times read back", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			created := cfgCreateCampaign(t, c, "times")
			stored := cfgGetCampaign(t, c, created.ID)
			if stored.CreatedAt != created.CreatedAt || stored.UpdatedAt != created.UpdatedAt {
				t.Fatalf("createCampaign answered createdAt %s updatedAt %s; read back %s %s",
					created.CreatedAt, created.UpdatedAt, stored.CreatedAt, stored.UpdatedAt)
			}
		})

		t.Run("node resolves a campaign by id", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			cmp := cfgCreateCampaign(t, c, "by node")
			var got struct{ Node *cfgCampaign }
			c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { `+cfgCampaignFields+` } } }`,
				map[string]any{"id": cmp.ID}, &got)
			if got.Node == nil || got.Node.norm() != cmp.norm() {
				t.Fatalf("node(%s) = %+v, want %+v", cmp.ID, got.Node, cmp)
			}
			var list struct{ Nodes []*cfgCampaign }
			c.MustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Campaign { `+cfgCampaignFields+` } } }`,
				map[string]any{"ids": []string{cmp.ID}}, &list)
			if len(list.Nodes) != 1 || list.Nodes[0] == nil || list.Nodes[0].norm() != cmp.norm() {
				t.Fatalf("nodes([%s]) = %+v", cmp.ID, list.Nodes)
			}
		})

		t.Run("create normalises a lowercase region", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			for in, want := range map[string]string{"at": "AT", "AT": "AT", "ch": "CH", "Gb": "GB"} {
				var got struct{ CreateCampaign cfgCampaign }
				c.MustDo(t, create, map[string]any{"input": map[string]any{"name": "region " + in, "phoneRegion": in}}, &got)
				if got.CreateCampaign.PhoneRegion != want {
					t.Fatalf("phoneRegion %q saved as %q, want %q", in, got.CreateCampaign.PhoneRegion, want)
				}
				if stored := cfgGetCampaign(t, c, got.CreateCampaign.ID); stored.PhoneRegion != want {
					t.Fatalf("phoneRegion %q stored as %q, want %q", in, stored.PhoneRegion, want)
				}
			}
		})

		t.Run("create refuses an invalid region and stores nothing", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			for _, region := range []string{"XX", "DEU", "", "  ", "D", "1A", "zz"} {
				r := c.Do(t, create, map[string]any{"input": map[string]any{"name": "x", "phoneRegion": region}})
				cfgWantError(t, r, "VALIDATION_FAILED", "input.phoneRegion")
			}
			cfgWantCampaignCount(t, c, 0)
		})

		t.Run("create refuses a bad name and stores nothing", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			for _, name := range []string{"", "   ", "\t\n", apptest.Strings("n", 201)} {
				r := c.Do(t, create, map[string]any{"input": map[string]any{"name": name}})
				cfgWantError(t, r, "VALIDATION_FAILED", "input.name")
			}
			cfgWantCampaignCount(t, c, 0)
			// 200 characters is the limit, not over it.
			long := apptest.Strings("n", 200)
			if got := cfgCreateCampaign(t, c, long); got.Name != long {
				t.Fatalf("a 200-character name was saved as %q", got.Name)
			}
			cfgWantCampaignCount(t, c, 1)
		})

		t.Run("update changes the name and the region", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			cmp := cfgCreateCampaign(t, c, "before")

			var got struct{ UpdateCampaign cfgCampaign }
			c.MustDo(t, update, map[string]any{"id": cmp.ID, "input": map[string]any{"name": "after"}}, &got)
			if u := got.UpdateCampaign; u.ID != cmp.ID || u.Name != "after" || u.PhoneRegion != "DE" {
				t.Fatalf("after renaming: %+v", u)
			}
			c.MustDo(t, update, map[string]any{"id": cmp.ID, "input": map[string]any{"phoneRegion": "nl"}}, &got)
			if u := got.UpdateCampaign; u.Name != "after" || u.PhoneRegion != "NL" {
				t.Fatalf("after changing the region: %+v", u)
			}
			c.MustDo(t, update, map[string]any{"id": cmp.ID, "input": map[string]any{"name": "both", "phoneRegion": "AT"}}, &got)
			stored := cfgGetCampaign(t, c, cmp.ID)
			if stored.Name != "both" || stored.PhoneRegion != "AT" || stored.norm().CreatedAt != cmp.norm().CreatedAt {
				t.Fatalf("stored %+v, created %+v", stored, cmp)
			}
			cfgWantCampaignCount(t, c, 1)
		})

		t.Run("update refuses invalid input and changes nothing", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			cmp := cfgGetCampaign(t, c, cfgCreateCampaign(t, c, "unchanged").ID) // as stored
			for _, tc := range []struct {
				input map[string]any
				field string
			}{
				{map[string]any{"phoneRegion": "XX"}, "input.phoneRegion"},
				{map[string]any{"phoneRegion": "DEU"}, "input.phoneRegion"},
				{map[string]any{"phoneRegion": ""}, "input.phoneRegion"},
				{map[string]any{"name": ""}, "input.name"},
				{map[string]any{"name": "  "}, "input.name"},
				{map[string]any{"name": apptest.Strings("n", 201)}, "input.name"},
				// A valid part must not be saved when another part is refused.
				{map[string]any{"name": "renamed", "phoneRegion": "XX"}, "input.phoneRegion"},
				{map[string]any{"name": "", "phoneRegion": "AT"}, "input.name"},
			} {
				r := c.Do(t, update, map[string]any{"id": cmp.ID, "input": tc.input})
				cfgWantError(t, r, "VALIDATION_FAILED", tc.field)
				if stored := cfgGetCampaign(t, c, cmp.ID); stored != cmp {
					t.Fatalf("after refused update %v: stored %+v, want %+v", tc.input, stored, cmp)
				}
			}
		})

		t.Run("update of an unknown, malformed or foreign id is NOT_FOUND", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
			foreign := cfgCreateCampaign(t, other, "theirs")
			for _, id := range []string{cfgUnknownCampaignID, "nope", "", "int_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", foreign.ID} {
				r := c.Do(t, update, map[string]any{"id": id, "input": map[string]any{"name": "hijacked"}})
				cfgWantError(t, r, "NOT_FOUND", cfgAnyField)
			}
			if stored := cfgGetCampaign(t, other, foreign.ID); stored.norm() != foreign.norm() {
				t.Fatalf("the other organization's campaign changed: %+v", stored)
			}
			cfgWantCampaignCount(t, c, 0)
		})

		t.Run("delete returns the id, then node is NOT_FOUND and the list shrinks", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			a := cfgCreateCampaign(t, c, "a")
			b := cfgCreateCampaign(t, c, "b")
			d := cfgCreateCampaign(t, c, "c")
			cfgWantCampaignCount(t, c, 3)

			var got struct{ DeleteCampaign string }
			c.MustDo(t, del, map[string]any{"id": b.ID}, &got)
			if got.DeleteCampaign != b.ID {
				t.Fatalf("deleteCampaign returned %q, want %q", got.DeleteCampaign, b.ID)
			}
			ids, total := cfgCampaignIDs(t, c)
			if total != 2 || !cfgSameSet(ids, []string{a.ID, d.ID}) {
				t.Fatalf("after deleting %s: %v (totalCount %d)", b.ID, ids, total)
			}
			// Deleting it again finds nothing and deletes nothing else.
			cfgWantError(t, c.Do(t, del, map[string]any{"id": b.ID}), "NOT_FOUND", cfgAnyField)
			cfgWantCampaignCount(t, c, 2)

			r := c.Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": b.ID})
			cfgWantError(t, r, "NOT_FOUND", cfgAnyField)
			var data struct{ Node *struct{ ID string } }
			if err := json.Unmarshal(r.Data, &data); err == nil && data.Node != nil {
				t.Fatalf("node of a deleted campaign = %+v", data.Node)
			}
		})

		t.Run("delete of an unknown, malformed or foreign id is NOT_FOUND and deletes nothing", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			mine := cfgCreateCampaign(t, c, "mine")
			other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
			foreign := cfgCreateCampaign(t, other, "theirs")
			for _, id := range []string{cfgUnknownCampaignID, "nope", "int_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", foreign.ID} {
				cfgWantError(t, c.Do(t, del, map[string]any{"id": id}), "NOT_FOUND", cfgAnyField)
			}
			if ids, _ := cfgCampaignIDs(t, c); !slices.Equal(ids, []string{mine.ID}) {
				t.Fatalf("campaigns = %v, want [%s]", ids, mine.ID)
			}
			if ids, _ := cfgCampaignIDs(t, other); !slices.Equal(ids, []string{foreign.ID}) {
				t.Fatalf("the other organization's campaigns = %v, want [%s]", ids, foreign.ID)
			}
		})

		t.Run("campaigns paginate with first and after", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			var created []string
			for i := range 5 {
				created = append(created, cfgCreateCampaign(t, c, fmt.Sprintf("page %d", i)).ID)
			}
			all, _ := cfgCampaignIDs(t, c)
			if !cfgSameSet(all, created) {
				t.Fatalf("listed %v, created %v", all, created)
			}
			type page struct {
				Campaigns struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct {
						Cursor string
						Node   struct{ ID string }
					}
				}
			}
			const q = `query($first: Int, $after: Cursor) { campaigns(first: $first, after: $after) {
				totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }`
			var seen []string
			var after any
			for i, want := range []int{2, 2, 1} {
				var p page
				c.MustDo(t, q, map[string]any{"first": 2, "after": after}, &p)
				cs := p.Campaigns
				if cs.TotalCount != 5 || len(cs.Edges) != want || cs.PageInfo.HasNextPage != (i < 2) || cs.PageInfo.EndCursor == nil {
					t.Fatalf("page %d: %+v", i, cs)
				}
				for _, e := range cs.Edges {
					seen = append(seen, e.Node.ID)
				}
				after = *cs.PageInfo.EndCursor
			}
			if !slices.Equal(seen, all) {
				t.Fatalf("pages gave %v, one query gave %v", seen, all)
			}
			var rest page
			c.MustDo(t, q, map[string]any{"first": 2, "after": after}, &rest)
			if len(rest.Campaigns.Edges) != 0 || rest.Campaigns.PageInfo.HasNextPage {
				t.Fatalf("after the last page: %+v", rest.Campaigns)
			}
		})

		t.Run("campaigns filter by nameContains", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			berlin := cfgCreateCampaign(t, c, "Lager Berlin")
			hamburg := cfgCreateCampaign(t, c, "Lager Hamburg")
			cfgCreateCampaign(t, c, "Pflege München")
			const q = `query($s: String!, $first: Int) { campaigns(first: $first, where: {nameContains: $s}) {
				totalCount pageInfo { hasNextPage } edges { node { id name } } } }`
			type result struct {
				Campaigns struct {
					TotalCount int
					PageInfo   struct{ HasNextPage bool }
					Edges      []struct{ Node struct{ ID, Name string } }
				}
			}
			ids := func(r result) []string {
				var out []string
				for _, e := range r.Campaigns.Edges {
					if !strings.Contains(e.Node.Name, "Lager") {
						t.Fatalf("nameContains Lager matched %q", e.Node.Name)
					}
					out = append(out, e.Node.ID)
				}
				return out
			}
			var r result
			c.MustDo(t, q, map[string]any{"s": "Lager", "first": 10}, &r)
			if r.Campaigns.TotalCount != 2 || !cfgSameSet(ids(r), []string{berlin.ID, hamburg.ID}) {
				t.Fatalf("nameContains Lager: %+v", r.Campaigns)
			}
			c.MustDo(t, q, map[string]any{"s": "Lager", "first": 1}, &r)
			if r.Campaigns.TotalCount != 2 || len(r.Campaigns.Edges) != 1 || !r.Campaigns.PageInfo.HasNextPage {
				t.Fatalf("nameContains Lager, first 1: %+v", r.Campaigns)
			}
			c.MustDo(t, q, map[string]any{"s": "Hamburg", "first": 10}, &r)
			if r.Campaigns.TotalCount != 1 || !slices.Equal(ids(r), []string{hamburg.ID}) {
				t.Fatalf("nameContains Hamburg: %+v", r.Campaigns)
			}
			c.MustDo(t, q, map[string]any{"s": "Zahnarzt", "first": 10}, &r)
			if r.Campaigns.TotalCount != 0 || len(r.Campaigns.Edges) != 0 {
				t.Fatalf("nameContains Zahnarzt: %+v", r.Campaigns)
			}
		})

		t.Run("campaigns of another organization are invisible", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
			foreign := cfgCreateCampaign(t, other, "theirs")
			cfgWantCampaignCount(t, c, 0)
			cfgWantError(t, c.Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": foreign.ID}), "NOT_FOUND", cfgAnyField)
		})
	})
}

// cfgSameSet reports whether a and b hold the same distinct strings.
func cfgSameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y) && len(slices.Compact(x)) == len(a)
}
