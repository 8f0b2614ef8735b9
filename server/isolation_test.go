package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/progress"
)

// isoStart starts the app and prints its log when the test fails.
func isoStart(t *testing.T, db *dbtest.DB, options ...func(*server.Config)) *apptest.App {
	t.Helper()
	app := apptest.Start(t, db, options...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.Logs())
		}
	})
	return app
}

// isoOrgID returns the organization of the client's key.
func isoOrgID(t *testing.T, c *apptest.Client) pulid.ID {
	t.Helper()
	var got struct {
		Viewer struct{ Organization struct{ ID pulid.ID } }
	}
	c.MustDo(t, `{ viewer { organization { id } } }`, nil, &got)
	if !got.Viewer.Organization.ID.Valid() {
		t.Fatalf("viewer organization id %q", got.Viewer.Organization.ID)
	}
	return got.Viewer.Organization.ID
}

// isoOrgCtx acts for org when writing rows directly through ent.
func isoOrgCtx(org pulid.ID) context.Context {
	return viewer.ForOrg(context.Background(), org)
}

func isoCreateCampaign(t *testing.T, c *apptest.Client, name string) pulid.ID {
	t.Helper()
	var got struct{ CreateCampaign struct{ ID pulid.ID } }
	c.MustDo(t, `mutation($name: String!) { createCampaign(input: {name: $name}) { id } }`,
		map[string]any{"name": name}, &got)
	return got.CreateCampaign.ID
}

// isoConnect connects an integration to the provider's fake and requires it
// to be CONNECTED.
func isoConnect(t *testing.T, app *apptest.App, c *apptest.Client, p schematype.ProviderKey, name string) pulid.ID {
	t.Helper()
	creds := map[string]any{}
	for k, v := range app.Fakes.Credentials(p) {
		creds[k] = v
	}
	var got struct {
		ConnectIntegration struct {
			ID     pulid.ID
			Status string
		}
	}
	c.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": string(p), "name": name, "credentials": creds}}, &got)
	if got.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("integration %s is %s, want CONNECTED", p, got.ConnectIntegration.Status)
	}
	return got.ConnectIntegration.ID
}

// isoTrigger is a trigger with the IDs of its parts.
type isoTrigger struct {
	ID         pulid.ID
	References []struct{ ID pulid.ID }
	StatusMap  *struct{ ID pulid.ID } `json:"statusMapping"`
}

// isoConfigureTalention configures a Talention trigger with two of the
// fake's jobs as references, pushback on and a full status mapping. It is
// disabled, so that the sync engine's scheduler leaves it and its runs to
// the test.
func isoConfigureTalention(t *testing.T, c *apptest.Client, campaign, integ pulid.ID) isoTrigger {
	t.Helper()
	var refs struct {
		AvailableReferences struct {
			Items []struct {
				ExternalID string
				Kind       string
				Name       string
			}
		}
	}
	c.MustDo(t, `query($id: ID!) { availableReferences(integrationID: $id, first: 2) { items { externalID kind name } } }`,
		map[string]any{"id": integ}, &refs)
	if len(refs.AvailableReferences.Items) != 2 {
		t.Fatalf("the Talention fake offers %d references, want 2", len(refs.AvailableReferences.Items))
	}
	var in []map[string]any
	for _, r := range refs.AvailableReferences.Items {
		in = append(in, map[string]any{"externalID": r.ExternalID, "kind": r.Kind, "name": r.Name})
	}
	var got struct{ ConfigureTrigger struct{ ID pulid.ID } }
	c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"campaignID": campaign, "integrationID": integ, "enabled": false,
			"description": "senior candidates", "references": in, "pushbackEnabled": true,
			"statusMapping": map[string]any{
				"success": "accepted", "partial": "interview", "failure": "rejected", "notAnswered": "unreachable",
			},
		}}, &got)
	// The parts are read back through the campaign, in a query of their own.
	var read struct {
		Campaigns struct {
			Edges []struct {
				Node struct{ Triggers []isoTrigger }
			}
		}
	}
	c.MustDo(t, `query($id: ID!) { campaigns(where: {id: $id}) { edges { node { triggers { id references { id } statusMapping { id } } } } } }`,
		map[string]any{"id": campaign}, &read)
	if len(read.Campaigns.Edges) != 1 || len(read.Campaigns.Edges[0].Node.Triggers) != 1 {
		t.Fatalf("campaign %s: %+v, want one trigger", campaign, read.Campaigns)
	}
	tr := read.Campaigns.Edges[0].Node.Triggers[0]
	if tr.ID != got.ConfigureTrigger.ID || len(tr.References) != 2 || tr.StatusMap == nil {
		t.Fatalf("configured trigger = %+v, want 2 references and a status mapping", tr)
	}
	return tr
}

