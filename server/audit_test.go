package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

// auditEv is an audit event as the API returns it.
type auditEv struct {
	ID         string   `json:"id"`
	CreatedAt  string   `json:"createdAt"`
	ActorKind  string   `json:"actorKind"`
	ActorKeyID *string  `json:"actorKeyID"`
	ActorName  string   `json:"actorName"`
	Operation  string   `json:"operation"`
	TargetID   *string  `json:"targetID"`
	RelatedIDs []string `json:"relatedIDs"`
	Fields     []string `json:"fields"`
	Outcome    string   `json:"outcome"`
}

func (e auditEv) target() string {
	if e.TargetID == nil {
		return ""
	}
	return *e.TargetID
}

type auditPage struct {
	Events    []auditEv
	HasNext   bool
	EndCursor *string
	Raw       string
}

const auditQuery = `query($target: ID, $since: Time, $until: Time, $first: Int, $after: Cursor) {
  auditEvents(targetID: $target, since: $since, until: $until, first: $first, after: $after) {
    edges { cursor node { id createdAt actorKind actorKeyID actorName operation targetID relatedIDs fields outcome } }
    pageInfo { hasNextPage endCursor }
  }
}`

// auditList reads one page of the client's organization's audit trail.
func auditList(t *testing.T, c *apptest.Client, vars map[string]any) auditPage {
	t.Helper()
	r := c.Do(t, auditQuery, vars)
	var got struct {
		AuditEvents struct {
			Edges []struct {
				Cursor string
				Node   auditEv
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	r.Decode(t, &got)
	p := auditPage{HasNext: got.AuditEvents.PageInfo.HasNextPage, EndCursor: got.AuditEvents.PageInfo.EndCursor, Raw: string(r.Data)}
	for _, e := range got.AuditEvents.Edges {
		p.Events = append(p.Events, e.Node)
	}
	return p
}

// auditWant is what an audit event must say.
type auditWant struct {
	operation string
	keyID     pulid.ID // "" for a key whose ID the test does not know
	keyName   string
	target    pulid.ID
	related   []pulid.ID
	fields    []string
	outcome   string
}

func auditCheck(t *testing.T, e auditEv, w auditWant) {
	t.Helper()
	if e.Operation != w.operation || e.ActorKind != "API_KEY" || e.ActorKeyID == nil || e.ActorName != w.keyName ||
		(w.keyID != "" && *e.ActorKeyID != string(w.keyID)) {
		t.Errorf("event %+v: want %s by API key %q (%s)", e, w.operation, w.keyName, w.keyID)
	}
	if e.target() != string(w.target) {
		t.Errorf("%s: target %q, want %q", w.operation, e.target(), w.target)
	}
	for _, id := range w.related {
		if !slices.Contains(e.RelatedIDs, string(id)) {
			t.Errorf("%s: related %v lacks %s", w.operation, e.RelatedIDs, id)
		}
	}
	if w.fields == nil {
		w.fields = []string{}
	}
	if !slices.Equal(e.Fields, w.fields) {
		t.Errorf("%s: fields %v, want %v", w.operation, e.Fields, w.fields)
	}
	if e.Outcome != w.outcome {
		t.Errorf("%s: outcome %q, want %q", w.operation, e.Outcome, w.outcome)
	}
}

// outcomeOf is the outcome a response must be recorded with.
func outcomeOf(r apptest.Response) string {
	if c := r.Code(); c != "" {
		return c
	}
	return "ok"
}

// auditMutations are the fields of the schema's Mutation type, read by
// introspection: a mutation added later must be covered here too.
func auditMutations(t *testing.T, c *apptest.Client) []string {
	t.Helper()
	var got struct {
		Type struct{ Fields []struct{ Name string } } `json:"__type"`
	}
	c.MustDo(t, `{ __type(name: "Mutation") { fields { name } } }`, nil, &got)
	var names []string
	for _, f := range got.Type.Fields {
		names = append(names, f.Name)
	}
	if len(names) < 10 {
		t.Fatalf("introspection found mutations %v", names)
	}
	return names
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		boot := app.Client(app.Key(t, "audit", schematype.RoleAdmin))
		reader := app.Client(app.Key(t, "audit", schematype.RoleViewer))
		org := isoOrgID(t, boot)

		// Everything that must never appear in the trail: credential
		// values, contact data, transcripts, API keys.
		var secrets []string
		covered := map[string]bool{}
		// mutate runs a mutation as c and checks the newest event.
		mutate := func(t *testing.T, c *apptest.Client, query string, vars map[string]any, w func(r apptest.Response) auditWant) apptest.Response {
			t.Helper()
			r := c.Do(t, query, vars)
			want := w(r)
			if want.outcome == "" {
				want.outcome = outcomeOf(r)
			}
			p := auditList(t, boot, map[string]any{"first": 1})
			if len(p.Events) != 1 {
				t.Fatalf("%s left no audit event", want.operation)
			}
			auditCheck(t, p.Events[0], want)
			covered[want.operation] = true
			return r
		}
		data := func(t *testing.T, r apptest.Response, v any) {
			t.Helper()
			r.Decode(t, v)
		}

		// A named key, created through the API, acts for the rest.
		var created struct {
			CreateAPIKey struct {
				Key    string
				APIKey struct{ ID pulid.ID }
			}
		}
		mutate(t, boot, `mutation { createAPIKey(input: {name: "audit admin", role: ADMIN}) { key apiKey { id } } }`, nil,
			func(r apptest.Response) auditWant {
				data(t, r, &created)
				return auditWant{operation: "createAPIKey", target: created.CreateAPIKey.APIKey.ID, fields: []string{"name", "role"}, outcome: "ok"}
			})
		adminKey, adminID := created.CreateAPIKey.Key, created.CreateAPIKey.APIKey.ID
		secrets = append(secrets, adminKey)
		admin := app.Client(adminKey)
		as := func(w auditWant) auditWant { w.keyID, w.keyName = adminID, "audit admin"; return w }

		var cmp pulid.ID
		mutate(t, admin, `mutation { createCampaign(input: {name: "Nurses", phoneRegion: "DE"}) { id } }`, nil,
			func(r apptest.Response) auditWant {
				var got struct{ CreateCampaign struct{ ID pulid.ID } }
				data(t, r, &got)
				cmp = got.CreateCampaign.ID
				return as(auditWant{operation: "createCampaign", target: cmp, fields: []string{"name", "phoneRegion"}, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { updateCampaign(id: $id, input: {name: "Nurses Berlin"}) { id } }`, map[string]any{"id": cmp},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "updateCampaign", target: cmp, fields: []string{"name"}, outcome: "ok"})
			})
		unknown := pulid.New("cmp")
		mutate(t, admin, `mutation($id: ID!) { updateCampaign(id: $id, input: {phoneRegion: "AT"}) { id } }`, map[string]any{"id": unknown},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "updateCampaign", target: unknown, fields: []string{"phoneRegion"}, outcome: "NOT_FOUND"})
			})

		creds := map[string]any{}
		for k, v := range app.Fakes.Credentials(schematype.ProviderTalention) {
			creds[k] = v
			if k != "baseURL" {
				secrets = append(secrets, v)
			}
		}
		var integ pulid.ID
		mutate(t, admin, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"provider": "TALENTION", "name": "Talention", "credentials": creds}},
			func(r apptest.Response) auditWant {
				var got struct{ ConnectIntegration struct{ ID pulid.ID } }
				data(t, r, &got)
				integ = got.ConnectIntegration.ID
				return as(auditWant{operation: "connectIntegration", target: integ, fields: []string{"credentials", "name", "provider"}, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { checkIntegration(id: $id) { id } }`, map[string]any{"id": integ},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "checkIntegration", target: integ, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { setIntegrationRateLimit(id: $id, rateLimit: {requests: 50, intervalSeconds: 10}) { id } }`, map[string]any{"id": integ},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "setIntegrationRateLimit", target: integ, fields: []string{"rateLimit"}, outcome: "ok"})
			})

		// A preview records the integration it read and the fields it was
		// given, never the description itself.
		mutate(t, admin, `mutation($in: PreviewScreeningInput!) { previewScreening(input: $in) { screening records { externalID } } }`,
			map[string]any{"in": map[string]any{"integrationID": integ, "description": "senior nurses near Hamburg", "sample": 3}},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "previewScreening", related: []pulid.ID{integ},
					fields: []string{"description", "integrationID", "sample"}, outcome: "ok"})
			})
		secrets = append(secrets, "senior nurses near Hamburg")

		// A refused configuration records its code, and the IDs it named.
		mutate(t, admin, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"campaignID": cmp, "integrationID": integ, "enabled": true, "syncIntervalSeconds": 5}},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "configureTrigger", related: []pulid.ID{cmp, integ},
					fields: []string{"campaignID", "enabled", "integrationID", "syncIntervalSeconds"}, outcome: "VALIDATION_FAILED"})
			})
		var trg pulid.ID
		mutate(t, admin, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"campaignID": cmp, "integrationID": integ, "enabled": true,
				"description": "senior nurses", "pushbackEnabled": true}},
			func(r apptest.Response) auditWant {
				var got struct{ ConfigureTrigger struct{ ID pulid.ID } }
				data(t, r, &got)
				trg = got.ConfigureTrigger.ID
				return as(auditWant{operation: "configureTrigger", target: trg, related: []pulid.ID{cmp, integ},
					fields: []string{"campaignID", "description", "enabled", "integrationID", "pushbackEnabled"}, outcome: "ok"})
			})

		var run pulid.ID
		mutate(t, admin, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trg},
			func(r apptest.Response) auditWant {
				var got struct{ TestSync struct{ ID pulid.ID } }
				data(t, r, &got)
				run = got.TestSync.ID
				return as(auditWant{operation: "testSync", target: trg, related: []pulid.ID{run}, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { cancelSyncRun(id: $id) { id } }`, map[string]any{"id": run},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "cancelSyncRun", target: run, outcome: "ok"})
			})

		// A call result: its contact's phone and name and its transcript
		// never reach the trail.
		const phone, firstName, transcript = "+4915112345678", "Erika-Audit", "Transcript-Canary: call me at 0151 12345678"
		secrets = append(secrets, phone, firstName, "Transcript-Canary", "12345678")
		contact, err := app.DB.Store.Client.Contact.Create().SetCampaignID(cmp).SetTriggerID(trg).
			SetPhoneE164(phone).SetPhoneRaw("0151 12345678").SetExternalID("audit-1").SetFirstName(firstName).
			Save(isoOrgCtx(org))
		if err != nil {
			t.Fatal(err)
		}
		var pushback pulid.ID
		mutate(t, admin, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id pushback { id } } }`,
			map[string]any{"in": map[string]any{"contactID": contact.ID, "outcome": "SUCCESS", "transcript": transcript,
				"questionResults": []any{map[string]any{"question": "Phone?", "answer": phone}},
				"calledAt":        time.Now().UTC().Format(time.RFC3339)}},
			func(r apptest.Response) auditWant {
				var got struct {
					RecordCallResult struct {
						ID       pulid.ID
						Pushback *struct{ ID pulid.ID }
					}
				}
				data(t, r, &got)
				if got.RecordCallResult.Pushback == nil {
					t.Fatal("the call result has no pushback")
				}
				pushback = got.RecordCallResult.Pushback.ID
				return as(auditWant{operation: "recordCallResult", target: got.RecordCallResult.ID, related: []pulid.ID{contact.ID},
					fields: []string{"calledAt", "contactID", "outcome", "questionResults", "transcript"}, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { retryPushback(id: $id) { id } }`, map[string]any{"id": pushback},
			func(apptest.Response) auditWant {
				// ok or a refusal, as the caller was answered: the
				// pushback may not be DEAD.
				return as(auditWant{operation: "retryPushback", target: pushback})
			})
		// Erasures name the contact, never the number.
		mutate(t, admin, `mutation($p: String!) { erasePerson(phone: $p) { contacts } }`, map[string]any{"p": phone},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "erasePerson", fields: []string{"phone"}, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { eraseContact(id: $id) { contacts } }`, map[string]any{"id": contact.ID},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "eraseContact", target: contact.ID, outcome: "ok"})
			})
		// The do-not-call list: field names, never the number or the note.
		secrets = append(secrets, "+4915199887766", "Note-Canary")
		mutate(t, admin, `mutation { addDoNotCall(phone: "+4915199887766", note: "Note-Canary") { id } }`, nil,
			func(r apptest.Response) auditWant {
				var got struct{ AddDoNotCall struct{ ID pulid.ID } }
				data(t, r, &got)
				return as(auditWant{operation: "addDoNotCall", target: got.AddDoNotCall.ID, fields: []string{"note", "phone"}, outcome: "ok"})
			})
		secrets = append(secrets, "+4915199887755", "0151 99887744", "Import-Canary")
		mutate(t, admin, `mutation { importDoNotCall(input: {phones: ["+4915199887755", "0151 99887744"], phoneRegion: "DE", note: "Import-Canary"}) { added } }`, nil,
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "importDoNotCall", fields: []string{"note", "phoneRegion", "phones"}, outcome: "ok"})
			})
		mutate(t, admin, `mutation { removeDoNotCall(phone: "+4915199887766") }`, nil,
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "removeDoNotCall", fields: []string{"phone"}, outcome: "ok"})
			})

		t.Run("a webhook-started sync is recorded", func(t *testing.T) {
			// Wait until no run is active and the scheduler has queued the
			// trigger's first sync (its next one is 15 minutes away): a
			// webhook starts no second run while one is active.
			deadline := time.Now().Add(30 * time.Second)
			for {
				var got struct {
					Node struct {
						NextSyncAt *time.Time
						LastRun    *struct{ Status string }
					}
				}
				admin.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { nextSyncAt lastRun { status } } } }`, map[string]any{"id": trg}, &got)
				lr, next := got.Node.LastRun, got.Node.NextSyncAt
				if lr != nil && lr.Status != "QUEUED" && lr.Status != "RUNNING" && next != nil && next.After(time.Now().Add(time.Minute)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the trigger's runs did not end")
				}
				time.Sleep(20 * time.Millisecond)
			}
			secret := app.Fakes.Credentials(schematype.ProviderTalention)["webhookSecret"]
			body := []byte(`{"type":"application.created","data":{"application_id":"app_7"}}`)
			if got := post(t, app.URL+"/webhooks/talention/"+string(integ), atsfake.SignWebhook(secret, "audit-1", time.Now(), body), body); got != http.StatusAccepted {
				t.Fatalf("webhook: status %d", got)
			}
			p := auditList(t, admin, map[string]any{"first": 1})
			if len(p.Events) != 1 {
				t.Fatal("no event")
			}
			e := p.Events[0]
			if e.Operation != "webhookSync" || e.ActorKind != "WEBHOOK" || e.ActorKeyID != nil || e.ActorName != "TALENTION" ||
				e.target() != string(trg) || !slices.Contains(e.RelatedIDs, string(integ)) || len(e.RelatedIDs) != 2 || e.Outcome != "ok" {
				t.Fatalf("webhook event %+v, want webhookSync of %s (integration %s, and its run)", e, trg, integ)
			}
		})

		t.Run("a read-only key's refused mutation is recorded as FORBIDDEN", func(t *testing.T) {
			r := reader.Do(t, `mutation($id: ID!) { deleteCampaign(id: $id) }`, map[string]any{"id": cmp})
			if r.Code() != "FORBIDDEN" {
				t.Fatalf("code %q, want FORBIDDEN", r.Code())
			}
			p := auditList(t, admin, map[string]any{"first": 1})
			e := p.Events[0]
			if e.Operation != "deleteCampaign" || e.Outcome != "FORBIDDEN" || e.ActorKind != "API_KEY" ||
				e.ActorKeyID == nil || *e.ActorKeyID == string(adminID) || e.target() != string(cmp) {
				t.Fatalf("event %+v, want the reader's FORBIDDEN deleteCampaign of %s", e, cmp)
			}
			if r := reader.Do(t, auditQuery, nil); r.Code() != "FORBIDDEN" {
				t.Fatalf("a read-only key reading the trail: %+v, want FORBIDDEN", r.Errors)
			}
		})

		// The remaining mutations, last because they end what the others use.
		mutate(t, admin, `mutation($id: ID!) { disconnectIntegration(id: $id) { id } }`, map[string]any{"id": integ},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "disconnectIntegration", target: integ, outcome: "ok"})
			})
		mutate(t, admin, `mutation($id: ID!) { deleteCampaign(id: $id) }`, map[string]any{"id": cmp},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "deleteCampaign", target: cmp, outcome: "ok"})
			})
		var other struct {
			CreateAPIKey struct{ APIKey struct{ ID pulid.ID } }
		}
		admin.MustDo(t, `mutation { createAPIKey(input: {name: "to revoke", role: VIEWER}) { apiKey { id } } }`, nil, &other)
		mutate(t, admin, `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": other.CreateAPIKey.APIKey.ID},
			func(apptest.Response) auditWant {
				return as(auditWant{operation: "revokeAPIKey", target: other.CreateAPIKey.APIKey.ID, outcome: "ok"})
			})
		// Two mutations in one request are two events.
		r := admin.Do(t, `mutation { a: createCampaign(input: {name: "A"}) { id } b: createCampaign(input: {name: ""}) { id } }`, nil)
		if p := auditList(t, admin, map[string]any{"first": 2}); len(p.Events) != 2 ||
			p.Events[0].Outcome != "VALIDATION_FAILED" || p.Events[0].target() != "" ||
			p.Events[1].Outcome != "ok" || p.Events[1].target() == "" {
			t.Errorf("two createCampaign fields (errors %+v): events %+v, want ok then VALIDATION_FAILED", r.Errors, p.Events)
		}

		t.Run("every mutation of the schema is recorded", func(t *testing.T) {
			for _, m := range auditMutations(t, admin) {
				if !covered[m] {
					t.Errorf("mutation %s: no audit event checked; add it to TestAuditTrail", m)
				}
			}
		})

		all := auditList(t, admin, map[string]any{"first": 100})
		t.Run("no credential, contact data or key in any event", func(t *testing.T) {
			if len(all.Events) < 20 || all.HasNext {
				t.Fatalf("%d events (more: %v)", len(all.Events), all.HasNext)
			}
			for _, s := range secrets {
				if strings.Contains(all.Raw, s) {
					t.Errorf("the audit trail holds %q: %s", s, all.Raw)
				}
			}
			// And the rows themselves, read past the API.
			rows, err := app.DB.Store.Client.AuditEvent.Query().All(isoOrgCtx(org))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(rows)
			for _, s := range secrets {
				if strings.Contains(string(raw), s) {
					t.Errorf("an audit row holds %q", s)
				}
			}
		})

		t.Run("newest first, paginated without gaps or repeats", func(t *testing.T) {
			for i := 1; i < len(all.Events); i++ {
				a, _ := time.Parse(time.RFC3339Nano, all.Events[i-1].CreatedAt)
				b, _ := time.Parse(time.RFC3339Nano, all.Events[i].CreatedAt)
				if a.Before(b) {
					t.Fatalf("event %d (%s) is older than event %d (%s)", i-1, a, i, b)
				}
			}
			var paged []auditEv
			vars := map[string]any{"first": 3}
			for range 100 {
				p := auditList(t, admin, vars)
				paged = append(paged, p.Events...)
				if !p.HasNext {
					break
				}
				vars["after"] = *p.EndCursor
			}
			if len(paged) != len(all.Events) {
				t.Fatalf("pages hold %d events, the list %d", len(paged), len(all.Events))
			}
			for i := range paged {
				if paged[i].ID != all.Events[i].ID {
					t.Fatalf("page order differs at %d: %s, want %s", i, paged[i].ID, all.Events[i].ID)
				}
			}
			if r := admin.Do(t, auditQuery, map[string]any{"after": "bm90IGEgY3Vyc29y"}); len(r.Errors) == 0 {
				t.Errorf("a bogus cursor was accepted")
			}
		})

		t.Run("filters by target and time", func(t *testing.T) {
			p := auditList(t, admin, map[string]any{"target": trg})
			var ops []string
			for _, e := range p.Events {
				if e.target() != string(trg) {
					t.Errorf("event %+v is not about %s", e, trg)
				}
				ops = append(ops, e.Operation)
			}
			if want := []string{"webhookSync", "testSync", "configureTrigger"}; !slices.Equal(ops, want) {
				t.Errorf("events of the trigger: %v, want %v", ops, want)
			}
			mid := all.Events[len(all.Events)/2]
			since := auditList(t, admin, map[string]any{"since": mid.CreatedAt, "first": 100})
			until := auditList(t, admin, map[string]any{"until": mid.CreatedAt, "first": 100})
			if len(since.Events)+len(until.Events) != len(all.Events) || !slices.ContainsFunc(since.Events, func(e auditEv) bool { return e.ID == mid.ID }) {
				t.Errorf("since %s: %d events, until: %d, of %d; since must hold the event itself",
					mid.CreatedAt, len(since.Events), len(until.Events), len(all.Events))
			}
			window := auditList(t, admin, map[string]any{"since": mid.CreatedAt, "until": mid.CreatedAt})
			if len(window.Events) != 0 {
				t.Errorf("an empty window holds %d events", len(window.Events))
			}
		})

		t.Run("retention removes old events and keeps recent ones", func(t *testing.T) {
			ctx := context.Background()
			old, err := app.DB.Store.Client.AuditEvent.Create().SetOrganizationID(org).
				SetActorKind(schematype.ActorSystem).SetOperation("old").SetOutcome("ok").
				SetCreatedAt(time.Now().UTC().Add(-400 * 24 * time.Hour)).Save(viewer.SystemContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if p := auditList(t, admin, map[string]any{"until": time.Now().UTC().Add(-399 * 24 * time.Hour).Format(time.RFC3339Nano)}); len(p.Events) != 1 || p.Events[0].ID != string(old.ID) {
				t.Fatalf("the old event is not listed: %+v", p.Events)
			}
			n, err := app.Engine.PruneAudit(ctx, time.Now().UTC().Add(-365*24*time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("pruned %d (%v), want the 1 old event", n, err)
			}
			after := auditList(t, admin, map[string]any{"first": 100})
			if len(after.Events) != len(all.Events) {
				t.Fatalf("%d events after pruning, want the %d recent ones", len(after.Events), len(all.Events))
			}
		})
	})
}
