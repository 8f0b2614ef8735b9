package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/progress"
)

const subProgressQuery = `subscription($id: ID!) { syncProgress(runID: $id) {
  run { id status } phase fetched imported duplicates invalidPhone filteredOut failed total done } }`

const subEventsQuery = `subscription($id: ID!) { campaignEvents(campaignID: $id) {
  __typename
  ... on SyncProgress { phase imported done run { id imported } }
  ... on ContactsImported { count run { id imported } campaign { id } }
  ... on Pushback { id status mappedStatus callResult { id } trigger { id } } } }`

// subHeavyEventsQuery is campaignEvents with every SyncProgress event
// carrying all of the campaign's contacts: a client that stops reading it
// fills the socket's buffers within a few events, so that the server's
// subscription goroutine really stalls on its write.
const subHeavyEventsQuery = `subscription($id: ID!) { campaignEvents(campaignID: $id) {
  __typename
  ... on SyncProgress { phase imported done
    run { id imported trigger { campaign { contacts(first: 100) { edges { node { id attributes } } } } } } }
  ... on ContactsImported { count run { id imported } campaign { id } }
  ... on Pushback { id } } }`

// subProgress is one syncProgress message.
type subProgress struct {
	Run struct {
		ID     pulid.ID
		Status string
	}
	Phase        string
	Fetched      int
	Imported     int
	Duplicates   int
	InvalidPhone int
	FilteredOut  int
	Failed       int
	Total        *int
	Done         bool
}

// subEvent is one campaignEvents message, of any of the union's types.
type subEvent struct {
	Typename string `json:"__typename"`
	// SyncProgress
	Phase    string
	Imported int
	Done     bool
	Run      struct {
		ID       pulid.ID
		Imported int
	}
	// ContactsImported
	Count    int
	Campaign struct{ ID pulid.ID }
	// Pushback
	ID           pulid.ID
	Status       string
	MappedStatus *string
	CallResult   struct{ ID pulid.ID }
	Trigger      struct{ ID pulid.ID }
}

// subEnv is one organization with a campaign whose Talention trigger pushes
// call results back, served by an app of its own (so that the broker's
// subscription count belongs to the test). The trigger is disabled: the runs
// and notices are the test's own, not the sync engine's.
type subEnv struct {
	app       *apptest.App
	adminKey  string
	readerKey string
	org       pulid.ID
	campaign  pulid.ID
	integ     pulid.ID
	trigger   pulid.ID
}

func subSetup(t *testing.T, db *dbtest.DB, options ...func(*server.Config)) *subEnv {
	t.Helper()
	app := isoStart(t, db, options...)
	org := string(pulid.New("org")) // a fresh organization per test
	e := &subEnv{app: app, adminKey: app.Key(t, org, schematype.RoleAdmin), readerKey: app.Key(t, org, schematype.RoleViewer)}
	admin := app.Client(e.adminKey)
	e.org = isoOrgID(t, admin)
	e.campaign = isoCreateCampaign(t, admin, "subscriptions")
	e.integ = isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
	e.trigger = isoConfigureTalention(t, admin, e.campaign, e.integ).ID
	return e
}

func (e *subEnv) ctx() context.Context { return isoOrgCtx(e.org) }

// heavyContacts gives the campaign 100 contacts of 16 kB: over 1.6 MB in
// each SyncProgress event of subHeavyEventsQuery.
func (e *subEnv) heavyContacts(t *testing.T) {
	t.Helper()
	builders := make([]*ent.ContactCreate, 100)
	for i := range builders {
		phone := fmt.Sprintf("+49151%08d", i)
		builders[i] = e.app.DB.Store.Client.Contact.Create().SetCampaignID(e.campaign).
			SetPhoneE164(phone).SetPhoneRaw(phone).SetExternalID(phone).
			SetAttributes(schematype.JSONObject(`{"cv":"` + strings.Repeat("x", 16000) + `"}`))
	}
	if err := e.app.DB.Store.Client.Contact.CreateBulk(builders...).Exec(e.ctx()); err != nil {
		t.Fatal(err)
	}
}

