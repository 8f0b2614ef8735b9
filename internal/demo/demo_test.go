package demo_test

import (
	"context"
	"os"
	"testing"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/demo"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

type demoTrigger struct {
	ID              string
	Enabled         bool
	Description     string
	PushbackEnabled bool
	StatusMapping   *struct{ Success, Partial, Failure, NotAnswered string }
	Integration     struct {
		Name     string
		Status   string
		Provider struct{ Key string }
	}
}

// TestSetup checks that serve --demo leaves a ready campaign with a
// trigger on each demo integration, and that running it again (a restart)
// makes nothing twice and keeps what was changed since.
func TestSetup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		app := apptest.Start(t, db)
		first, err := demo.Setup(ctx, app.Svc, db.Store.Client, app.Fakes)
		if err != nil {
			t.Fatal(err)
		}
		c := app.Client(first.Key)
		triggers := func(key string) []demoTrigger {
			t.Helper()
			var out struct {
				Campaigns struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID       string
							Name     string
							Triggers []demoTrigger
						}
					}
				}
			}
			app.Client(key).MustDo(t, `query { campaigns(first: 10) { totalCount edges { node { id name triggers {
				id enabled description pushbackEnabled statusMapping { success partial failure notAnswered }
				integration { name status provider { key } } } } } } }`, nil, &out)
			if out.Campaigns.TotalCount != 1 || out.Campaigns.Edges[0].Node.ID != string(first.Campaign) || out.Campaigns.Edges[0].Node.Name != demo.Campaign {
				t.Fatalf("campaigns: %+v, want the one demo campaign %s", out.Campaigns, first.Campaign)
			}
			return out.Campaigns.Edges[0].Node.Triggers
		}
		got := triggers(first.Key)
		if len(got) != 4 {
			t.Fatalf("%d triggers, want one per provider: %+v", len(got), got)
		}
		var talention string
		for _, tr := range got {
			if !tr.Enabled || tr.Description != demo.Description || tr.Integration.Status != "CONNECTED" {
				t.Errorf("trigger %+v: want enabled, with the demo description, on a connected integration", tr)
			}
			pushes := tr.Integration.Provider.Key == string(demo.PushbackProvider)
			if tr.PushbackEnabled != pushes || (tr.StatusMapping != nil) != pushes {
				t.Errorf("trigger of %s: pushback %v, mapping %+v", tr.Integration.Provider.Key, tr.PushbackEnabled, tr.StatusMapping)
			}
			if pushes {
				talention = tr.ID
				if tr.StatusMapping.Success != *demo.StatusMapping.Success {
					t.Errorf("status mapping %+v", tr.StatusMapping)
				}
			}
		}

		// A change made in the meantime survives the next start.
		var integ struct {
			Node struct{ Integration struct{ ID string } }
		}
		c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { integration { id } } } }`, map[string]any{"id": talention}, &integ)
		c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"campaignID": first.Campaign, "integrationID": integ.Node.Integration.ID, "enabled": false, "description": "changed",
		}}, &struct{}{})

		second, err := demo.Setup(ctx, app.Svc, db.Store.Client, app.Fakes)
		if err != nil {
			t.Fatal(err)
		}
		if second.Campaign != first.Campaign || second.Key == first.Key {
			t.Errorf("second run: campaign %s (first %s), a new key: %v", second.Campaign, first.Campaign, second.Key != first.Key)
		}
		again := triggers(second.Key)
		if len(again) != 4 {
			t.Fatalf("%d triggers after a second run, want 4", len(again))
		}
		for _, tr := range again {
			if tr.ID == talention && (tr.Enabled || tr.Description != "changed") {
				t.Errorf("the changed trigger became %+v again", tr)
			}
		}
		var n struct{ Integrations struct{ TotalCount int } }
		c.MustDo(t, `query { integrations { totalCount } }`, nil, &n)
		if n.Integrations.TotalCount != 4 {
			t.Errorf("%d integrations after two runs, want 4", n.Integrations.TotalCount)
		}
	})
}
