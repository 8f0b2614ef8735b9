package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/llmfake"
)

// TestScreeningState checks that a trigger tells whether its description
// is applied, and that each run keeps the state it was worked with. This
// server has no screening model, so a description is never applied:
// NOT_CONFIGURED, never ACTIVE.
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

// screenRunFields are a run's fields the screening tests read.
const screenRunFields = `id status error fetched imported duplicates invalidPhone filteredOut failed
	screening screened screenedOut unsure screeningTokens`

type screenRun struct {
	ID                                                       string
	Status                                                   string
	Error                                                    *string
	Fetched, Imported, Duplicates, InvalidPhone, FilteredOut int
	Failed, Screened, ScreenedOut, Unsure, ScreeningTokens   int
	Screening                                                string
}

func (r screenRun) sumsUp() bool {
	return r.Fetched == r.Imported+r.Duplicates+r.InvalidPhone+r.FilteredOut+r.Failed+r.ScreenedOut
}

type screenContact struct {
	ExternalID string
	PhoneE164  string
	Screening  *struct{ Decision, Reason string }
}

// screenDescription matches the data set's nurses and electricians (the
// fake's keywords "nurse" and "electrician"); the fake is unsure of care
// assistants.
const screenDescription = "A nurse or an electrician."

// screenWant is what a screened sync must make of each record of recs (a
// fresh campaign): "MATCH" or "UNSURE" for a contact with that decision,
// else the import issue code.
func screenWant(recs []syncRec, importUnsure bool) map[string]string {
	want := map[string]string{}
	for _, r := range recs {
		switch {
		case r.code != "":
			want[r.ext] = r.code
		case r.p.Profession == "Nurse" || r.p.Profession == "Electrician":
			want[r.ext] = "MATCH"
		case r.p.Profession == "Care assistant" && importUnsure:
			want[r.ext] = "UNSURE"
		default:
			want[r.ext] = "SCREENED_OUT"
		}
	}
	return want
}

// screenCheck checks a campaign's contacts and the import issues of runs
// against want: every record is a contact with the wanted decision, or
// has exactly one import issue with the wanted code, never both.
func screenCheck(t *testing.T, e *syncEnv, campaign string, runs []screenRun, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, c := range screenContacts(t, e, campaign) {
		if c.Screening == nil || c.Screening.Reason == "" {
			t.Errorf("contact %s was imported without a screening decision and reason: %+v", c.ExternalID, c.Screening)
			continue
		}
		got[c.ExternalID] = c.Screening.Decision
	}
	for _, run := range runs {
		for _, is := range e.issues(t, run.ID) {
			if prev, dup := got[is.ExternalID]; dup {
				t.Errorf("record %s: issue %s (%s), but it is already %s", is.ExternalID, is.Code, is.Message, prev)
			}
			got[is.ExternalID] = is.Code
			if is.Code == "SCREENED_OUT" && !strings.Contains(is.Message, "NO_MATCH") && !strings.Contains(is.Message, "UNSURE") {
				t.Errorf("record %s: SCREENED_OUT message %q names no decision", is.ExternalID, is.Message)
			}
		}
	}
	for ext, w := range want {
		if got[ext] != w {
			t.Errorf("record %s: %q, want %q", ext, got[ext], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d records accounted for, want %d", len(got), len(want))
	}
}

func screenContacts(t *testing.T, e *syncEnv, campaign string) []screenContact {
	t.Helper()
	var got struct {
		Node struct {
			Contacts struct {
				TotalCount int
				Edges      []struct{ Node screenContact }
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 100) {
		totalCount edges { node { externalID phoneE164 screening { decision reason } } } } } } }`,
		map[string]any{"id": campaign}, &got)
	if got.Node.Contacts.TotalCount > 100 {
		t.Fatalf("campaign %s has %d contacts: more than a page", campaign, got.Node.Contacts.TotalCount)
	}
	out := make([]screenContact, len(got.Node.Contacts.Edges))
	for i, edge := range got.Node.Contacts.Edges {
		out[i] = edge.Node
	}
	return out
}

func screenSync(t *testing.T, e *syncEnv, trigger string) screenRun {
	t.Helper()
	id := e.testSync(t, trigger).ID
	var run screenRun
	syncEventually(t, "run "+id+" to end", func() (bool, string) {
		var got struct{ Node screenRun }
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { `+screenRunFields+` } } }`, map[string]any{"id": id}, &got)
		run = got.Node
		return syncRun{Status: run.Status}.ended(), fmt.Sprintf("%+v", run)
	})
	if !run.sumsUp() {
		t.Errorf("counters do not add up: %+v", run)
	}
	return run
}