// isoRows are rows written directly, as the sync engine and the calling
// platform's reports would.
type isoRows struct {
	Contact  *ent.Contact
	Run      *ent.SyncRun
	Issue    *ent.ImportIssue
	Call     *ent.CallResult
	Pushback *ent.Pushback
}

// isoCallKey is the idempotency key of B's call result.
const isoCallKey = "call-1"

func isoWriteRows(t *testing.T, app *apptest.App, org, campaign, trig pulid.ID) isoRows {
	t.Helper()
	ctx := isoOrgCtx(org)
	db := app.DB.Store.Client
	var rows isoRows
	var err error
	rows.Contact, err = db.Contact.Create().SetCampaignID(campaign).SetTriggerID(trig).
		SetPhoneE164("+4915112345678").SetPhoneRaw("0151 12345678").SetExternalID("cand-1").
		SetFirstName("Erika").Save(ctx)
	if err != nil {
		t.Fatalf("creating contact: %v", err)
	}
	rows.Run, err = db.SyncRun.Create().SetTriggerID(trig).SetKind(syncrun.KindTEST).Save(ctx)
	if err != nil {
		t.Fatalf("creating sync run: %v", err)
	}
	rows.Issue, err = db.ImportIssue.Create().SetRunID(rows.Run.ID).SetExternalID("cand-2").
		SetCode(schematype.IssueInvalidPhone).SetMessage("not a phone number").SetRawPhone("12").Save(ctx)
	if err != nil {
		t.Fatalf("creating import issue: %v", err)
	}
	rows.Call, err = db.CallResult.Create().SetContactID(rows.Contact.ID).SetOutcome(schematype.OutcomeSuccess).
		SetTranscript("hello").SetQuestionResults([]schematype.QuestionResult{}).
		SetCalledAt(time.Now().UTC()).SetDurationSeconds(42).SetIdempotencyKey(isoCallKey).Save(ctx)
	if err != nil {
		t.Fatalf("creating call result: %v", err)
	}
	rows.Pushback, err = db.Pushback.Create().SetCallResultID(rows.Call.ID).SetTriggerID(trig).
		SetMappedStatus("accepted").Save(ctx)
	if err != nil {
		t.Fatalf("creating pushback: %v", err)
	}
	return rows
}

// isoWantError requires the response to fail with code (and field, unless
// field is "") and to carry no data for the operation's top-level field.
func isoWantError(t *testing.T, r apptest.Response, code, field string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("no error, data %s; want %s", r.Data, code)
	}
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("error code %q field %q (%s), want %q field %q", r.Code(), r.Field(), r.Errors[0].Message, code, field)
	}
}