// newRun writes a sync run of the env's trigger, as the sync engine would.
func (e *subEnv) newRun(t *testing.T, status syncrun.Status) *ent.SyncRun {
	t.Helper()
	run, err := e.app.DB.Store.Client.SyncRun.Create().SetTriggerID(e.trigger).SetKind(syncrun.KindTEST).
		SetStatus(status).Save(e.ctx())
	if err != nil {
		t.Fatalf("creating run: %v", err)
	}
	return run
}

// updateRun changes a run's row and publishes the notice the sync engine
// publishes after each checkpoint.
func (e *subEnv) updateRun(t *testing.T, id pulid.ID, set func(*ent.SyncRunUpdateOne)) {
	t.Helper()
	upd := e.app.DB.Store.Client.SyncRun.UpdateOneID(id)
	set(upd)
	if err := upd.Exec(e.ctx()); err != nil {
		t.Fatalf("updating run: %v", err)
	}
	e.publish(t, e.runNotice(id))
}

func (e *subEnv) runNotice(id pulid.ID) progress.Notice {
	return progress.Notice{Kind: progress.KindRun, ID: id, RunID: id, CampaignID: e.campaign}
}

func (e *subEnv) publish(t *testing.T, n progress.Notice) {
	t.Helper()
	if err := e.app.Broker.Publish(context.Background(), n); err != nil {
		t.Fatalf("publishing %+v: %v", n, err)
	}
}

// newPushback writes a contact, a call result and its pending pushback.
func (e *subEnv) newPushback(t *testing.T, phone string) *ent.Pushback {
	t.Helper()
	db, ctx := e.app.DB.Store.Client, e.ctx()
	c, err := db.Contact.Create().SetCampaignID(e.campaign).SetTriggerID(e.trigger).
		SetPhoneE164(phone).SetPhoneRaw(phone).SetExternalID("cand-" + phone).Save(ctx)
	if err != nil {
		t.Fatalf("creating contact: %v", err)
	}
	cr, err := db.CallResult.Create().SetContactID(c.ID).SetOutcome(schematype.OutcomeSuccess).
		SetQuestionResults([]schematype.QuestionResult{}).SetCalledAt(time.Now().UTC()).Save(ctx)
	if err != nil {
		t.Fatalf("creating call result: %v", err)
	}
	pb, err := db.Pushback.Create().SetCallResultID(cr.ID).SetTriggerID(e.trigger).SetMappedStatus("accepted").Save(ctx)
	if err != nil {
		t.Fatalf("creating pushback: %v", err)
	}
	return pb
}

func subNextProgress(t *testing.T, ws *apptest.WS, id string) subProgress {
	t.Helper()
	d := ws.NextData(id)
	if len(d.Errors) > 0 {
		t.Fatalf("syncProgress errors: %+v", d.Errors)
	}
	var got struct{ SyncProgress subProgress }
	if err := json.Unmarshal(d.Data, &got); err != nil {
		t.Fatalf("decoding %s: %v", d.Data, err)
	}
	return got.SyncProgress
}

func subNextEvent(t *testing.T, ws *apptest.WS, id string) subEvent {
	t.Helper()
	d := ws.NextData(id)
	if len(d.Errors) > 0 {
		t.Fatalf("campaignEvents errors: %+v", d.Errors)
	}
	var got struct{ CampaignEvents subEvent }
	if err := json.Unmarshal(d.Data, &got); err != nil {
		t.Fatalf("decoding %s: %v", d.Data, err)
	}
	return got.CampaignEvents
}

func subWantComplete(t *testing.T, ws *apptest.WS, id string) {
	t.Helper()
	if m := ws.Next(); m.Type != "complete" || m.ID != id {
		t.Fatalf("got %s %s %s, want complete %s", m.Type, m.ID, m.Payload, id)
	}
}

