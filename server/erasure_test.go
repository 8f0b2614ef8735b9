package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// erContact is a contact as the erasure tests read it.
type erContact struct {
	ID            string
	PhoneE164     string
	PhoneRaw      string
	FirstName     *string
	LastName      *string
	Email         *string
	ExternalID    string
	Attributes    map[string]any
	ErasedAt      *time.Time
	ErasureReason *string
	Callable      bool
}

const erContactFields = `id phoneE164 phoneRaw firstName lastName email externalID attributes erasedAt erasureReason callable`

func erGetContact(t *testing.T, e *syncEnv, id string) erContact {
	t.Helper()
	var got struct{ Node erContact }
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Contact { `+erContactFields+` } } }`, map[string]any{"id": id}, &got)
	return got.Node
}

// erContactOf returns the campaign's contact with the number, if any,
// reading every page of the campaign's contacts.
func erContactOf(t *testing.T, e *syncEnv, campaign, e164 string) (erContact, bool) {
	t.Helper()
	var after any
	for {
		var got struct {
			Node struct {
				Contacts struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct{ Node erContact }
				}
			}
		}
		e.c.MustDo(t, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on Campaign { contacts(first: 100, after: $after) {
			pageInfo { hasNextPage endCursor } edges { node { `+erContactFields+` } } } } } }`,
			map[string]any{"id": campaign, "after": after}, &got)
		cs := got.Node.Contacts
		for _, edge := range cs.Edges {
			if edge.Node.PhoneE164 == e164 {
				return edge.Node, true
			}
		}
		if !cs.PageInfo.HasNextPage {
			return erContact{}, false
		}
		after = *cs.PageInfo.EndCursor
	}
}

func erCheckErased(t *testing.T, c erContact, reason string) {
	t.Helper()
	if c.ErasedAt == nil || c.Callable || c.PhoneE164 != "" || c.PhoneRaw != "" || c.FirstName != nil || c.LastName != nil ||
		c.Email != nil || c.ExternalID != "" || len(c.Attributes) != 0 || c.ErasureReason == nil || !strings.Contains(*c.ErasureReason, reason) {
		t.Errorf("contact %s is not erased as it should be (%q): %+v", c.ID, reason, c)
	}
}

