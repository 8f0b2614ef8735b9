package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
)

// The campaign list loads a page's triggers, their integrations and their
// latest runs with one query each, however many campaigns the page holds.
func TestCampaignListBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		admin := app.Client(app.Key(t, "batching", viewer.Admin))
		integ := isoConnect(t, app, admin, connector.Talention, "Talention")
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
		// Every ent query the server makes for the organization's requests
		// from here on (the store's client is the server's). Work for the
		// system is left out: the API key lookup, and the engine's, which
		// runs the enabled triggers' scheduled syncs meanwhile.
		var queries atomic.Int64
		app.DB.Store.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if v := viewer.FromContext(ctx); v != nil && v.OrgID == org && !viewer.IsSystem(ctx) {
					queries.Add(1)
				}
				return next.Query(ctx, q)
			})
		}))
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
		addCampaigns(2)
		few := count(list, 2)
		addCampaigns(6)
		if many := count(list, 8); many != few {
			t.Fatalf("listing 8 campaigns took %d queries, 2 campaigns %d: the page is not loaded in batches", many, few)
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
