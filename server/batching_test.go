package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/ent/reference"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// The campaign list loads a page's triggers, their integrations and their
// latest runs with one query each, however many campaigns the page holds.
func TestCampaignListBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "batching", schematype.RoleAdmin))
		integ := isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
		org := isoOrgID(t, admin)
		addCampaigns := func(n int) {
			for i := range n {
				camp := isoCreateCampaign(t, admin, fmt.Sprintf("batching %d", i))
				trig := isoConfigureTalention(t, admin, camp, integ)
				_, err := app.DB.Store.Client.SyncRun.Create().SetTriggerID(trig.ID).SetKind(syncrun.KindTEST).
					SetStatus(syncrun.StatusSUCCEEDED).Save(isoOrgCtx(org))
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		queries := orgQueries(app, org)
		const list = `{ campaigns(first: 50) { totalCount edges { node { id name
			triggers { id enabled integration { id name status } lastRun { id status } statusMapping { success } } } } } }`
		const listNoMapping = `{ campaigns(first: 50) { totalCount edges { node { id name
			triggers { id enabled integration { id name status } lastRun { id status } } } } } }`
		count := func(list string, campaigns int) int64 {
			t.Helper()
			var got struct {
				Campaigns struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Triggers []struct {
								Integration struct{ ID string }
								LastRun     *struct{ ID string }
							}
						}
					}
				}
			}
			before := queries.Load()
			admin.MustDo(t, list, nil, &got)
			n := queries.Load() - before
			if got.Campaigns.TotalCount != campaigns || len(got.Campaigns.Edges) != campaigns {
				t.Fatalf("%d campaigns listed, want %d", got.Campaigns.TotalCount, campaigns)
			}
			for _, e := range got.Campaigns.Edges {
				if len(e.Node.Triggers) != 1 || e.Node.Triggers[0].Integration.ID == "" || e.Node.Triggers[0].LastRun == nil {
					t.Fatalf("a campaign's triggers: %+v", e.Node.Triggers)
				}
			}
			t.Logf("%d campaigns: %d queries", campaigns, n)
			return n
		}
		// The same campaigns asked for by ID: nothing primes their
		// triggers, which the campaigns of nodes(ids:), resolved
		// concurrently, ask for in one batch; their latest runs are
		// primed by that batch.
		byID := func() int64 {
			t.Helper()
			ids := app.DB.Store.Client.Campaign.Query().IDsX(isoOrgCtx(org))
			var got struct {
				Nodes []struct {
					ID       pulid.ID
					Triggers []struct {
						Integration struct{ ID string }
						LastRun     *struct{ ID string }
					}
				}
			}
			before := queries.Load()
			admin.MustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Campaign { id
				triggers { id integration { id } lastRun { id status } } } } }`, map[string]any{"ids": ids}, &got)
			n := queries.Load() - before
			if len(got.Nodes) != len(ids) {
				t.Fatalf("%d campaigns by ID, want %d", len(got.Nodes), len(ids))
			}
			for _, c := range got.Nodes {
				if len(c.Triggers) != 1 || c.Triggers[0].Integration.ID == "" || c.Triggers[0].LastRun == nil {
					t.Fatalf("campaign %s's triggers: %+v", c.ID, c.Triggers)
				}
			}
			t.Logf("%d campaigns by ID: %d queries", len(ids), n)
			return n
		}
		addCampaigns(2)
		few, fewByID := count(list, 2), byID()
		addCampaigns(6)
		if many := count(list, 8); many != few {
			t.Fatalf("listing 8 campaigns took %d queries, 2 campaigns %d: the page is not loaded in batches", many, few)
		}
		// The campaigns, their triggers, integrations and latest runs.
		if many := byID(); many != fewByID || many > 4 {
			t.Fatalf("8 campaigns by ID took %d queries, 2 campaigns %d; want the same, at most 4", many, fewByID)
		}
		// The count, the campaigns, their triggers, integrations, status
		// mappings and latest runs.
		if few > 6 {
			t.Fatalf("%d queries for a page of campaigns, want at most 6", few)
		}
		// Status mappings are loaded only when the selection asks for them.
		if n := count(listNoMapping, 8); n != few-1 {
			t.Fatalf("%d queries without statusMapping in the selection, want %d", n, few-1)
		}
	})
}

// orgQueries counts every ent query the server makes for org's requests from
// now on (the store's client is the server's). Work for the system is left
// out: the API key lookup, and the engine's, which runs the enabled
// triggers' scheduled syncs meanwhile.
func orgQueries(app *apptest.App, org pulid.ID) *atomic.Int64 {
	var queries atomic.Int64
	app.DB.Store.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if v := viewer.FromContext(ctx); v != nil && v.OrgID == org && !viewer.IsSystem(ctx) {
				queries.Add(1)
			}
			return next.Query(ctx, q)
		})
	}))
	return &queries
}

// A page of triggers loads the references of all of them with one query,
// and so does a list of triggers asked for by ID.
func TestTriggerReferencesBatch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "batching", schematype.RoleAdmin))
		integ := isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
		org := isoOrgID(t, admin)
		var triggers []pulid.ID
		addTriggers := func(n int) {
			for range n {
				camp := isoCreateCampaign(t, admin, fmt.Sprintf("references %d", len(triggers)))
				triggers = append(triggers, isoConfigureTalention(t, admin, camp, integ).ID)
			}
		}
		queries := orgQueries(app, org)
		type listed struct {
			ID         pulid.ID
			References []struct{ ID pulid.ID }
		}
		// check requires every trigger to be listed with its own references,
		// in the order the API gives them.
		check := func(got []listed) {
			t.Helper()
			if len(got) != len(triggers) {
				t.Fatalf("%d triggers listed, want %d", len(got), len(triggers))
			}
			for _, tr := range got {
				var ids []pulid.ID
				for _, r := range tr.References {
					ids = append(ids, r.ID)
				}
				want := app.DB.Store.Client.Reference.Query().Where(reference.TriggerID(tr.ID)).
					Order(reference.ByKind(), reference.ByExternalID()).IDsX(isoOrgCtx(org))
				if len(want) != 2 || !slices.Equal(ids, want) {
					t.Fatalf("trigger %s lists references %v, has %v", tr.ID, ids, want)
				}
			}
		}
		viaCampaigns := func() int64 {
			t.Helper()
			var got struct {
				Campaigns struct {
					Edges []struct {
						Node struct{ Triggers []listed }
					}
				}
			}
			before := queries.Load()
			admin.MustDo(t, `{ campaigns(first: 50) { edges { node { triggers { id references { id kind externalID } } } } } }`, nil, &got)
			n := queries.Load() - before
			var all []listed
			for _, e := range got.Campaigns.Edges {
				if len(e.Node.Triggers) != 1 {
					t.Fatalf("a campaign's triggers: %+v", e.Node.Triggers)
				}
				all = append(all, e.Node.Triggers...)
			}
			check(all)
			t.Logf("%d triggers of the campaign list: %d queries", len(triggers), n)
			return n
		}
		viaNodes := func() int64 {
			t.Helper()
			var got struct{ Nodes []listed }
			before := queries.Load()
			admin.MustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Trigger { id references { id kind externalID } } } }`,
				map[string]any{"ids": triggers}, &got)
			n := queries.Load() - before
			check(got.Nodes)
			t.Logf("%d triggers by ID: %d queries", len(triggers), n)
			return n
		}
		addTriggers(2)
		few, fewNodes := viaCampaigns(), viaNodes()
		addTriggers(6)
		if many := viaCampaigns(); many != few {
			t.Fatalf("listing the references of 8 triggers took %d queries, of 2 triggers %d: they are not loaded in a batch", many, few)
		}
		if many := viaNodes(); many != fewNodes {
			t.Fatalf("the references of 8 triggers by ID took %d queries, of 2 triggers %d: they are not loaded in a batch", many, fewNodes)
		}
		// The campaigns, their triggers, the triggers' references.
		if few > 3 {
			t.Fatalf("%d queries for the references of a page of triggers, want at most 3", few)
		}
		// The triggers, their references.
		if fewNodes > 2 {
			t.Fatalf("%d queries for the references of triggers by ID, want at most 2", fewNodes)
		}
	})
}