// subPublishMany publishes n notices from another goroutine and fails if
// they are not all published before a generous deadline: Publish must never
// wait for a subscriber.
func subPublishMany(t *testing.T, app *apptest.App, notice progress.Notice, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := app.Broker.Publish(ctx, notice); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("Publish blocked: %d notices not published before the deadline while a subscriber was not reading", n)
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
			t.Run(proto, func(t *testing.T) {
				t.Parallel()
				subTests(t, db, proto)
			})
		}
	})
}

func subTests(t *testing.T, db *dbtest.DB, proto string) {
	t.Run("syncProgress sends the current state, each change, then done and completes", func(t *testing.T) {
		t.Parallel()
		e := subSetup(t, db)
		run := e.newRun(t, syncrun.StatusQUEUED)
		ws := e.app.Connect(t, proto, e.adminKey)
		ws.Subscribe("p", subProgressQuery, map[string]any{"id": run.ID})

		p := subNextProgress(t, ws, "p")
		if p.Run.ID != run.ID || p.Run.Status != "QUEUED" || p.Phase != "QUEUED" || p.Done || p.Fetched != 0 || p.Imported != 0 {
			t.Fatalf("first message %+v, want the QUEUED run", p)
		}

		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) {
			u.SetStatus(syncrun.StatusRUNNING).SetStartedAt(time.Now().UTC())
		})
		p = subNextProgress(t, ws, "p")
		if p.Run.Status != "RUNNING" || p.Phase != "FETCHING" || p.Done {
			t.Fatalf("after start %+v, want RUNNING, FETCHING, not done", p)
		}

		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) {
			u.SetFetched(10).SetImported(6).SetDuplicates(2).SetInvalidPhone(1).SetFilteredOut(1).SetTotal(40)
		})
		p = subNextProgress(t, ws, "p")
		if p.Phase != "PROCESSING" || p.Done || p.Fetched != 10 || p.Imported != 6 || p.Duplicates != 2 ||
			p.InvalidPhone != 1 || p.FilteredOut != 1 || p.Failed != 0 || p.Total == nil || *p.Total != 40 {
			t.Fatalf("after a page %+v, want PROCESSING with the run's counters", p)
		}

		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) {
			u.SetStatus(syncrun.StatusSUCCEEDED).SetFinishedAt(time.Now().UTC())
		})
		p = subNextProgress(t, ws, "p")
		if !p.Done || p.Phase != "DONE" || p.Run.Status != "SUCCEEDED" || p.Imported != 6 {
			t.Fatalf("after the end %+v, want done, DONE, SUCCEEDED", p)
		}
		subWantComplete(t, ws, "p")
		isoWaitSubscribers(t, e.app, 0)
	})

	t.Run("syncProgress of a finished run sends one message and completes", func(t *testing.T) {
		t.Parallel()
		e := subSetup(t, db)
		ws := e.app.Connect(t, proto, e.adminKey)
		for _, st := range []syncrun.Status{syncrun.StatusSUCCEEDED, syncrun.StatusPARTIAL, syncrun.StatusFAILED, syncrun.StatusCANCELLED} {
			run := e.newRun(t, st)
			id := string(st)
			ws.Subscribe(id, subProgressQuery, map[string]any{"id": run.ID})
			p := subNextProgress(t, ws, id)
			if !p.Done || p.Phase != "DONE" || p.Run.ID != run.ID || p.Run.Status != string(st) {
				t.Fatalf("%s run: %+v, want one DONE message", st, p)
			}
			subWantComplete(t, ws, id)
		}
	})

	t.Run("campaignEvents reports progress, contacts imported and pushbacks", func(t *testing.T) {
		t.Parallel()
		e := subSetup(t, db)
		admin := e.app.Client(e.adminKey)
		run := e.newRun(t, syncrun.StatusQUEUED)
		// A run of another campaign of the same organization.
		other := isoCreateCampaign(t, admin, "another campaign")
		var tr struct{ ConfigureTrigger struct{ ID pulid.ID } }
		admin.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"campaignID": other, "integrationID": e.integ, "enabled": false}}, &tr)
		otherRun, err := e.app.DB.Store.Client.SyncRun.Create().SetTriggerID(tr.ConfigureTrigger.ID).
			SetKind(syncrun.KindTEST).SetStatus(syncrun.StatusRUNNING).SetImported(50).Save(e.ctx())
		if err != nil {
			t.Fatal(err)
		}

		ws := e.app.Connect(t, proto, e.adminKey)
		ws.Subscribe("e", subEventsQuery, map[string]any{"id": e.campaign})
		isoWaitSubscribers(t, e.app, 1)

		// The other campaign's notice comes first; were it delivered, it
		// would be the first event.
		e.publish(t, progress.Notice{Kind: progress.KindRun, ID: otherRun.ID, RunID: otherRun.ID, CampaignID: other})
		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) {
			u.SetStatus(syncrun.StatusRUNNING).SetFetched(5).SetImported(5)
		})
		ev := subNextEvent(t, ws, "e")
		if ev.Typename != "SyncProgress" || ev.Run.ID != run.ID || ev.Imported != 5 || ev.Phase != "PROCESSING" || ev.Done {
			t.Fatalf("first event %+v, want SyncProgress of %s with 5 imported", ev, run.ID)
		}
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "ContactsImported" || ev.Count != 5 || ev.Run.ID != run.ID || ev.Campaign.ID != e.campaign {
			t.Fatalf("second event %+v, want ContactsImported 5", ev)
		}

		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetFetched(9).SetImported(8).SetDuplicates(1) })
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "SyncProgress" || ev.Imported != 8 {
			t.Fatalf("third event %+v, want SyncProgress with 8 imported", ev)
		}
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "ContactsImported" || ev.Count != 3 || ev.Run.Imported != 8 {
			t.Fatalf("fourth event %+v, want ContactsImported 3", ev)
		}

		// A notice without new imports reports progress and no
		// ContactsImported: the pushback published next is the next event.
		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetFetched(10).SetFilteredOut(1) })
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "SyncProgress" || ev.Imported != 8 {
			t.Fatalf("fifth event %+v, want SyncProgress with 8 imported", ev)
		}
		pb := e.newPushback(t, "+4915100000001")
		e.publish(t, progress.Notice{Kind: progress.KindPushback, ID: pb.ID, CampaignID: e.campaign})
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "Pushback" || ev.ID != pb.ID || ev.Status != "PENDING" || ev.MappedStatus == nil ||
			*ev.MappedStatus != "accepted" || ev.CallResult.ID != pb.CallResultID || ev.Trigger.ID != e.trigger {
			t.Fatalf("event %+v, want Pushback %s", ev, pb.ID)
		}

		// The run ends; the campaign's stream goes on.
		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetStatus(syncrun.StatusSUCCEEDED) })
		ev = subNextEvent(t, ws, "e")
		if ev.Typename != "SyncProgress" || !ev.Done || ev.Phase != "DONE" || ev.Imported != 8 {
			t.Fatalf("event %+v, want the run DONE", ev)
		}
		e.publish(t, progress.Notice{Kind: progress.KindPushback, ID: pb.ID, CampaignID: e.campaign})
		if ev = subNextEvent(t, ws, "e"); ev.Typename != "Pushback" || ev.ID != pb.ID {
			t.Fatalf("event %+v, want Pushback %s again", ev, pb.ID)
		}
	})

	t.Run("a subscriber that does not read never blocks Publish and then gets the latest state", func(t *testing.T) {
		t.Parallel()
		// The sockets go unread for as long as publishing takes, which
		// on a busy machine can pass the default write and pong timeouts:
		// this test is about coalescing, not about dropping stalled peers
		// (TestWebsocketPingPong and TestWebsocketSlowReader).
		e := subSetup(t, db, func(c *server.Config) {
			c.Websocket = server.WebsocketLimits{PingInterval: 5 * time.Minute, WriteTimeout: 5 * time.Minute}
		})
		run := e.newRun(t, syncrun.StatusRUNNING)
		progressWS := e.app.Connect(t, proto, e.adminKey)
		progressWS.Subscribe("p", subProgressQuery, map[string]any{"id": run.ID})
		if p := subNextProgress(t, progressWS, "p"); p.Phase != "FETCHING" {
			t.Fatalf("first message %+v, want FETCHING", p)
		}
		e.heavyContacts(t)
		eventsWS := e.app.Connect(t, proto, e.adminKey)
		eventsWS.Subscribe("e", subHeavyEventsQuery, map[string]any{"id": e.campaign})
		isoWaitSubscribers(t, e.app, 2)

		// Neither socket is read while 10,000 notices are published and the
		// run moves on five times.
		const notices, steps = 10000, 5
		final := 0
		for step := 1; step <= steps; step++ {
			final = step * 800
			upd := e.app.DB.Store.Client.SyncRun.UpdateOneID(run.ID).SetFetched(step * 1000).SetImported(final)
			if err := upd.Exec(e.ctx()); err != nil {
				t.Fatal(err)
			}
			subPublishMany(t, e.app, e.runNotice(run.ID), notices/steps)
		}

		// syncProgress: imported never goes back and reaches the latest value.
		for last := 0; last != final; {
			p := subNextProgress(t, progressWS, "p")
			if p.Imported < last || p.Imported > final || p.Done {
				t.Fatalf("message %+v after %d imported, want a newer state up to %d", p, last, final)
			}
			last = p.Imported
		}
		// campaignEvents: the ContactsImported counts add up to the latest
		// imported counter, each one matching the progress just before it.
		for seen, sum := 0, 0; sum != final; {
			ev := subNextEvent(t, eventsWS, "e")
			switch ev.Typename {
			case "SyncProgress":
				if ev.Imported < seen || ev.Imported > final {
					t.Fatalf("SyncProgress %+v after %d imported", ev, seen)
				}
				seen = ev.Imported
			case "ContactsImported":
				if sum += ev.Count; ev.Count <= 0 || sum != seen {
					t.Fatalf("ContactsImported %+v brings the total to %d, progress said %d", ev, sum, seen)
				}
			default:
				t.Fatalf("unexpected event %+v", ev)
			}
		}

		// Everything still flows: the end of the run arrives and completes.
		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetStatus(syncrun.StatusSUCCEEDED) })
		if p := subNextProgress(t, progressWS, "p"); !p.Done || p.Imported != final {
			t.Fatalf("last message %+v, want done with %d imported", p, final)
		}
		subWantComplete(t, progressWS, "p")
	})

	t.Run("a VIEWER key may subscribe", func(t *testing.T) {
		t.Parallel()
		e := subSetup(t, db)
		run := e.newRun(t, syncrun.StatusQUEUED)
		ws := e.app.Connect(t, proto, e.readerKey)
		ws.Subscribe("p", subProgressQuery, map[string]any{"id": run.ID})
		if p := subNextProgress(t, ws, "p"); p.Run.ID != run.ID || p.Phase != "QUEUED" {
			t.Fatalf("first message %+v, want the QUEUED run", p)
		}
		ws.Subscribe("e", subEventsQuery, map[string]any{"id": e.campaign})
		isoWaitSubscribers(t, e.app, 2)
		pb := e.newPushback(t, "+4915100000002")
		e.publish(t, progress.Notice{Kind: progress.KindPushback, ID: pb.ID, CampaignID: e.campaign})
		if ev := subNextEvent(t, ws, "e"); ev.Typename != "Pushback" || ev.ID != pb.ID {
			t.Fatalf("event %+v, want Pushback %s", ev, pb.ID)
		}
	})

	t.Run("an unauthenticated socket is closed and runs nothing", func(t *testing.T) {
		t.Parallel()
		e := subSetup(t, db)
		run := e.newRun(t, syncrun.StatusQUEUED)
		cases := []struct {
			name    string
			payload map[string]any // nil: no connection_init at all
		}{
			{"no key", map[string]any{}},
			{"an unknown key", map[string]any{"Authorization": "Bearer ik_" + strings.Repeat("x", 43)}},
			{"a key that is not an Intake key", map[string]any{"Authorization": "Bearer not-a-key"}},
			{"another scheme", map[string]any{"Authorization": "Basic " + e.adminKey}},
			{"the key without a scheme", map[string]any{"Authorization": e.adminKey}},
			{"no connection_init", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ws, _, err := e.app.Dial(t, proto, "")
				if err != nil {
					t.Fatal(err)
				}
				if tc.payload != nil {
					raw, _ := json.Marshal(tc.payload)
					if err := ws.TrySend(apptest.Message{Type: "connection_init", Payload: raw}); err != nil {
						t.Fatal(err)
					}
				}
				typ := "subscribe"
				if proto == apptest.LegacyWS {
					typ = "start"
				}
				raw, _ := json.Marshal(map[string]any{"query": subProgressQuery, "variables": map[string]any{"id": run.ID}})
				// A write refused because the server already closed is fine.
				_ = ws.TrySend(apptest.Message{Type: typ, ID: "p", Payload: raw})

				var msgs []apptest.Message
				var closeErr *websocket.CloseError
				for {
					m, err := ws.Read(10 * time.Second)
					if err != nil {
						if !errors.As(err, &closeErr) {
							t.Fatalf("the connection ended without a close frame: %v (messages %+v)", err, msgs)
						}
						break
					}
					msgs = append(msgs, m)
				}
				for _, m := range msgs {
					switch m.Type {
					case "connection_ack", "next", "data":
						t.Errorf("unauthenticated socket got %s %s", m.Type, m.Payload)
					}
				}
				if tc.payload == nil {
					return // a protocol error; its close code is not about authentication
				}
				if proto == apptest.TransportWS {
					// graphql-transport-ws: 4403 Forbidden.
					if closeErr.Code != 4403 {
						t.Errorf("close code %d %q, want 4403", closeErr.Code, closeErr.Text)
					}
					return
				}
				// Legacy graphql-ws: connection_error, then the close.
				if len(msgs) == 0 || msgs[0].Type != "connection_error" {
					t.Fatalf("messages %+v, want connection_error first", msgs)
				}
				var payload struct{ Message string }
				if err := json.Unmarshal(msgs[0].Payload, &payload); err != nil || payload.Message == "" {
					t.Errorf("connection_error payload %s, want a message", msgs[0].Payload)
				}
			})
		}
		if n := e.app.Broker.Subscribers(); n != 0 {
			t.Fatalf("%d subscriptions were opened by unauthenticated sockets", n)
		}
	})
}