// erNoTrace fails when any row of the organization, in any table that can
// hold personal data, still holds one of the needles.
func erNoTrace(t *testing.T, app *apptest.App, needles ...string) {
	t.Helper()
	db := app.DB.Store.DB
	for _, table := range []string{"contacts", "call_results", "import_issues", "pushbacks", "audit_events", "erasures", "sync_runs"} {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				for _, n := range needles {
					if n != "" && strings.Contains(string(v), n) {
						t.Errorf("%s.%s still holds %q: %s", table, cols[i], n, v)
					}
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// erPerson returns the index of a person of d with a valid number of their
// own, from start on.
func erPerson(d sandbox.Dataset, start int) int {
	for i := start; i < d.Size; i++ {
		if d.Kind(i) == sandbox.PhoneValid && d.Kind(i+1) != sandbox.PhoneDuplicate && i%50 != 13 {
			return i
		}
	}
	panic("no such person")
}

type erResult struct {
	Contacts            []string
	CallResults         int
	PushbacksCancelled  int
	ImportIssuesDeleted int
}

const erResultFields = `contacts callResults pushbacksCancelled importIssuesDeleted`

type erRun struct {
	ID                                                       string
	Status                                                   string
	Fetched, Imported, Duplicates, InvalidPhone, FilteredOut int
	Failed, ScreenedOut, Erased, DoNotCall                   int
}

func erSync(t *testing.T, e *syncEnv, trigger string) erRun {
	t.Helper()
	id := e.testSync(t, trigger).ID
	return erWait(t, e, id)
}

func erWait(t *testing.T, e *syncEnv, id string) erRun {
	t.Helper()
	var run erRun
	syncEventually(t, "run "+id+" to end", func() (bool, string) {
		var got struct{ Node erRun }
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { id status fetched imported duplicates invalidPhone filteredOut failed screenedOut erased doNotCall } } }`,
			map[string]any{"id": id}, &got)
		run = got.Node
		return syncRun{Status: run.Status}.ended(), fmt.Sprintf("%+v", run)
	})
	if run.Fetched != run.Imported+run.Duplicates+run.InvalidPhone+run.FilteredOut+run.Failed+run.ScreenedOut+run.Erased+run.DoNotCall {
		t.Errorf("counters do not add up: %+v", run)
	}
	return run
}

func erPushbackStatus(t *testing.T, e *syncEnv, id string) (string, string) {
	t.Helper()
	var got struct {
		Node struct {
			Status    string
			LastError *string
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Pushback { status lastError } } }`, map[string]any{"id": id}, &got)
	return got.Node.Status, syncDeref(got.Node.LastError)
}

// TestErasure erases people over HTTP, on both databases: on request
// (eraseContact, erasePerson) and because the external system reports them
// gone (HubSpot's contact.deletion and contact.privacyDeletion webhooks),
// also while a sync runs and while a pushback is on its way. Afterwards no
// row of any table holds the person's number, e-mail or transcript, the
// contacts are not callable, undelivered pushbacks are CANCELLED, and no
// later sync imports the person again.
func TestErasure(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			data := syncNow(91, 40)
			var failNotes atomic.Bool
			var held atomic.Pointer[apptest.SyncGate]
			fk := apptest.StartSyncFakes(t, data, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes") {
						if failNotes.Load() {
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(http.StatusServiceUnavailable)
							_, _ = w.Write([]byte(`{"status":"error","message":"try later"}`))
							return
						}
						if g := held.Load(); g != nil {
							g.Wrap(next).ServeHTTP(w, r)
							return
						}
					}
					next.ServeHTTP(w, r)
				})
			})
			e := syncNewEnv(t, app)
			tal := e.connect(t, fk, schematype.ProviderTalention)
			first, second := e.newCampaign(t, "first"), e.newCampaign(t, "second")
			trig1 := e.trigger(t, first, tal, map[string]any{"pushbackEnabled": true})
			trig2 := e.trigger(t, second, tal, nil)
			if r := erSync(t, e, trig1); r.Status != "SUCCEEDED" || r.Imported == 0 {
				t.Fatalf("first sync: %+v", r)
			}
			if r := erSync(t, e, trig2); r.Status != "SUCCEEDED" {
				t.Fatalf("second sync: %+v", r)
			}

			// erasePerson: the person's contacts in both campaigns, a call
			// result's transcript, and its pushback, which the external
			// system keeps refusing.
			pi := erPerson(data, 0)
			p := data.Person(pi)
			c1, ok1 := erContactOf(t, e, first, p.E164)
			c2, ok2 := erContactOf(t, e, second, p.E164)
			if !ok1 || !ok2 {
				t.Fatalf("person %d (%s) is not a contact of both campaigns", pi, p.E164)
			}
			failNotes.Store(true)
			const transcript = "Erasure-Canary transcript: reach me at home"
			var call struct {
				RecordCallResult struct {
					ID       string
					Pushback *struct{ ID string }
				}
			}
			e.c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id pushback { id } } }`,
				map[string]any{"in": map[string]any{"contactID": c1.ID, "outcome": "SUCCESS", "transcript": transcript,
					"questionResults": []any{map[string]any{"question": "Your e-mail?", "answer": p.Email}},
					"calledAt":        time.Now().UTC().Format(time.RFC3339)}}, &call)
			if call.RecordCallResult.Pushback == nil {
				t.Fatal("the call result has no pushback")
			}
			pb := call.RecordCallResult.Pushback.ID
			syncEventually(t, "the pushback to fail once", func() (bool, string) {
				st, msg := erPushbackStatus(t, e, pb)
				return st == "RETRYING", st + " " + msg
			})

			var erased struct{ ErasePerson erResult }
			e.c.MustDo(t, `mutation($p: String!) { erasePerson(phone: $p) { `+erResultFields+` } }`, map[string]any{"p": p.E164}, &erased)
			got := erased.ErasePerson
			if len(got.Contacts) != 2 || got.CallResults != 1 || got.PushbacksCancelled != 1 {
				t.Fatalf("erasePerson: %+v, want the 2 contacts, 1 call result, 1 pushback", got)
			}
			erCheckErased(t, erGetContact(t, e, c1.ID), "erasePerson")
			erCheckErased(t, erGetContact(t, e, c2.ID), "erasePerson")
			if st, msg := erPushbackStatus(t, e, pb); st != "CANCELLED" || !strings.Contains(msg, "erased") {
				t.Errorf("the pushback is %s (%q), want CANCELLED because the contact was erased", st, msg)
			}
			failNotes.Store(false)
			time.Sleep(300 * time.Millisecond) // a retry that was due finds it CANCELLED
			if st, _ := erPushbackStatus(t, e, pb); st != "CANCELLED" {
				t.Errorf("the cancelled pushback became %s", st)
			}
			erNoTrace(t, app, p.E164, strings.TrimPrefix(p.E164, "+"), p.Email, p.Phones[len(p.Phones)-1], "Erasure-Canary")

			// What an erased contact refuses.
			r := e.c.Do(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"contactID": c1.ID, "outcome": "SUCCESS", "calledAt": time.Now().UTC().Format(time.RFC3339)}})
			if r.Code() != "VALIDATION_FAILED" || r.Field() != "input.contactID" {
				t.Errorf("a call result for an erased contact: %s on %q, want VALIDATION_FAILED on input.contactID", r.Code(), r.Field())
			}
			if r := e.c.Do(t, `mutation($id: ID!) { retryPushback(id: $id) { id } }`, map[string]any{"id": pb}); r.Code() != "VALIDATION_FAILED" {
				t.Errorf("retrying a CANCELLED pushback: %s, want VALIDATION_FAILED", r.Code())
			}

			// A new campaign syncing the same records does not import the
			// person again.
			third := e.newCampaign(t, "third")
			run := erSync(t, e, e.trigger(t, third, tal, nil))
			if run.Status != "SUCCEEDED" || run.Erased != 1 {
				t.Errorf("a later sync: %+v, want SUCCEEDED with the erased person as its one ERASED record", run)
			}
			if _, ok := erContactOf(t, e, third, p.E164); ok {
				t.Errorf("a later sync imported the erased person %s again", p.E164)
			}
			for _, is := range e.issues(t, run.ID) {
				if is.Code == "ERASED" && (is.ExternalID != "" || is.RawPhone != nil) {
					t.Errorf("the ERASED issue keeps the record: %+v", is)
				}
			}

			// eraseContact, twice; its refusals.
			qi := erPerson(data, pi+2)
			q, _ := erContactOf(t, e, second, data.Person(qi).E164)
			var one struct{ EraseContact erResult }
			e.c.MustDo(t, `mutation($id: ID!) { eraseContact(id: $id) { `+erResultFields+` } }`, map[string]any{"id": q.ID}, &one)
			if len(one.EraseContact.Contacts) != 1 || one.EraseContact.Contacts[0] != q.ID {
				t.Errorf("eraseContact: %+v, want contact %s", one.EraseContact, q.ID)
			}
			erCheckErased(t, erGetContact(t, e, q.ID), "eraseContact")
			e.c.MustDo(t, `mutation($id: ID!) { eraseContact(id: $id) { `+erResultFields+` } }`, map[string]any{"id": q.ID}, &one)
			if len(one.EraseContact.Contacts) != 0 {
				t.Errorf("erasing an erased contact again: %+v, want nothing", one.EraseContact)
			}
			for _, bad := range []struct {
				c           *apptest.Client
				query       string
				vars        map[string]any
				code, field string
			}{
				{e.c, `mutation($p: String!) { erasePerson(phone: $p) { contacts } }`, map[string]any{"p": "0151 1234567"}, "VALIDATION_FAILED", "phone"},
				{e.c, `mutation($p: String!) { erasePerson(phone: $p) { contacts } }`, map[string]any{"p": "+49 0000"}, "VALIDATION_FAILED", "phone"},
				{e.c, `mutation($id: ID!) { eraseContact(id: $id) { contacts } }`, map[string]any{"id": "con_nope"}, "NOT_FOUND", "id"},
				{app.Client(app.Key(t, string(pulid.New("org")), schematype.RoleAdmin)), `mutation($id: ID!) { eraseContact(id: $id) { contacts } }`,
					map[string]any{"id": c2.ID}, "NOT_FOUND", "id"},
			} {
				if r := bad.c.Do(t, bad.query, bad.vars); r.Code() != bad.code || r.Field() != bad.field {
					t.Errorf("%s %v: %s on %q, want %s on %s", bad.query, bad.vars, r.Code(), r.Field(), bad.code, bad.field)
				}
			}

			// A pushback on its way when its contact is erased: the
			// delivery completes, and says so.
			gate := apptest.NewSyncGate(func(*http.Request) bool { return true })
			held.Store(gate)
			ri := erPerson(data, qi+2)
			rc, ok := erContactOf(t, e, first, data.Person(ri).E164)
			if !ok {
				t.Fatalf("person %d is not a contact", ri)
			}
			e.c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id pushback { id } } }`,
				map[string]any{"in": map[string]any{"contactID": rc.ID, "outcome": "FAILURE", "transcript": transcript,
					"calledAt": time.Now().UTC().Format(time.RFC3339)}}, &call)
			syncEventually(t, "the delivery to reach the external system", func() (bool, string) {
				return gate.Arrived() > 0, "no request yet"
			})
			e.c.MustDo(t, `mutation($id: ID!) { eraseContact(id: $id) { `+erResultFields+` } }`, map[string]any{"id": rc.ID}, &one)
			if one.EraseContact.PushbacksCancelled != 1 {
				t.Errorf("erasing a contact with a delivery on its way: %+v, want its pushback cancelled", one.EraseContact)
			}
			gate.Open()
			syncEventually(t, "the delivery on its way to settle", func() (bool, string) {
				st, msg := erPushbackStatus(t, e, call.RecordCallResult.Pushback.ID)
				return st == "DELIVERED", st + " " + msg
			})
			// The person stays a contact of the other campaigns: only this
			// contact, with its call's transcript, is gone.
			erNoTrace(t, app, "Erasure-Canary")

			// zvoove's change log reports people deleted, anonymised or
			// removed: a talent pool sync erases the contacts another
			// campaign imported of them.
			zd := sandbox.Dataset{Seed: 95, Size: 60, Step: time.Minute}.AnchoredAt(time.Now().Add(-24 * time.Hour))
			zfk := apptest.StartSyncFakes(t, zd, nil)
			zvo := e.connect(t, zfk, schematype.ProviderZvoove)
			applicants, pool := e.newCampaign(t, "zvoove applicants"), e.newCampaign(t, "zvoove pool")
			if r := erSync(t, e, e.trigger(t, applicants, zvo, nil)); r.Status != "SUCCEEDED" || r.Erased != 0 {
				t.Fatalf("the zvoove applicants' sync: %+v", r)
			}
			goneIDs := map[int]string{20: "Deleted", 30: "Anonymized", 40: "Removed_due_to_legal_reasons"}
			before := map[int]erContact{}
			for i := range goneIDs {
				c, ok := erContactOf(t, e, applicants, zd.Person(i).E164)
				if !ok {
					t.Fatalf("zvoove person %d is not a contact", i)
				}
				before[i] = c
			}
			run = erSync(t, e, e.trigger(t, pool, zvo, map[string]any{
				"searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": 30}}))
			if run.Status != "SUCCEEDED" || run.Erased != len(goneIDs) || run.Imported == 0 {
				t.Errorf("the zvoove talent pool sync: %+v, want SUCCEEDED with %d people erased", run, len(goneIDs))
			}
			for i, status := range goneIDs {
				erCheckErased(t, erGetContact(t, e, before[i].ID), status)
				if _, ok := erContactOf(t, e, pool, zd.Person(i).E164); ok {
					t.Errorf("the talent pool sync imported person %d, whom zvoove reports %s", i, status)
				}
				erNoTrace(t, app, zd.Person(i).E164, zd.Person(i).Email)
			}

			// HubSpot reports people deleted, also while a sync runs and
			// their page is still to come.
			big := syncNow(93, 450) // HubSpot's search pages of 200: three pages
			var searches atomic.Int64
			hold := apptest.NewSyncGate(func(r *http.Request) bool {
				return strings.HasSuffix(r.URL.Path, "/crm/v3/objects/contacts/search") && searches.Add(1) == 2
			})
			hfk := apptest.StartSyncFakes(t, big, hold.Wrap)
			hub := e.connect(t, hfk, schematype.ProviderHubSpot)
			fourth := e.newCampaign(t, "hubspot")
			hubTrig := e.trigger(t, fourth, hub, nil)
			runID := e.testSync(t, hubTrig).ID
			syncEventually(t, "the sync to wait for its second page", func() (bool, string) { return hold.Arrived() > 0, "not yet" })
			late := erPerson(big, big.Size-30) // on the last page
			hookURL := app.URL + "/webhooks/hubspot/" + hub
			body, h := hfk.HubSpot.Webhook(hookURL, hubspotfake.WebhookEvent{EventID: 1, SubscriptionType: "contact.privacyDeletion",
				ObjectID: int64(100000 + late), OccurredAt: time.Now().UnixMilli()})
			if code := post(t, hookURL, h, body); code != http.StatusAccepted {
				t.Fatalf("the deletion webhook: HTTP %d", code)
			}
			hold.Open()
			run = erWait(t, e, runID)
			if run.Status != "SUCCEEDED" || run.Erased != 1 {
				t.Errorf("the sync that met a person deleted meanwhile: %+v, want SUCCEEDED with 1 erased", run)
			}
			if _, ok := erContactOf(t, e, fourth, big.Person(late).E164); ok {
				t.Errorf("the sync imported person %d, whom HubSpot deleted while it ran", late)
			}

			// And after the sync: both kinds of deletion erase.
			gone1, gone2 := erPerson(big, 0), erPerson(big, 10)
			k1, ok1 := erContactOf(t, e, fourth, big.Person(gone1).E164)
			k2, ok2 := erContactOf(t, e, fourth, big.Person(gone2).E164)
			if !ok1 || !ok2 {
				t.Fatal("the HubSpot people to delete are not contacts")
			}
			body, h = hfk.HubSpot.Webhook(hookURL,
				hubspotfake.WebhookEvent{EventID: 2, SubscriptionType: "contact.deletion", ObjectID: int64(100000 + gone1), OccurredAt: time.Now().UnixMilli()},
				hubspotfake.WebhookEvent{EventID: 3, SubscriptionType: "contact.privacyDeletion", ObjectID: int64(100000 + gone2), OccurredAt: time.Now().UnixMilli()})
			if code := post(t, hookURL, h, body); code != http.StatusAccepted {
				t.Fatalf("the deletion webhook: HTTP %d", code)
			}
			syncEventually(t, "the webhook's erasures", func() (bool, string) {
				a, b := erGetContact(t, e, k1.ID), erGetContact(t, e, k2.ID)
				return a.ErasedAt != nil && b.ErasedAt != nil, fmt.Sprintf("%v %v", a.ErasedAt, b.ErasedAt)
			})
			erCheckErased(t, erGetContact(t, e, k1.ID), "contact.deletion")
			erCheckErased(t, erGetContact(t, e, k2.ID), "contact.privacyDeletion")
			erNoTrace(t, app, big.Person(gone1).E164, big.Person(gone1).Email, big.Person(gone2).E164, big.Person(gone2).Email,
				big.Person(late).E164, big.Person(late).Email)

			// A contact deleted in HubSpot without a webhook is archived
			// there: the next sync finds it among the archived contacts.
			gone3 := erPerson(big, 20)
			k3, ok3 := erContactOf(t, e, fourth, big.Person(gone3).E164)
			if !ok3 || !hfk.HubSpot.Archive(big.ExternalID(gone3), time.Now()) {
				t.Fatal("the HubSpot person to archive is not a contact")
			}
			run = erSync(t, e, hubTrig)
			if run.Status != "SUCCEEDED" || run.Erased != 1 || run.Fetched != 1 {
				t.Errorf("the sync after a contact was archived: %+v, want SUCCEEDED with the archived contact fetched and erased", run)
			}
			erCheckErased(t, erGetContact(t, e, k3.ID), "archived (deleted) in HubSpot")
			erNoTrace(t, app, big.Person(gone3).E164, big.Person(gone3).Email)
			{
				var audit struct {
					AuditEvents struct {
						Edges []struct {
							Node struct{ Operation, ActorKind string }
						}
					}
				}
				e.c.MustDo(t, `{ auditEvents(first: 20) { edges { node { operation actorKind } } } }`, nil, &audit)
				n := 0
				for _, ev := range audit.AuditEvents.Edges {
					if ev.Node.Operation == "webhookErasure" && ev.Node.ActorKind == "WEBHOOK" {
						n++
					}
				}
				if n < 2 {
					t.Errorf("%d webhookErasure events in the audit trail, want one per kind of deletion and webhook", n)
				}
			}
		})
	}
}