// isoSnapshot is everything organization B can read of its own objects, as
// raw JSON: any change made by a refused request shows up as a difference.
// It reads through lists and edges only, so that it does not depend on the
// node(id:) behaviour under test.
const isoSnapshot = `query($c: ID!, $i: ID!) {
  campaigns(first: 1, where: {id: $c}) { totalCount edges { node { id name phoneRegion createdAt updatedAt
    triggers { id enabled searchType searchParams description pushbackEnabled syncIntervalSeconds
      nextSyncAt updatedAt integration { id } references { id externalID kind name }
      statusMapping { id success partial failure notAnswered }
      syncRuns { edges { node { id status imported updatedAt issues { totalCount edges { node { id code } } } } } } }
    contacts { totalCount edges { node { id phoneE164 callResults { id outcome pushback { id status mappedStatus } } } } } } } }
  integrations(first: 1, where: {id: $i}) { totalCount edges { node { id name status lastCheckedAt lastError updatedAt } } }
  all: campaigns { totalCount }
  allIntegrations: integrations { totalCount }
}`

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		// The subtests run in order: each compares B's data with the same
		// snapshot, and the subscription cases count the broker's subscribers.
		app := isoStart(t, db)
		a := app.Client(app.Key(t, "isolation-a", schematype.RoleAdmin))
		b := app.Client(app.Key(t, "isolation-b", schematype.RoleAdmin))

		// Organization B's world.
		orgB := isoOrgID(t, b)
		keyA, keyB := isoOwnKeyID(t, a), isoOwnKeyID(t, b)
		cmpB := isoCreateCampaign(t, b, "B's campaign")
		intB := isoConnect(t, app, b, schematype.ProviderTalention, "B's Talention")
		trgB := isoConfigureTalention(t, b, cmpB, intB)
		rows := isoWriteRows(t, app, orgB, cmpB, trgB.ID)

		// Organization A's own campaign and integration.
		cmpA := isoCreateCampaign(t, a, "A's campaign")
		intA := isoConnect(t, app, a, schematype.ProviderTalention, "A's Talention")

		snapVars := map[string]any{"c": cmpB, "i": intB}
		snapshot := func(t *testing.T) string {
			t.Helper()
			r := b.Do(t, isoSnapshot, snapVars)
			if len(r.Errors) > 0 {
				t.Fatalf("B reading its own data: %+v", r.Errors)
			}
			return string(r.Data)
		}
		before := snapshot(t)
		// The snapshot must actually hold B's data, or comparing it proves nothing.
		var snap struct {
			Campaigns struct {
				Edges []struct {
					Node struct {
						Name     string
						Triggers []struct {
							PushbackEnabled bool
							References      []struct{ ID string }
							StatusMapping   *struct{ Success string }
							SyncRuns        struct {
								Edges []struct {
									Node struct{ Issues struct{ TotalCount int } }
								}
							}
						}
						Contacts struct {
							TotalCount int
							Edges      []struct {
								Node struct {
									CallResults []struct {
										Pushback *struct{ MappedStatus string }
									}
								}
							}
						}
					}
				}
			}
			Integrations struct {
				Edges []struct{ Node struct{ Status string } }
			}
		}
		if err := json.Unmarshal([]byte(before), &snap); err != nil {
			t.Fatal(err)
		}
		complete := len(snap.Campaigns.Edges) == 1 && len(snap.Integrations.Edges) == 1 &&
			snap.Integrations.Edges[0].Node.Status == "CONNECTED"
		if complete {
			c := snap.Campaigns.Edges[0].Node
			complete = c.Name == "B's campaign" && len(c.Triggers) == 1 && c.Triggers[0].PushbackEnabled &&
				len(c.Triggers[0].References) == 2 && c.Triggers[0].StatusMapping != nil &&
				len(c.Triggers[0].SyncRuns.Edges) == 1 && c.Triggers[0].SyncRuns.Edges[0].Node.Issues.TotalCount == 1 &&
				c.Contacts.TotalCount == 1 && len(c.Contacts.Edges[0].Node.CallResults) == 1 &&
				c.Contacts.Edges[0].Node.CallResults[0].Pushback != nil
		}
		if !complete {
			t.Fatalf("B's snapshot is incomplete: %s", before)
		}
		unchanged := func(t *testing.T) {
			t.Helper()
			if after := snapshot(t); after != before {
				t.Fatalf("B's data changed:\nbefore %s\nafter  %s", before, after)
			}
		}

		idsB := []struct {
			what string
			id   pulid.ID
		}{
			{"campaign", cmpB},
			{"integration", intB},
			{"trigger", trgB.ID},
			{"reference", trgB.References[0].ID},
			{"statusMapping", trgB.StatusMap.ID},
			{"contact", rows.Contact.ID},
			{"syncRun", rows.Run.ID},
			{"importIssue", rows.Issue.ID},
			{"callResult", rows.Call.ID},
			{"pushback", rows.Pushback.ID},
			{"organization", orgB},
		}

		t.Run("B resolves every one of its IDs through nodes and node", func(t *testing.T) {
			// The control for the NOT_FOUND cases below: the IDs are real.
			ids := make([]pulid.ID, len(idsB))
			for i, o := range idsB {
				ids[i] = o.id
			}
			var all struct{ Nodes []*struct{ ID pulid.ID } }
			b.MustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}, &all)
			if len(all.Nodes) != len(ids) {
				t.Fatalf("nodes returned %d entries for %d IDs", len(all.Nodes), len(ids))
			}
			for i, n := range all.Nodes {
				if n == nil || n.ID != ids[i] {
					t.Errorf("B's own %s %s: nodes[%d] = %+v", idsB[i].what, ids[i], i, n)
				}
			}
			for _, o := range idsB {
				r := b.Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": o.id})
				var got struct{ Node *struct{ ID pulid.ID } }
				if err := json.Unmarshal(r.Data, &got); err != nil || len(r.Errors) > 0 || got.Node == nil || got.Node.ID != o.id {
					t.Errorf("B's own %s %s: node data %s errors %+v", o.what, o.id, r.Data, r.Errors)
				}
			}
		})

		t.Run("node of each of B's IDs is NOT_FOUND for A", func(t *testing.T) {
			for _, o := range idsB {
				r := a.Do(t, `query($id: ID!) { node(id: $id) { id __typename } }`, map[string]any{"id": o.id})
				var got struct{ Node json.RawMessage }
				if err := json.Unmarshal(r.Data, &got); err != nil {
					t.Fatalf("%s: data %s: %v", o.what, r.Data, err)
				}
				if string(got.Node) != "null" {
					t.Errorf("%s %s: A got node %s", o.what, o.id, got.Node)
				}
				if len(r.Errors) != 1 || r.Code() != "NOT_FOUND" {
					t.Errorf("%s %s: errors %+v, want one NOT_FOUND", o.what, o.id, r.Errors)
				}
			}
		})

		t.Run("nodes of all of B's IDs are null and NOT_FOUND for A", func(t *testing.T) {
			ids := make([]pulid.ID, len(idsB))
			for i, o := range idsB {
				ids[i] = o.id
			}
			r := a.Do(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }`, map[string]any{"ids": ids})
			var got struct{ Nodes []json.RawMessage }
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatalf("data %s: %v", r.Data, err)
			}
			if len(got.Nodes) != len(ids) {
				t.Fatalf("nodes = %s, want %d entries", r.Data, len(ids))
			}
			for i, n := range got.Nodes {
				if string(n) != "null" {
					t.Errorf("%s %s: A got %s", idsB[i].what, ids[i], n)
				}
			}
			isoWantPerIndexNotFound(t, r, len(ids), nil)
		})

		t.Run("nodes mixing A's and B's IDs return only A's", func(t *testing.T) {
			r := a.Do(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
				map[string]any{"ids": []pulid.ID{cmpA, cmpB, intA, intB}})
			var got struct{ Nodes []*struct{ ID pulid.ID } }
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatalf("data %s: %v", r.Data, err)
			}
			if len(got.Nodes) != 4 || got.Nodes[0] == nil || got.Nodes[0].ID != cmpA || got.Nodes[1] != nil ||
				got.Nodes[2] == nil || got.Nodes[2].ID != intA || got.Nodes[3] != nil {
				t.Fatalf("nodes = %s, want [A's campaign, null, A's integration, null]", r.Data)
			}
			isoWantPerIndexNotFound(t, r, 4, map[int]bool{0: true, 2: true})
		})

		t.Run("nodes of a single B ID is NOT_FOUND for A", func(t *testing.T) {
			for _, o := range idsB {
				r := a.Do(t, `query($ids: [ID!]!) { viewer { role } nodes(ids: $ids) { id } }`,
					map[string]any{"ids": []pulid.ID{o.id}})
				var got struct {
					Viewer *struct{ Role string }
					Nodes  []json.RawMessage
				}
				if err := json.Unmarshal(r.Data, &got); err != nil {
					t.Fatalf("%s: data %s: %v", o.what, r.Data, err)
				}
				// Like nodes of several IDs: [null] with one NOT_FOUND at
				// nodes.0, and the rest of the query answered.
				if got.Viewer == nil || len(got.Nodes) != 1 || string(got.Nodes[0]) != "null" {
					t.Errorf("%s %s: data %s, want viewer and nodes [null]", o.what, o.id, r.Data)
				}
				if len(r.Errors) != 1 || r.Code() != "NOT_FOUND" {
					t.Errorf("%s %s: errors %+v, want one NOT_FOUND", o.what, o.id, r.Errors)
				}
			}
		})

		t.Run("campaigns and integrations lists exclude B's", func(t *testing.T) {
			var got struct {
				Campaigns struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID pulid.ID } }
				}
				Integrations struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID pulid.ID } }
				}
			}
			a.MustDo(t, `{ campaigns { totalCount edges { node { id } } } integrations { totalCount edges { node { id } } } }`, nil, &got)
			if got.Campaigns.TotalCount != 1 || len(got.Campaigns.Edges) != 1 || got.Campaigns.Edges[0].Node.ID != cmpA {
				t.Errorf("A's campaigns = %+v, want only %s", got.Campaigns, cmpA)
			}
			if got.Integrations.TotalCount != 1 || len(got.Integrations.Edges) != 1 || got.Integrations.Edges[0].Node.ID != intA {
				t.Errorf("A's integrations = %+v, want only %s", got.Integrations, intA)
			}
		})

		t.Run("apiKeys lists only A's keys", func(t *testing.T) {
			var got struct {
				APIKeys struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID pulid.ID } }
				}
			}
			// A cursor is only an ID: one of B's lists A's keys after it.
			for _, after := range []any{nil, keyB} {
				vars := map[string]any{}
				if after != nil {
					vars["after"] = isoCursor(keyB)
				}
				a.MustDo(t, `query($after: Cursor) { apiKeys(after: $after) { totalCount edges { node { id } } } }`, vars, &got)
				for _, e := range got.APIKeys.Edges {
					if e.Node.ID != keyA {
						t.Errorf("A's apiKeys (after %v) list %s", after, e.Node.ID)
					}
				}
				if got.APIKeys.TotalCount != 1 {
					t.Errorf("A's apiKeys totalCount = %d, want 1", got.APIKeys.TotalCount)
				}
			}
		})

		t.Run("where filters on B's IDs return nothing", func(t *testing.T) {
			cases := []struct {
				name  string
				query string
				vars  map[string]any
				want  []pulid.ID
			}{
				{"campaigns by id", `query($id: ID!) { list: campaigns(where: {id: $id}) { totalCount edges { node { id } } } }`,
					map[string]any{"id": cmpB}, nil},
				{"campaigns by idIn", `query($ids: [ID!]) { list: campaigns(where: {idIn: $ids}) { totalCount edges { node { id } } } }`,
					map[string]any{"ids": []pulid.ID{cmpB, cmpA}}, []pulid.ID{cmpA}},
				{"campaigns by name", `query { list: campaigns(where: {nameContains: "B's"}) { totalCount edges { node { id } } } }`,
					nil, nil},
				{"integrations by id", `query($id: ID!) { list: integrations(where: {id: $id}) { totalCount edges { node { id } } } }`,
					map[string]any{"id": intB}, nil},
			}
			for _, tc := range cases {
				var got struct {
					List struct {
						TotalCount int
						Edges      []struct{ Node struct{ ID pulid.ID } }
					}
				}
				a.MustDo(t, tc.query, tc.vars, &got)
				var ids []pulid.ID
				for _, e := range got.List.Edges {
					ids = append(ids, e.Node.ID)
				}
				if got.List.TotalCount != len(tc.want) || fmt.Sprint(ids) != fmt.Sprint(tc.want) {
					t.Errorf("%s: totalCount %d ids %v, want %v", tc.name, got.List.TotalCount, ids, tc.want)
				}
			}
		})

		t.Run("mutations on B's objects are NOT_FOUND and change nothing", func(t *testing.T) {
			cases := []struct {
				name, query string
				vars        map[string]any
				field       string
			}{
				{"updateCampaign", `mutation($id: ID!) { updateCampaign(id: $id, input: {name: "taken over", phoneRegion: "AT"}) { id name } }`,
					map[string]any{"id": cmpB}, "id"},
				{"deleteCampaign", `mutation($id: ID!) { deleteCampaign(id: $id) }`,
					map[string]any{"id": cmpB}, "id"},
				{"checkIntegration", `mutation($id: ID!) { checkIntegration(id: $id) { id status } }`,
					map[string]any{"id": intB}, "id"},
				{"disconnectIntegration", `mutation($id: ID!) { disconnectIntegration(id: $id) { id status } }`,
					map[string]any{"id": intB}, "id"},
				{"configureTrigger with B's campaign and A's integration", `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"campaignID": cmpB, "integrationID": intA, "enabled": true}}, "input.campaignID"},
				{"configureTrigger with A's campaign and B's integration", `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"campaignID": cmpA, "integrationID": intB, "enabled": true}}, "input.integrationID"},
				{"configureTrigger replacing B's trigger", `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"campaignID": cmpB, "integrationID": intB, "enabled": false,
						"description": "taken over", "pushbackEnabled": false}}, ""},
				{"testSync", `mutation($id: ID!) { testSync(triggerID: $id) { id status } }`,
					map[string]any{"id": trgB.ID}, "triggerID"},
				{"cancelSyncRun", `mutation($id: ID!) { cancelSyncRun(id: $id) { id status } }`,
					map[string]any{"id": rows.Run.ID}, "id"},
				{"recordCallResult", `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"contactID": rows.Contact.ID, "outcome": "FAILURE",
						"calledAt": time.Now().UTC().Format(time.RFC3339)}}, "input.contactID"},
				{"recordCallResult with B's idempotency key", `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"contactID": rows.Contact.ID, "outcome": "FAILURE",
						"calledAt": time.Now().UTC().Format(time.RFC3339), "idempotencyKey": isoCallKey}}, "input.contactID"},
				{"retryPushback", `mutation($id: ID!) { retryPushback(id: $id) { id status } }`,
					map[string]any{"id": rows.Pushback.ID}, "id"},
				// B's snapshot below reads with this very key: revoked, it
				// would fail.
				{"revokeAPIKey", `mutation($id: ID!) { revokeAPIKey(id: $id) { id revokedAt } }`,
					map[string]any{"id": keyB}, "id"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := a.Do(t, tc.query, tc.vars)
					isoWantError(t, r, "NOT_FOUND", tc.field)
					if string(r.Data) != "null" {
						t.Errorf("data %s, want null", r.Data)
					}
					unchanged(t)
				})
			}
		})

		t.Run("an idempotency key B used records a new result for A", func(t *testing.T) {
			conA, err := app.DB.Store.Client.Contact.Create().SetCampaignID(cmpA).SetPhoneE164("+4915112345678").
				SetPhoneRaw("0151 12345678").SetExternalID("a-1").Save(isoOrgCtx(isoOrgID(t, a)))
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				RecordCallResult struct {
					ID      pulid.ID
					Outcome string
					Contact struct{ ID pulid.ID }
				}
			}
			a.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id outcome contact { id } } }`,
				map[string]any{"in": map[string]any{"contactID": conA.ID, "outcome": "PARTIAL",
					"calledAt": time.Now().UTC().Format(time.RFC3339), "idempotencyKey": isoCallKey}}, &got)
			r := got.RecordCallResult
			if r.ID == rows.Call.ID || r.Contact.ID != conA.ID || r.Outcome != "PARTIAL" {
				t.Fatalf("A's recordCallResult = %+v; B's result is %s", r, rows.Call.ID)
			}
			unchanged(t)
		})

		t.Run("availableReferences of B's integration is NOT_FOUND", func(t *testing.T) {
			r := a.Do(t, `query($id: ID!) { availableReferences(integrationID: $id) { items { externalID } } }`,
				map[string]any{"id": intB})
			isoWantError(t, r, "NOT_FOUND", "integrationID")
			unchanged(t)
		})

		t.Run("A's own campaign got no trigger from the refused mutations", func(t *testing.T) {
			var got struct {
				Campaigns struct {
					Edges []struct {
						Node struct{ Triggers []struct{ ID string } }
					}
				}
			}
			a.MustDo(t, `query($id: ID!) { campaigns(where: {id: $id}) { edges { node { triggers { id } } } } }`, map[string]any{"id": cmpA}, &got)
			if len(got.Campaigns.Edges) != 1 || len(got.Campaigns.Edges[0].Node.Triggers) != 0 {
				t.Fatalf("A's campaign: %+v, want it without triggers", got.Campaigns)
			}
		})

		t.Run("subscriptions to B's run and campaign are NOT_FOUND with no data", func(t *testing.T) {
			keyA := a.Key
			for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
				for _, sc := range []struct {
					name, query string
					vars        map[string]any
					topic       progress.Notice
				}{
					{"syncProgress", `subscription($id: ID!) { syncProgress(runID: $id) { phase imported run { id } } }`,
						map[string]any{"id": rows.Run.ID}, progress.Notice{Kind: progress.KindRun, ID: rows.Run.ID, RunID: rows.Run.ID, CampaignID: cmpB}},
					{"campaignEvents", `subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`,
						map[string]any{"id": cmpB}, progress.Notice{Kind: progress.KindPushback, ID: rows.Pushback.ID, CampaignID: cmpB}},
				} {
					t.Run(proto+"/"+sc.name, func(t *testing.T) {
						ws := app.Connect(t, proto, keyA)
						ws.Subscribe("1", sc.query, sc.vars)
						d := ws.NextData("1")
						if len(d.Data) != 0 && string(d.Data) != "null" {
							t.Errorf("A received data %s", d.Data)
						}
						if len(d.Errors) != 1 || d.Errors[0].Extensions.Code != "NOT_FOUND" {
							t.Errorf("errors %+v, want one NOT_FOUND", d.Errors)
						}
						if m := ws.Next(); m.Type != "complete" || m.ID != "1" {
							t.Fatalf("after the error: %s %s %s, want complete 1", m.Type, m.ID, m.Payload)
						}
						// Nothing is left listening to B's topics.
						isoWaitSubscribers(t, app, 0)
						if err := app.Broker.Publish(context.Background(), sc.topic); err != nil {
							t.Fatal(err)
						}
						// The socket still serves A: a later operation of A's
						// answers, and nothing for operation 1 came first.
						ws.Subscribe("2", `subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`,
							map[string]any{"id": pulid.New("cmp")})
						d = ws.NextData("2")
						if len(d.Errors) != 1 || d.Errors[0].Extensions.Code != "NOT_FOUND" {
							t.Errorf("unknown campaign: errors %+v, want one NOT_FOUND", d.Errors)
						}
					})
				}
			}
		})

		t.Run("auditEvents shows A none of B's events", func(t *testing.T) {
			// A's own attempts on B's objects are in A's trail (refused,
			// NOT_FOUND); B's events, whatever they name, are not.
			ofB := map[string]bool{}
			for _, e := range auditList(t, b, map[string]any{"first": 100}).Events {
				ofB[e.ID] = true
			}
			if len(ofB) == 0 {
				t.Fatal("B's trail is empty")
			}
			objectsB := map[string]bool{}
			for _, o := range idsB {
				objectsB[string(o.id)] = true
			}
			for _, vars := range []map[string]any{{"first": 100}, {"target": cmpB}, {"target": trgB.ID}, {"target": intB}} {
				for _, e := range auditList(t, a, vars).Events {
					if ofB[e.ID] {
						t.Errorf("A (%v) sees B's event %+v", vars, e)
					}
					if e.Outcome == "ok" && objectsB[e.target()] {
						t.Errorf("A's trail holds a successful change of B's object: %+v", e)
					}
				}
			}
		})

		t.Run("B's data is intact after everything A tried", unchanged)
	})
}

// isoOwnKeyID returns the ID of the client's key, the only one of its
// organization.
func isoOwnKeyID(t *testing.T, c *apptest.Client) pulid.ID {
	t.Helper()
	var got struct {
		APIKeys struct {
			Edges []struct{ Node struct{ ID pulid.ID } }
		}
	}
	c.MustDo(t, `{ apiKeys { edges { node { id } } } }`, nil, &got)
	if len(got.APIKeys.Edges) != 1 {
		t.Fatalf("apiKeys = %+v, want the client's own key only", got.APIKeys)
	}
	return got.APIKeys.Edges[0].Node.ID
}

// isoCursor is the connection cursor of an ID, as entgql encodes it.
func isoCursor(id pulid.ID) string {
	var buf bytes.Buffer
	entgql.Cursor[pulid.ID]{ID: id}.MarshalGQL(&buf)
	return strings.Trim(buf.String(), `"`)
}