func TestWebsocketOriginPolicy(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		key := app.Key(t, "origins", schematype.RoleAdmin)
		u, err := url.Parse(app.URL)
		if err != nil {
			t.Fatal(err)
		}
		port := u.Port()
		cases := []struct {
			name, origin string
			ok           bool
		}{
			{"no Origin header", "", true},
			{"the app's own origin", app.URL, true},
			{"another host", "http://evil.example", false},
			{"another host name for the same address", "http://localhost:" + port, false},
			{"another port", "http://127.0.0.1:1", false},
			{"another scheme", "https://127.0.0.1:" + port, false},
			{"a websocket scheme", "ws://127.0.0.1:" + port, false},
			{"the app's host as user info", "http://127.0.0.1:" + port + "@evil.example", false},
			{"malformed", "::::", false},
			{"null", "null", false},
			{"no scheme", "127.0.0.1:" + port, false},
		}
		for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
			for _, tc := range cases {
				t.Run(proto+"/"+tc.name, func(t *testing.T) {
					ws, resp, err := app.Dial(t, proto, tc.origin)
					if !tc.ok {
						if err == nil {
							t.Fatalf("origin %q was accepted", tc.origin)
						}
						if resp == nil || resp.StatusCode != http.StatusForbidden {
							t.Fatalf("origin %q: response %v (%v), want HTTP 403", tc.origin, resp, err)
						}
						return
					}
					if err != nil {
						t.Fatalf("origin %q refused: %v", tc.origin, err)
					}
					if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Protocol") != proto {
						t.Fatalf("origin %q: status %d subprotocol %q", tc.origin, resp.StatusCode, resp.Header.Get("Sec-Websocket-Protocol"))
					}
					ws.Init(key)
					if m := ws.Next(); m.Type != "connection_ack" {
						t.Fatalf("origin %q: connection_init answered %s %s", tc.origin, m.Type, m.Payload)
					}
				})
			}
		}
	})
}