// TestDoNotCall checks the organization's do-not-call list over HTTP, on
// both databases: listed numbers are not callable in any campaign at once,
// no sync imports them (DO_NOT_CALL issues), a call result can list its
// contact's number, a number comes off the list again, and another
// organization's list changes nothing here.
func TestDoNotCall(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			data := syncNow(97, 40)
			fk := apptest.StartSyncFakes(t, data, nil)
			e := syncNewEnv(t, app)
			tal := e.connect(t, fk, schematype.ProviderTalention)
			first := e.newCampaign(t, "first")
			if r := erSync(t, e, e.trigger(t, first, tal, nil)); r.Status != "SUCCEEDED" || r.Imported == 0 {
				t.Fatalf("first sync: %+v", r)
			}
			xi, yi := erPerson(data, 0), erPerson(data, 5)
			x, _ := erContactOf(t, e, first, data.Person(xi).E164)
			y, _ := erContactOf(t, e, first, data.Person(yi).E164)
			if x.ID == "" || y.ID == "" || !x.Callable || !y.Callable {
				t.Fatalf("contacts %+v and %+v, want both callable", x, y)
			}

			type dnc struct {
				ID, PhoneE164, Source string
				Note                  *string
			}
			var added struct{ AddDoNotCall dnc }
			const add = `mutation($p: String!, $n: String) { addDoNotCall(phone: $p, note: $n) { id phoneE164 source note } }`
			e.c.MustDo(t, add, map[string]any{"p": x.PhoneE164, "n": "asked by e-mail"}, &added)
			if a := added.AddDoNotCall; a.PhoneE164 != x.PhoneE164 || a.Source != "API" || syncDeref(a.Note) != "asked by e-mail" {
				t.Fatalf("addDoNotCall: %+v", a)
			}
			again := added
			e.c.MustDo(t, add, map[string]any{"p": x.PhoneE164}, &again)
			if again.AddDoNotCall.ID != added.AddDoNotCall.ID {
				t.Errorf("listing a number twice made two entries: %s, %s", added.AddDoNotCall.ID, again.AddDoNotCall.ID)
			}
			if c := erGetContact(t, e, x.ID); c.Callable {
				t.Error("a contact whose number is listed is callable")
			}
			if c := erGetContact(t, e, y.ID); !c.Callable {
				t.Error("a contact whose number is not listed is not callable")
			}

			// Another organization's list is its own.
			other := app.Client(app.Key(t, string(pulid.New("org")), schematype.RoleAdmin))
			other.MustDo(t, add, map[string]any{"p": y.PhoneE164}, &again)
			if c := erGetContact(t, e, y.ID); !c.Callable {
				t.Error("another organization's do-not-call list made a contact here not callable")
			}

			// A new campaign does not import the listed number.
			second := e.newCampaign(t, "second")
			run := erSync(t, e, e.trigger(t, second, tal, nil))
			if run.Status != "SUCCEEDED" || run.DoNotCall != 1 {
				t.Errorf("a sync with a listed number: %+v; want SUCCEEDED with 1 doNotCall", run)
			}
			if _, ok := erContactOf(t, e, second, x.PhoneE164); ok {
				t.Error("a sync imported a listed number")
			}
			found := false
			for _, is := range e.issues(t, run.ID) {
				if is.Code == "DO_NOT_CALL" && is.ExternalID == data.ExternalID(xi) {
					found = true
				}
			}
			if !found {
				t.Error("no DO_NOT_CALL issue for the listed person's record")
			}

			// A call result lists its contact's number.
			var call struct{ RecordCallResult struct{ ID string } }
			e.c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"contactID": y.ID, "outcome": "FAILURE", "doNotCall": true,
					"calledAt": time.Now().UTC().Format(time.RFC3339)}}, &call)
			if c := erGetContact(t, e, y.ID); c.Callable {
				t.Error("a contact who asked not to be called again is callable")
			}
			list := func() []dnc {
				var got struct {
					DoNotCallNumbers struct {
						TotalCount int
						Edges      []struct{ Node dnc }
					}
				}
				e.c.MustDo(t, `{ doNotCallNumbers(first: 10) { totalCount edges { node { id phoneE164 source note } } } }`, nil, &got)
				var out []dnc
				for _, edge := range got.DoNotCallNumbers.Edges {
					out = append(out, edge.Node)
				}
				if got.DoNotCallNumbers.TotalCount != len(out) {
					t.Fatalf("totalCount %d, %d listed", got.DoNotCallNumbers.TotalCount, len(out))
				}
				return out
			}
			if l := list(); len(l) != 2 || l[1].PhoneE164 != y.PhoneE164 || l[1].Source != "CALL_RESULT" {
				t.Errorf("the list after a call result asked for it: %+v", l)
			}

			// Off the list again.
			var removed struct{ RemoveDoNotCall bool }
			const remove = `mutation($p: String!) { removeDoNotCall(phone: $p) }`
			e.c.MustDo(t, remove, map[string]any{"p": x.PhoneE164}, &removed)
			if !removed.RemoveDoNotCall {
				t.Error("removeDoNotCall of a listed number answered false")
			}
			e.c.MustDo(t, remove, map[string]any{"p": x.PhoneE164}, &removed)
			if removed.RemoveDoNotCall {
				t.Error("removeDoNotCall of a number not listed answered true")
			}
			if c := erGetContact(t, e, x.ID); !c.Callable {
				t.Error("a contact whose number came off the list is not callable")
			}
			if l := list(); len(l) != 1 || l[0].PhoneE164 != y.PhoneE164 {
				t.Errorf("the list after a removal: %+v", l)
			}

			// A blocklist brought in at once: national numbers read in
			// the region, repeats counted once, listed numbers kept.
			zi := erPerson(data, 10)
			zc, _ := erContactOf(t, e, first, data.Person(zi).E164)
			if zc.ID == "" || !zc.Callable {
				t.Fatalf("contact %+v, want it callable", zc)
			}
			national := "0" + strings.TrimPrefix(zc.PhoneE164, "+49")
			if !strings.HasPrefix(zc.PhoneE164, "+49") {
				national = zc.PhoneE164
			}
			const imp = `mutation($in: ImportDoNotCallInput!) { importDoNotCall(input: $in) { added alreadyListed } }`
			var imported struct {
				ImportDoNotCall struct{ Added, AlreadyListed int }
			}
			e.c.MustDo(t, imp, map[string]any{"in": map[string]any{"phones": []string{national, "+41 79 123 45 67", y.PhoneE164, national}, "phoneRegion": "DE", "note": "old blocklist"}}, &imported)
			if got := imported.ImportDoNotCall; got.Added != 2 || got.AlreadyListed != 1 {
				t.Errorf("importDoNotCall: %+v, want 2 added and 1 already listed", got)
			}
			if c := erGetContact(t, e, zc.ID); c.Callable {
				t.Error("a contact whose number was imported into the list is callable")
			}
			l := list()
			sources := map[string]string{}
			for _, d := range l {
				sources[d.PhoneE164] = d.Source
			}
			if len(l) != 3 || sources[zc.PhoneE164] != "IMPORT" || sources["+41791234567"] != "IMPORT" || sources[y.PhoneE164] != "CALL_RESULT" {
				t.Errorf("the list after an import: %+v", l)
			}
			// One bad number: nothing is listed.
			for _, bad := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"phones": []string{"+4915112345670", "+4915112345671", "0151 not a number"}, "phoneRegion": "DE"}, "input.phones[2]"},
				{map[string]any{"phones": []string{"+4915112345670", "0151 12345672"}}, "input.phones[1]"},
				{map[string]any{"phones": []string{}}, "input.phones"},
				{map[string]any{"phones": []string{"+4915112345670"}, "phoneRegion": "XX"}, "input.phoneRegion"},
				{map[string]any{"phones": []string{"+4915112345670"}, "note": strings.Repeat("x", 501)}, "input.note"},
			} {
				if r := e.c.Do(t, imp, map[string]any{"in": bad.in}); r.Code() != "VALIDATION_FAILED" || r.Field() != bad.field {
					t.Errorf("importDoNotCall(%v): %s on %q, want VALIDATION_FAILED on %s", bad.in, r.Code(), r.Field(), bad.field)
				}
			}
			if l := list(); len(l) != 3 {
				t.Errorf("a refused import changed the list: %+v", l)
			}

			for _, bad := range []struct {
				c           *apptest.Client
				query       string
				vars        map[string]any
				code, field string
			}{
				{e.c, add, map[string]any{"p": "0151 1234567"}, "VALIDATION_FAILED", "phone"},
				{e.c, add, map[string]any{"p": x.PhoneE164, "n": strings.Repeat("x", 501)}, "VALIDATION_FAILED", "note"},
				{e.c, remove, map[string]any{"p": "nope"}, "VALIDATION_FAILED", "phone"},
				{app.Client(app.Key(t, string(pulid.New("org")), schematype.RoleViewer)), add, map[string]any{"p": x.PhoneE164}, "FORBIDDEN", ""},
			} {
				if r := bad.c.Do(t, bad.query, bad.vars); r.Code() != bad.code || r.Field() != bad.field {
					t.Errorf("%v: %s on %q, want %s on %q", bad.vars, r.Code(), r.Field(), bad.code, bad.field)
				}
			}
		})
	}
}