// isoWantPerIndexNotFound requires exactly one NOT_FOUND error at
// ["nodes", i] for every index i of n that is not in found.
func isoWantPerIndexNotFound(t *testing.T, r apptest.Response, n int, found map[int]bool) {
	t.Helper()
	seen := map[int]bool{}
	for _, e := range r.Errors {
		if e.Extensions.Code != "NOT_FOUND" || len(e.Path) != 2 || e.Path[0] != "nodes" {
			t.Errorf("error %+v, want NOT_FOUND at nodes.i", e)
			continue
		}
		i, ok := e.Path[1].(float64)
		if !ok || seen[int(i)] || found[int(i)] {
			t.Errorf("unexpected error at %v: %+v", e.Path, e)
			continue
		}
		seen[int(i)] = true
	}
	for i := 0; i < n; i++ {
		if !found[i] && !seen[i] {
			t.Errorf("no NOT_FOUND error for nodes.%d", i)
		}
	}
}

// isoWaitSubscribers waits until the app's broker has n open subscriptions.
// Subscriptions open and close on the server's goroutines; the wait is
// bounded only to fail rather than hang.
func isoWaitSubscribers(t *testing.T, app *apptest.App, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for app.Broker.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("broker has %d subscriptions, want %d", app.Broker.Subscribers(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