// A page of contacts loads the call results of all of them, and the
// results' pushbacks, with one query each; so does a list of contacts asked
// for by ID.
func TestContactCallResultsBatch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "batching", schematype.RoleAdmin))
		integ := isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
		org := isoOrgID(t, admin)
		camp := isoCreateCampaign(t, admin, "call results")
		trig := isoConfigureTalention(t, admin, camp, integ)
		ctx, c := isoOrgCtx(org), app.DB.Store.Client
		var contacts []pulid.ID
		base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
		addContacts := func(n int) {
			for range n {
				i := len(contacts)
				con := c.Contact.Create().SetCampaignID(camp).SetTriggerID(trig.ID).
					SetPhoneE164(fmt.Sprintf("+4915112%06d", i)).SetPhoneRaw("0151").
					SetExternalID(fmt.Sprintf("cand-%d", i)).SaveX(ctx)
				contacts = append(contacts, con.ID)
				// Two calls, the later one recorded first.
				for _, at := range []time.Time{base.Add(time.Duration(i+1) * time.Hour), base.Add(time.Duration(i) * time.Minute)} {
					call := c.CallResult.Create().SetContactID(con.ID).SetOutcome(schematype.OutcomeSuccess).
						SetQuestionResults([]schematype.QuestionResult{}).SetCalledAt(at).SaveX(ctx)
					c.Pushback.Create().SetCallResultID(call.ID).SetTriggerID(trig.ID).SaveX(ctx)
				}
			}
		}
		queries := orgQueries(app, org)
		type listed struct {
			ID          pulid.ID
			CallResults []struct {
				ID       pulid.ID
				Pushback *struct{ ID pulid.ID }
				Contact  *struct{ ID pulid.ID }
			}
		}
		// check requires every contact to be listed with its own call
		// results, in the order the API gives them, and with their
		// pushbacks when the selection asks for them.
		check := func(got []listed, pushback bool) {
			t.Helper()
			if len(got) != len(contacts) {
				t.Fatalf("%d contacts listed, want %d", len(got), len(contacts))
			}
			for _, con := range got {
				var ids []pulid.ID
				for _, r := range con.CallResults {
					ids = append(ids, r.ID)
					if (r.Pushback != nil) != pushback {
						t.Fatalf("contact %s: call result %s has pushback %v", con.ID, r.ID, r.Pushback)
					}
					if r.Contact != nil && r.Contact.ID != con.ID {
						t.Fatalf("contact %s: call result %s is of contact %s", con.ID, r.ID, r.Contact.ID)
					}
				}
				want := c.CallResult.Query().Where(callresult.ContactID(con.ID)).
					Order(callresult.ByCalledAt(), callresult.ByID()).IDsX(ctx)
				if len(want) != 2 || !slices.Equal(ids, want) {
					t.Fatalf("contact %s lists call results %v, has %v", con.ID, ids, want)
				}
			}
		}
		const callResults = `callResults { id calledAt pushback { id status } }`
		const callResultsNoPushback = `callResults { id calledAt }`
		const callResultsWithContact = `callResults { id calledAt pushback { id status } contact { id } }`
		viaCampaign := func(sel string) int64 {
			t.Helper()
			var got struct {
				Campaigns struct {
					Edges []struct {
						Node struct {
							Contacts struct {
								TotalCount int
								Edges      []struct{ Node listed }
							}
						}
					}
				}
			}
			before := queries.Load()
			admin.MustDo(t, `query($c: ID!) { campaigns(where: {id: $c}) { edges { node {
				contacts(first: 50) { totalCount edges { node { id `+sel+` } } } } } } }`, map[string]any{"c": camp}, &got)
			n := queries.Load() - before
			if len(got.Campaigns.Edges) != 1 {
				t.Fatalf("%d campaigns listed, want 1", len(got.Campaigns.Edges))
			}
			cs := got.Campaigns.Edges[0].Node.Contacts
			if cs.TotalCount != len(contacts) {
				t.Fatalf("%d contacts counted, want %d", cs.TotalCount, len(contacts))
			}
			var all []listed
			for _, e := range cs.Edges {
				all = append(all, e.Node)
			}
			check(all, sel != callResultsNoPushback)
			t.Logf("%d contacts of a campaign: %d queries", len(contacts), n)
			return n
		}
		viaNodes := func() int64 {
			t.Helper()
			var got struct{ Nodes []listed }
			before := queries.Load()
			admin.MustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { id `+callResults+` } } }`,
				map[string]any{"ids": contacts}, &got)
			n := queries.Load() - before
			check(got.Nodes, true)
			t.Logf("%d contacts by ID: %d queries", len(contacts), n)
			return n
		}
		addContacts(2)
		few, fewNodes := viaCampaign(callResults), viaNodes()
		addContacts(6)
		if many := viaCampaign(callResults); many != few {
			t.Fatalf("listing the call results of 8 contacts took %d queries, of 2 contacts %d: they are not loaded in a batch", many, few)
		}
		if many := viaNodes(); many != fewNodes {
			t.Fatalf("the call results of 8 contacts by ID took %d queries, of 2 contacts %d: they are not loaded in a batch", many, fewNodes)
		}
		// The campaign, its contacts and their count, the contacts' call
		// results and the results' pushbacks.
		if few > 5 {
			t.Fatalf("%d queries for the call results of a page of contacts, want at most 5", few)
		}
		// The contacts, their call results, the results' pushbacks.
		if fewNodes > 3 {
			t.Fatalf("%d queries for the call results of contacts by ID, want at most 3", fewNodes)
		}
		// Pushbacks are loaded only when the selection asks for them, and
		// the results' contacts with one more query.
		if n := viaCampaign(callResultsNoPushback); n != few-1 {
			t.Fatalf("%d queries without pushback in the selection, want %d", n, few-1)
		}
		if n := viaCampaign(callResultsWithContact); n != few+1 {
			t.Fatalf("%d queries with the call results' contact in the selection, want %d", n, few+1)
		}
	})
}

// A trigger, and its latest run, are loaded with the columns their
// selection shows, and siblings asking for different fields (aliases)
// each get theirs.
func TestLastRunColumns(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "lastrun", schematype.RoleAdmin))
		integ := isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
		org := isoOrgID(t, admin)
		for i := range 3 {
			camp := isoCreateCampaign(t, admin, fmt.Sprintf("last run %d", i))
			trig := isoConfigureTalention(t, admin, camp, integ)
			started := time.Date(2026, 12, 6, 10, i, 0, 0, time.UTC)
			_, err := app.DB.Store.Client.SyncRun.Create().SetTriggerID(trig.ID).SetKind(syncrun.KindTEST).
				SetStatus(syncrun.StatusFAILED).SetStartedAt(started).SetFinishedAt(started.Add(time.Minute)).
				SetFetched(10 + i).SetImported(5).SetTotal(40 + i).SetError(fmt.Sprintf("error %d", i)).Save(isoOrgCtx(org))
			if err != nil {
				t.Fatal(err)
			}
		}
		type run struct {
			ID, Status, Error, StartedAt, FinishedAt string
			Fetched, Imported                        int
			Total                                    *int
			Trigger                                  *struct{ ID string }
		}
		var got struct {
			Campaigns struct {
				Edges []struct {
					Node struct {
						Triggers []struct {
							ID         string
							Slim, Full *run
							Typename   *run
						}
					}
				}
			}
		}
		admin.MustDo(t, `{ campaigns(first: 10) { edges { node { triggers { id
			slim: lastRun { id status }
			full: lastRun { id status error startedAt finishedAt fetched imported total trigger { id } }
			typename: lastRun { __typename fetched } } } } } }`, nil, &got)
		if len(got.Campaigns.Edges) != 3 {
			t.Fatalf("%d campaigns", len(got.Campaigns.Edges))
		}
		for _, e := range got.Campaigns.Edges {
			tr := e.Node.Triggers[0]
			s, f := tr.Slim, tr.Full
			if s == nil || f == nil || tr.Typename == nil || s.ID != f.ID || s.Status != "FAILED" || f.Status != "FAILED" {
				t.Fatalf("runs %+v %+v", s, f)
			}
			if f.Error == "" || f.StartedAt == "" || f.FinishedAt == "" || f.Fetched < 10 || f.Imported != 5 || f.Total == nil || *f.Total != f.Fetched+30 ||
				f.Trigger == nil || f.Trigger.ID != tr.ID || tr.Typename.Fetched != f.Fetched {
				t.Errorf("the full selection's run: %+v (typename's %+v)", f, tr.Typename)
			}
		}

		type trig struct {
			ID, SearchType, Description, CreatedAt string
			Enabled, PushbackEnabled               bool
			SyncIntervalSeconds                    int
			SearchParams                           map[string]any
			Screening                              *string
			Integration                            *struct{ ID string }
		}
		var trigs struct {
			Campaigns struct {
				Edges []struct {
					Node struct{ Slim, Full, Screened []trig }
				}
			}
		}
		admin.MustDo(t, `{ campaigns(first: 10) { edges { node {
			slim: triggers { id enabled }
			full: triggers { id enabled searchType searchParams description createdAt pushbackEnabled syncIntervalSeconds integration { id } }
			screened: triggers { id screening } } } } }`, nil, &trigs)
		for _, e := range trigs.Campaigns.Edges {
			n := e.Node
			if len(n.Slim) != 1 || len(n.Full) != 1 || len(n.Screened) != 1 || n.Slim[0].ID != n.Full[0].ID {
				t.Fatalf("triggers %+v", n)
			}
			f := n.Full[0]
			if f.SearchType == "" || f.Description != "senior candidates" || f.CreatedAt == "" || !f.PushbackEnabled || f.SyncIntervalSeconds == 0 ||
				f.Integration == nil || f.Integration.ID != string(integ) {
				t.Errorf("the full selection's trigger: %+v", f)
			}
			if n.Screened[0].Screening == nil || *n.Screened[0].Screening == "" {
				t.Errorf("the screened selection's trigger: %+v", n.Screened[0])
			}
		}
	})
}