// subGet sends a GraphQL request over GET.
func subGet(t *testing.T, app *apptest.App, key string, params url.Values) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, app.URL+"/graphql?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, out := limDo(t, req, key)
	return out
}

func TestGETTransport(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := isoStart(t, db)
		key := app.Key(t, "get", schematype.RoleAdmin)
		admin := app.Client(key)
		cmp := isoCreateCampaign(t, admin, "over POST")

		campaignNames := func(t *testing.T) []string {
			t.Helper()
			var got struct {
				Campaigns struct {
					Edges []struct{ Node struct{ Name string } }
				}
			}
			admin.MustDo(t, `{ campaigns { edges { node { name } } } }`, nil, &got)
			var names []string
			for _, e := range got.Campaigns.Edges {
				names = append(names, e.Node.Name)
			}
			return names
		}

		t.Run("a query over GET works", func(t *testing.T) {
			r := subGet(t, app, key, url.Values{
				"query":     {`query($id: ID!) { viewer { role } campaigns(where: {id: $id}) { totalCount edges { node { id name } } } }`},
				"variables": {`{"id": "` + string(cmp) + `"}`},
			})
			var got struct {
				Viewer    struct{ Role string }
				Campaigns struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID, Name string } }
				}
			}
			r.Decode(t, &got)
			if r.Status != http.StatusOK || got.Viewer.Role != "ADMIN" || got.Campaigns.TotalCount != 1 ||
				got.Campaigns.Edges[0].Node.ID != string(cmp) || got.Campaigns.Edges[0].Node.Name != "over POST" {
				t.Fatalf("status %d data %s", r.Status, r.Data)
			}
		})

		t.Run("a query over GET needs a key", func(t *testing.T) {
			r := subGet(t, app, "", url.Values{"query": {`{ viewer { role } }`}})
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d code %q", r.Status, r.Code())
			}
		})

		refused := []struct {
			name   string
			params url.Values
			// code, when set, is a refusal before the transport's: a
			// document of two operations is refused whatever they are.
			code string
		}{
			{"a mutation", url.Values{"query": {`mutation { createCampaign(input: {name: "over GET"}) { id } }`}}, ""},
			{"a mutation named by operationName", url.Values{
				"query":         {`query Q { viewer { role } } mutation M { createCampaign(input: {name: "over GET"}) { id } }`},
				"operationName": {"M"},
			}, "VALIDATION_FAILED"},
			{"a mutation changing an existing campaign", url.Values{
				"query":     {`mutation($id: ID!) { updateCampaign(id: $id, input: {name: "over GET"}) { id } }`},
				"variables": {`{"id": "` + string(cmp) + `"}`},
			}, ""},
			{"a subscription", url.Values{
				"query":     {`subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`},
				"variables": {`{"id": "` + string(cmp) + `"}`},
			}, ""},
		}
		for _, tc := range refused {
			t.Run(tc.name+" over GET is refused and changes nothing", func(t *testing.T) {
				r := subGet(t, app, key, tc.params)
				// gqlgen answers 406; GraphQL over HTTP asks for 405.
				if tc.code != "" {
					if r.Code() != tc.code {
						t.Errorf("status %d code %q, want %s", r.Status, r.Code(), tc.code)
					}
				} else if r.Status != http.StatusNotAcceptable && r.Status != http.StatusMethodNotAllowed {
					t.Errorf("status %d, want 405 or 406", r.Status)
				}
				if len(r.Errors) == 0 || (len(r.Data) != 0 && string(r.Data) != "null") {
					t.Errorf("errors %+v data %s, want an error and no data", r.Errors, r.Data)
				}
				if names := campaignNames(t); len(names) != 1 || names[0] != "over POST" {
					t.Fatalf("campaigns after the refused request: %v", names)
				}
			})
		}
	})
}
