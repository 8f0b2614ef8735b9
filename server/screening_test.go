package server_test

import (
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// TestScreeningState checks that a trigger tells whether its description
// is applied, and that each run keeps the state it was queued with. No
// screening model can be configured yet, so a description is never
// applied: NOT_CONFIGURED, never ACTIVE.
func TestScreeningState(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			admin := app.Client(app.Key(t, "screening", schematype.RoleAdmin))
			campaign := isoCreateCampaign(t, admin, "screening")
			integ := isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")

			configure := func(description string) pulid.ID {
				t.Helper()
				var got struct {
					ConfigureTrigger struct {
						ID        pulid.ID
						Screening string
					}
				}
				admin.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id screening } }`,
					map[string]any{"in": map[string]any{
						"campaignID": campaign, "integrationID": integ, "enabled": true, "description": description,
					}}, &got)
				return got.ConfigureTrigger.ID
			}
			state := func(trigger pulid.ID) (string, []string) {
				t.Helper()
				var got struct {
					Node struct {
						Screening string
						SyncRuns  struct {
							Edges []struct{ Node struct{ Screening string } }
						}
					}
				}
				admin.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger {
					screening syncRuns(first: 10, orderBy: {field: CREATED_AT}) { edges { node { screening } } } } } }`,
					map[string]any{"id": trigger}, &got)
				var runs []string
				for _, e := range got.Node.SyncRuns.Edges {
					runs = append(runs, e.Node.Screening)
				}
				return got.Node.Screening, runs
			}

			trig := configure("Nurses with an intensive-care qualification near Berlin.")
			if s, _ := state(trig); s != "NOT_CONFIGURED" {
				t.Fatalf("a trigger with a description: screening %s, want NOT_CONFIGURED", s)
			}
			// A newly enabled trigger is due at once: the scheduler's run.
			egWaitScheduled(t, admin, trig)
			if s, runs := state(trig); s != "NOT_CONFIGURED" || len(runs) != 1 || runs[0] != "NOT_CONFIGURED" {
				t.Fatalf("after a run: screening %s, runs %v; want NOT_CONFIGURED and one NOT_CONFIGURED run", s, runs)
			}

			// Without a description there is nothing to apply; the first run
			// keeps what it was queued with. The trigger stays enabled, so
			// it is not due again for its interval: the next run is the
			// test sync's.
			if configure("   ") != trig {
				t.Fatal("configuring the trigger again made another trigger")
			}
			screenTestSync(t, admin, trig)
			if s, runs := state(trig); s != "OFF" || len(runs) != 2 || runs[0] != "NOT_CONFIGURED" || runs[1] != "OFF" {
				t.Fatalf("without a description: screening %s, runs %v; want OFF, runs [NOT_CONFIGURED OFF]", s, runs)
			}
		})
	}
}

// screenTestSync starts a test sync of the trigger and waits for its end.
func screenTestSync(t *testing.T, c *apptest.Client, trigger pulid.ID) {
	t.Helper()
	var started struct{ TestSync struct{ ID pulid.ID } }
	c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trigger}, &started)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var got struct{ Node struct{ Status string } }
		c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { status } } }`,
			map[string]any{"id": started.TestSync.ID}, &got)
		switch got.Node.Status {
		case "QUEUED", "RUNNING":
		case "SUCCEEDED":
			return
		default:
			t.Fatalf("the test sync ended %s", got.Node.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test sync is still %s after a minute", got.Node.Status)
		}
	}
}