// TestDoNotCallReplicas checks, on PostgreSQL with two replicas, that the
// do-not-call list lives in the database: a number listed through a call
// result on replica A is refused by the next sync, worked by replica B
// alone, into another campaign, and B's dialer list leaves it out at once.
func TestDoNotCallReplicas(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	data := syncNow(103, 40)
	fk := apptest.StartSyncFakes(t, data, nil)
	a := apptest.StartSyncReplica(t, db, fk)
	b := apptest.StartSyncReplica(t, db, fk)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica A log:\n%s\nreplica B log:\n%s", a.Logs(), b.Logs())
		}
	})
	key := a.Key(t, string(pulid.New("org")), schematype.RoleAdmin)
	ea := &syncEnv{app: a.App, key: key, c: a.Client(key)}
	eb := &syncEnv{app: b.App, key: key, c: b.Client(key)}

	tal := ea.connect(t, fk, schematype.ProviderTalention)
	first := ea.newCampaign(t, "first")
	if r := erSync(t, ea, ea.trigger(t, first, tal, nil)); r.Status != "SUCCEEDED" || r.Imported == 0 {
		t.Fatalf("first sync: %+v", r)
	}
	yi := erPerson(data, 3)
	y, ok := erContactOf(t, eb, first, data.Person(yi).E164)
	if !ok || !y.Callable {
		t.Fatalf("contact %+v (found %v), want it callable", y, ok)
	}
	var call struct{ RecordCallResult struct{ ID string } }
	ea.c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"contactID": y.ID, "outcome": "FAILURE", "doNotCall": true,
			"calledAt": time.Now().UTC().Format(time.RFC3339)}}, &call)
	if c := erGetContact(t, eb, y.ID); c.Callable {
		t.Error("replica B says the contact who asked not to be called again is callable")
	}
	var callable struct {
		CallableContacts struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	eb.c.MustDo(t, `query($c: ID!, $at: Time) { callableContacts(campaignID: $c, at: $at, first: 100) { edges { node { id } } } }`,
		map[string]any{"c": first, "at": "2026-12-07T12:00:00+01:00"}, &callable)
	for _, edge := range callable.CallableContacts.Edges {
		if edge.Node.ID == y.ID {
			t.Error("replica B's dialer list holds the listed contact")
		}
	}
	if len(callable.CallableContacts.Edges) == 0 {
		t.Fatal("replica B's dialer list is empty: the test checks nothing")
	}

	// From now on only B works: A is gone, with whatever it held in memory.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.App.App.Stop(ctx); err != nil {
		t.Fatalf("stopping A: %v", err)
	}
	second := eb.newCampaign(t, "second")
	run := erSync(t, eb, eb.trigger(t, second, tal, nil))
	if run.Status != "SUCCEEDED" || run.DoNotCall != 1 {
		t.Fatalf("B's sync after A listed a number: %+v; want SUCCEEDED with 1 doNotCall", run)
	}
	if _, ok := erContactOf(t, eb, second, y.PhoneE164); ok {
		t.Error("B's sync imported the number A listed")
	}
	found := false
	for _, is := range eb.issues(t, run.ID) {
		found = found || is.Code == "DO_NOT_CALL" && is.ExternalID == data.ExternalID(yi)
	}
	if !found {
		t.Error("no DO_NOT_CALL issue for the listed person's record")
	}
}