// TestScreening syncs with a screening model (the loopback fake) over
// HTTP, on both databases: matches are imported with their decision,
// non-matches are SCREENED_OUT issues with the model's reason, unsure
// records follow importUnsure, decisions are paid for once, a model
// outage ends the run PARTIAL and the next run completes it with nothing
// lost or doubled, and a preview imports nothing. Nothing the model is
// shown is a phone number, an e-mail address or a name.
func TestScreening(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			const key = "sk-screening-test-key"
			llm := llmfake.New(llmfake.Options{APIKey: key, Unsure: []string{"care assistant"}})
			if err := llm.Start(""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(llm.Close)
			app := apptest.StartWithScreening(t, dbtest.Open(t, d), apptest.Screening{
				URL: llm.URL(), Model: llmfake.DefaultModel, APIKey: key, BatchSize: 7, Concurrency: 3,
			})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("app log:\n%s", app.Logs())
				}
			})
			data := syncNow(71, 120) // three pages of the ATS fake's 50
			e := syncNewEnv(t, app)
			fk := apptest.StartSyncFakes(t, data, nil)
			integ := e.connect(t, fk, schematype.ProviderTalention)
			recs := syncModel{d: data, to: data.Size}.records()
			fields := map[string]any{"description": screenDescription}

			// A first sync asks the model about every record that would be
			// imported, and imports only what fits.
			first := e.newCampaign(t, "screened")
			run := screenSync(t, e, e.trigger(t, first, integ, fields))
			want := screenWant(recs, true)
			var judged, out, unsure int
			for _, r := range recs {
				if r.code == "" {
					judged++
				}
			}
			for _, w := range want {
				switch w {
				case "SCREENED_OUT":
					out++
				case "UNSURE":
					unsure++
				}
			}
			if run.Status != "SUCCEEDED" || run.Screening != "ACTIVE" || run.Screened != judged || run.ScreenedOut != out ||
				run.Unsure != unsure || run.ScreeningTokens <= 0 || run.Fetched != len(recs) {
				t.Fatalf("first run %+v; want SUCCEEDED, ACTIVE, %d fetched, %d screened, %d screened out, %d unsure, tokens counted",
					run, len(recs), judged, out, unsure)
			}
			if out == 0 || unsure == 0 || judged-out-unsure == 0 {
				t.Fatalf("the data set gives %d matches, %d unsure, %d screened out: the test needs some of each", judged-out-unsure, unsure, out)
			}
			screenCheck(t, e, first, []screenRun{run}, want)
			asked := llm.Requests()
			if sent := len(llm.Received()); sent > judged || sent == 0 {
				t.Errorf("the model was shown %d records, want at most the %d judged", sent, judged)
			}
			screenCheckPrivacy(t, llm, data)

			// Another campaign with the same description and data: every
			// decision is reused, nothing is asked.
			second := e.newCampaign(t, "screened again")
			again := screenSync(t, e, e.trigger(t, second, integ, fields))
			if again.Status != "SUCCEEDED" || again.ScreeningTokens != 0 || llm.Requests() != asked {
				t.Errorf("re-screening the same data: %+v, %d model requests after %d; want SUCCEEDED, no tokens, no request",
					again, llm.Requests(), asked)
			}
			screenCheck(t, e, second, []screenRun{again}, want)

			// importUnsure off: unsure records are screened out too.
			strict := e.newCampaign(t, "only matches")
			sf := map[string]any{"description": screenDescription, "importUnsure": false}
			strictRun := screenSync(t, e, e.trigger(t, strict, integ, sf))
			screenCheck(t, e, strict, []screenRun{strictRun}, screenWant(recs, false))

			// The model fails after a few answers: the run ends PARTIAL,
			// the records it could not judge are neither imported nor
			// dropped, and the next run completes the campaign.
			outage := e.newCampaign(t, "outage")
			of := map[string]any{"description": "Wanted: a nurse or an electrician."} // not cached
			trig := e.trigger(t, outage, integ, of)
			asked = llm.Requests()
			llm.Faults.Next(sandbox.NoFault, sandbox.NoFault, sandbox.NoFault, sandbox.NoFault, sandbox.NoFault, sandbox.NoFault, sandbox.NoFault, sandbox.NoFault)
			llm.Faults.SetRate(sandbox.ServerError, 1)
			broken := screenSync(t, e, trig)
			if broken.Status != "PARTIAL" || broken.Error == nil || !strings.Contains(*broken.Error, "screening") || broken.Fetched == len(recs) {
				t.Fatalf("run during the outage: %+v; want PARTIAL with a screening error, short of all %d records", broken, len(recs))
			}
			llm.Faults.Reset()
			mended := screenSync(t, e, trig)
			if mended.Status != "SUCCEEDED" || broken.Fetched+mended.Fetched != len(recs) {
				t.Fatalf("run after the outage: %+v after %+v; want SUCCEEDED, the two fetching %d records between them", mended, broken, len(recs))
			}
			screenCheck(t, e, outage, []screenRun{broken, mended}, want)
			if llm.Requests() <= asked {
				t.Errorf("a changed description was not asked about: %d model requests before, %d after", asked, llm.Requests())
			}

			// A preview judges live records and imports nothing.
			var contactsBefore int
			for _, c := range []string{first, second, strict, outage} {
				contactsBefore += len(screenContacts(t, e, c))
			}
			var pv struct {
				PreviewScreening struct {
					Screening string
					Model     *string
					Tokens    int
					Cached    int
					Records   []struct {
						ExternalID string
						Attributes map[string]any
						Screening  *struct{ Decision, Reason string }
					}
				}
			}
			e.c.MustDo(t, `mutation($in: PreviewScreeningInput!) { previewScreening(input: $in) {
				screening model tokens cached records { externalID attributes screening { decision reason } } } }`,
				map[string]any{"in": map[string]any{"integrationID": integ, "description": "An electrician, please.", "sample": 12}}, &pv)
			p := pv.PreviewScreening
			if p.Screening != "ACTIVE" || p.Model == nil || *p.Model != llmfake.DefaultModel || len(p.Records) != 12 || p.Tokens <= 0 {
				t.Fatalf("preview: %+v; want ACTIVE, the model's name, 12 records, tokens counted", p)
			}
			for _, r := range p.Records {
				i, ok := data.IndexOf(r.ExternalID)
				if !ok || r.Screening == nil {
					t.Fatalf("preview record %+v: not of the data set, or not judged", r)
				}
				w := "NO_MATCH"
				switch data.Person(i).Profession {
				case "Electrician":
					w = "MATCH"
				case "Care assistant":
					w = "UNSURE"
				}
				if r.Screening.Decision != w || r.Screening.Reason == "" {
					t.Errorf("preview record %s (%s): %+v, want %s with a reason", r.ExternalID, data.Person(i).Profession, r.Screening, w)
				}
				for k := range r.Attributes {
					if !slices.Contains(connector.FitAttributes, k) {
						t.Errorf("preview record %s shows attribute %q, which is not a fit attribute", r.ExternalID, k)
					}
				}
			}
			var contactsAfter int
			for _, c := range []string{first, second, strict, outage} {
				contactsAfter += len(screenContacts(t, e, c))
			}
			if contactsAfter != contactsBefore {
				t.Errorf("the preview changed the contacts: %d before, %d after", contactsBefore, contactsAfter)
			}
			// The same preview again is answered from the decisions kept.
			asked = llm.Requests()
			e.c.MustDo(t, `mutation($in: PreviewScreeningInput!) { previewScreening(input: $in) { cached tokens } }`,
				map[string]any{"in": map[string]any{"integrationID": integ, "description": "An electrician, please.", "sample": 12}}, &pv)
			if pv.PreviewScreening.Cached != 12 || pv.PreviewScreening.Tokens != 0 || llm.Requests() != asked {
				t.Errorf("the same preview again: cached %d, tokens %d, %d new requests; want 12, 0, 0",
					pv.PreviewScreening.Cached, pv.PreviewScreening.Tokens, llm.Requests()-asked)
			}
			for _, bad := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"integrationID": integ, "description": "  "}, "input.description"},
				{map[string]any{"integrationID": integ, "description": "x", "sample": 51}, "input.sample"},
				{map[string]any{"integrationID": integ, "description": "x", "sample": 0}, "input.sample"},
				{map[string]any{"integrationID": integ, "description": "x", "searchType": "nope"}, "input.searchType"},
			} {
				r := e.c.Do(t, `mutation($in: PreviewScreeningInput!) { previewScreening(input: $in) { tokens } }`, map[string]any{"in": bad.in})
				if r.Code() != "VALIDATION_FAILED" || r.Field() != bad.field {
					t.Errorf("preview %v: %s on %q, want VALIDATION_FAILED on %s", bad.in, r.Code(), r.Field(), bad.field)
				}
			}
		})
	}
}

// screenCheckPrivacy checks that the model was shown fit attributes only:
// no phone number, e-mail address or name of the data set.
func screenCheckPrivacy(t *testing.T, llm *llmfake.Server, d sandbox.Dataset) {
	t.Helper()
	var secrets []string
	for i := range d.Size {
		p := d.Person(i)
		secrets = append(secrets, p.Email, p.FirstName+" "+p.LastName, strings.TrimPrefix(p.E164, "+"))
		secrets = append(secrets, p.Phones...)
	}
	for _, rec := range llm.Received() {
		for k := range rec.Attributes {
			if !slices.Contains(connector.FitAttributes, k) {
				t.Errorf("the model was shown attribute %q, which is not a fit attribute", k)
			}
		}
		text := fmt.Sprint(rec.Attributes)
		if strings.Contains(text, "@") {
			t.Errorf("the model was shown an e-mail address: %s", text)
		}
		for _, s := range secrets {
			if s != "" && len(s) > 4 && strings.Contains(text, s) {
				t.Errorf("the model was shown %q: %s", s, text)
			}
		}
	}
}
