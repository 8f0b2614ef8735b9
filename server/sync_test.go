package server_test

// End-to-end tests of the sync engine: GraphQL over HTTP and websockets
// against a whole Intake (apptest) whose integrations reach loopback fakes
// of the external systems, on SQLite and PostgreSQL.
//
// Triggers are configured through the API disabled, then enabled directly
// in the database with their next sync an hour away (syncEnv.trigger): a
// trigger enabled through the API is due at once, and the scheduler (every
// 200ms in apptest) would start a SCHEDULED run that tests of testSync,
// cancellation or faults do not want. The scheduling tests enable through
// the API too.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/fakes"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// syncDeadline bounds every wait for the engine; generous, as the race
// detector and parallel tests on two cores slow everything down.
const syncDeadline = 60 * time.Second

const syncRunFields = `id kind status startedAt finishedAt fetched imported duplicates invalidPhone
	filteredOut failed erased total error trigger { id }`

// syncRun is a SyncRun as the API returns it.
type syncRun struct {
	ID           string
	Kind         string
	Status       string
	StartedAt    *time.Time
	FinishedAt   *time.Time
	Fetched      int
	Imported     int
	Duplicates   int
	InvalidPhone int
	FilteredOut  int
	Failed       int
	Erased       int
	Total        *int
	Error        *string
	Trigger      struct{ ID string }
}

func (r syncRun) String() string {
	e := "<nil>"
	if r.Error != nil {
		e = *r.Error
	}
	return fmt.Sprintf("run %s %s %s fetched=%d imported=%d duplicates=%d invalidPhone=%d filteredOut=%d failed=%d erased=%d error=%q",
		r.ID, r.Kind, r.Status, r.Fetched, r.Imported, r.Duplicates, r.InvalidPhone, r.FilteredOut, r.Failed, r.Erased, e)
}

func (r syncRun) ended() bool {
	switch r.Status {
	case "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED":
		return true
	}
	return false
}

// sumsUp reports whether the counters add up as the engine promises.
func (r syncRun) sumsUp() bool {
	return r.Fetched == r.Imported+r.Duplicates+r.InvalidPhone+r.FilteredOut+r.Failed+r.Erased
}

type syncContact struct {
	ID         string
	PhoneE164  string
	PhoneRaw   string
	FirstName  *string
	LastName   *string
	Email      *string
	ExternalID string
	Trigger    *struct{ ID string }
}

type syncIssue struct {
	ID         string
	ExternalID string
	Code       string
	Message    string
	RawPhone   *string
	Run        struct{ ID string }
}

type syncTrigger struct {
	ID                  string
	Enabled             bool
	SyncIntervalSeconds int
	NextSyncAt          *time.Time
	LastSyncAt          *time.Time
	LastRun             *struct{ ID string }
	SyncRuns            struct {
		TotalCount int
		Edges      []struct{ Node syncRun }
	}
}

func (tr syncTrigger) runs() []syncRun {
	out := make([]syncRun, len(tr.SyncRuns.Edges))
	for i, e := range tr.SyncRuns.Edges {
		out[i] = e.Node
	}
	return out
}

// syncEventually polls cond until it holds, failing with what it waited
// for and the last state cond described once syncDeadline has passed.
func syncEventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(syncDeadline)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %s; last seen: %s", what, syncDeadline, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// syncStart starts an app and prints its log when the test fails.
func syncStart(t *testing.T, db *dbtest.DB) *apptest.App {
	t.Helper()
	app := apptest.Start(t, db)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.Logs())
		}
	})
	return app
}

// syncNow is a data set of size people, the last created now, so that a
// trigger's first "new applications" sync (which looks back 30 days)
// fetches all of them.
func syncNow(seed uint64, size int) sandbox.Dataset {
	return sandbox.Dataset{Seed: seed, Size: size}.AnchoredAt(time.Now())
}

// syncEnv is a fresh organization with an admin key, on an app.
type syncEnv struct {
	app *apptest.App
	key string
	c   *apptest.Client
}

func syncNewEnv(t *testing.T, app *apptest.App) *syncEnv {
	t.Helper()
	key := app.Key(t, string(pulid.New("org")), schematype.RoleAdmin)
	return &syncEnv{app: app, key: key, c: app.Client(key)}
}

func (e *syncEnv) newCampaign(t *testing.T, name string) string {
	t.Helper()
	var got struct{ CreateCampaign struct{ ID string } }
	e.c.MustDo(t, `mutation($name: String!) { createCampaign(input: {name: $name, phoneRegion: "DE"}) { id } }`,
		map[string]any{"name": name}, &got)
	return got.CreateCampaign.ID
}

// connect connects an integration of provider p to the fakes in fk.
func (e *syncEnv) connect(t *testing.T, fk *fakes.Set, p schematype.ProviderKey) string {
	t.Helper()
	var got struct{ ConnectIntegration struct{ ID, Status string } }
	e.c.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": p, "name": string(p) + " " + string(pulid.New("int")), "credentials": fk.Credentials(p)}}, &got)
	if got.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("connecting %s: status %s", p, got.ConnectIntegration.Status)
	}
	return got.ConnectIntegration.ID
}

// configure configures the trigger of (campaign, integration) through the
// API; fields are added to the input.
func (e *syncEnv) configure(t *testing.T, campaign, integ string, enabled bool, fields map[string]any) string {
	t.Helper()
	in := map[string]any{"campaignID": campaign, "integrationID": integ, "enabled": enabled}
	for k, v := range fields {
		in[k] = v
	}
	var got struct{ ConfigureTrigger struct{ ID string } }
	e.c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
		map[string]any{"in": in}, &got)
	return got.ConfigureTrigger.ID
}

// trigger configures a disabled trigger and enables it in the database
// with its next scheduled sync an hour away (see the file comment).
func (e *syncEnv) trigger(t *testing.T, campaign, integ string, fields map[string]any) string {
	t.Helper()
	id := e.configure(t, campaign, integ, false, fields)
	e.enable(t, id, time.Now().Add(time.Hour))
	return id
}

func (e *syncEnv) enable(t *testing.T, id string, next time.Time) {
	t.Helper()
	err := e.app.DB.Store.Client.Trigger.UpdateOneID(pulid.ID(id)).SetEnabled(true).SetNextSyncAt(next.UTC()).
		Exec(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatalf("enabling trigger %s: %v", id, err)
	}
}

// setDue sets the next sync of triggers to at, in one statement.
func (e *syncEnv) setDue(t *testing.T, at time.Time, ids ...string) {
	t.Helper()
	pids := make([]pulid.ID, len(ids))
	for i, id := range ids {
		pids[i] = pulid.ID(id)
	}
	n, err := e.app.DB.Store.Client.Trigger.Update().Where(trigger.IDIn(pids...)).SetNextSyncAt(at.UTC()).
		Save(viewer.SystemContext(context.Background()))
	if err != nil || n != len(ids) {
		t.Fatalf("setting next_sync_at of %v: %d rows, %v", ids, n, err)
	}
}

func (e *syncEnv) testSync(t *testing.T, triggerID string) syncRun {
	t.Helper()
	var got struct{ TestSync syncRun }
	e.c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { `+syncRunFields+` } }`, map[string]any{"id": triggerID}, &got)
	return got.TestSync
}

func (e *syncEnv) cancel(t *testing.T, runID string) syncRun {
	t.Helper()
	var got struct{ CancelSyncRun syncRun }
	e.c.MustDo(t, `mutation($id: ID!) { cancelSyncRun(id: $id) { `+syncRunFields+` } }`, map[string]any{"id": runID}, &got)
	return got.CancelSyncRun
}

func (e *syncEnv) run(t *testing.T, id string) syncRun {
	t.Helper()
	var got struct{ Node *syncRun }
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { `+syncRunFields+` } } }`, map[string]any{"id": id}, &got)
	if got.Node == nil {
		t.Fatalf("sync run %s not found", id)
	}
	return *got.Node
}

// waitRun waits for a run to end and returns it.
func (e *syncEnv) waitRun(t *testing.T, id string) syncRun {
	t.Helper()
	var run syncRun
	syncEventually(t, "run "+id+" to end", func() (bool, string) {
		run = e.run(t, id)
		return run.ended(), run.String()
	})
	return run
}

func (e *syncEnv) getTrigger(t *testing.T, id string) syncTrigger {
	t.Helper()
	var tr syncTrigger
	// totalCount and the list are two reads: a run created between them
	// shows in one only, so read again until they agree.
	syncEventually(t, "trigger "+id+"'s runs to be listed as counted", func() (bool, string) {
		var got struct{ Node *syncTrigger }
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { id enabled syncIntervalSeconds nextSyncAt lastSyncAt
			lastRun { id } syncRuns(first: 100) { totalCount edges { node { `+syncRunFields+` } } } } } }`,
			map[string]any{"id": id}, &got)
		if got.Node == nil {
			t.Fatalf("trigger %s not found", id)
		}
		tr = *got.Node
		return tr.SyncRuns.TotalCount == len(tr.SyncRuns.Edges), fmt.Sprintf("totalCount %d, %d runs listed", tr.SyncRuns.TotalCount, len(tr.SyncRuns.Edges))
	})
	return tr
}

// contacts returns every contact of a campaign, page by page, and checks
// the connection's totalCount against them.
func (e *syncEnv) contacts(t *testing.T, campaign string) []syncContact {
	t.Helper()
	var out []syncContact
	var after any
	for {
		var got struct {
			Node struct {
				Contacts struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct{ Node syncContact }
				}
			}
		}
		e.c.MustDo(t, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on Campaign { contacts(first: 100, after: $after) {
			totalCount pageInfo { hasNextPage endCursor }
			edges { node { id phoneE164 phoneRaw firstName lastName email externalID trigger { id } } } } } } }`,
			map[string]any{"id": campaign, "after": after}, &got)
		cs := got.Node.Contacts
		for _, edge := range cs.Edges {
			out = append(out, edge.Node)
		}
		if !cs.PageInfo.HasNextPage {
			if cs.TotalCount != len(out) {
				t.Fatalf("campaign %s: contacts totalCount %d, but %d listed", campaign, cs.TotalCount, len(out))
			}
			return out
		}
		after = *cs.PageInfo.EndCursor
	}
}

// issues returns every import issue of a run, page by page.
func (e *syncEnv) issues(t *testing.T, runID string) []syncIssue {
	t.Helper()
	var out []syncIssue
	var after any
	for {
		var got struct {
			Node struct {
				Issues struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct{ Node syncIssue }
				}
			}
		}
		e.c.MustDo(t, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on SyncRun { issues(first: 100, after: $after) {
			totalCount pageInfo { hasNextPage endCursor }
			edges { node { id externalID code message rawPhone run { id } } } } } } }`,
			map[string]any{"id": runID, "after": after}, &got)
		is := got.Node.Issues
		for _, edge := range is.Edges {
			out = append(out, edge.Node)
		}
		if !is.PageInfo.HasNextPage {
			if is.TotalCount != len(out) {
				t.Fatalf("run %s: issues totalCount %d, but %d listed", runID, is.TotalCount, len(out))
			}
			return out
		}
		after = *is.PageInfo.EndCursor
	}
}

// syncRec is what the sync must make of one fetched record.
type syncRec struct {
	i    int
	ext  string
	code string // "" for an imported contact, else the import issue code
	e164 string
	raw  string // the contact's phoneRaw, or the issue's rawPhone ("" for none)
	// first is, for a DUPLICATE, the index of the first record of the run
	// with the number; -1 when the number was in the campaign before.
	first    int
	firstExt string
	p        sandbox.Person
}

// syncModel predicts a sync from the data set: the records [from, to) are
// fetched in index order, and the pipeline rules apply in the engine's
// order (unreadable record, phone, references, duplicates).
type syncModel struct {
	d        sandbox.Dataset
	from, to int
	listed   func(i int) bool // the people of [from, to) the search lists; nil: all
	gone     func(i int) bool // the people the external system reports gone (ERASED); nil: none
	keep     func(i int) bool // the trigger's references; nil keeps all
	problem  func(i int) bool // records the connector cannot read; nil: none
	existing map[string]bool  // numbers the campaign has before the run
}

func (m syncModel) records() []syncRec {
	var out []syncRec
	first := map[string]int{}
	for i := m.from; i < m.to; i++ {
		if m.listed != nil && !m.listed(i) {
			continue
		}
		p := m.d.Person(i)
		r := syncRec{i: i, ext: p.ID, p: p, first: -1}
		switch {
		case m.gone != nil && m.gone(i):
			r.code = "ERASED"
		case m.problem != nil && m.problem(i):
			r.code = "INVALID_RECORD"
		case p.Kind == sandbox.PhoneMissing:
			r.code = "MISSING_PHONE"
		case p.Kind == sandbox.PhoneInvalid:
			r.code, r.raw = "INVALID_PHONE", syncTrunc(p.Phones[0], 250)
		case m.keep != nil && !m.keep(i):
			r.code = "FILTERED_OUT"
		default:
			r.e164, r.raw = p.E164, p.Phones[len(p.Phones)-1] // a valid phone comes last
			if f, ok := first[p.E164]; ok {
				r.code, r.first, r.firstExt = "DUPLICATE", f, m.d.ExternalID(f)
			} else {
				first[p.E164] = i
				if m.existing[p.E164] {
					r.code = "DUPLICATE"
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func syncDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func syncTrunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// syncWant is the counters a run over recs must end with.
func syncWant(recs []syncRec) syncRun {
	w := syncRun{Fetched: len(recs)}
	for _, r := range recs {
		switch r.code {
		case "":
			w.Imported++
		case "DUPLICATE":
			w.Duplicates++
		case "MISSING_PHONE", "INVALID_PHONE":
			w.InvalidPhone++
		case "FILTERED_OUT":
			w.FilteredOut++
		case "ERASED":
			w.Erased++
		default:
			w.Failed++
		}
	}
	return w
}

func syncCheckCounters(t *testing.T, got, want syncRun) {
	t.Helper()
	if got.Fetched != want.Fetched || got.Imported != want.Imported || got.Duplicates != want.Duplicates ||
		got.InvalidPhone != want.InvalidPhone || got.FilteredOut != want.FilteredOut || got.Failed != want.Failed || got.Erased != want.Erased {
		t.Errorf("counters: got %s\nwant fetched=%d imported=%d duplicates=%d invalidPhone=%d filteredOut=%d failed=%d erased=%d",
			got, want.Fetched, want.Imported, want.Duplicates, want.InvalidPhone, want.FilteredOut, want.Failed, want.Erased)
	}
	if !got.sumsUp() {
		t.Errorf("counters do not add up: %s", got)
	}
}

// syncCheckRun checks a finished run against the model's records: its
// counters, one import issue with the right code per record not imported,
// and one contact with the right number, raw phone and names per record
// imported. contacts are the campaign's contacts after the run.
func syncCheckRun(t *testing.T, e *syncEnv, run syncRun, recs []syncRec, contacts []syncContact) {
	t.Helper()
	syncCheckCounters(t, run, syncWant(recs))
	byE164 := map[string]syncContact{}
	byExt := map[string]syncContact{}
	for _, c := range contacts {
		if _, dup := byE164[c.PhoneE164]; dup {
			t.Errorf("two contacts with %s in the campaign", c.PhoneE164)
		}
		byE164[c.PhoneE164] = c
		byExt[c.ExternalID] = c
	}
	issues := e.issues(t, run.ID)
	byIssueExt := map[string]syncIssue{}
	erased := 0
	for _, is := range issues {
		if is.Code == "ERASED" { // kept without the record's external ID or number
			erased++
			if is.ExternalID != "" || is.RawPhone != nil {
				t.Errorf("ERASED issue %s keeps the record: %+v", is.ID, is)
			}
			continue
		}
		if prev, dup := byIssueExt[is.ExternalID]; dup {
			t.Errorf("record %s has two import issues: %+v and %+v", is.ExternalID, prev, is)
		}
		byIssueExt[is.ExternalID] = is
		if is.Run.ID != run.ID {
			t.Errorf("issue %s of run %s lists run %s", is.ID, run.ID, is.Run.ID)
		}
	}
	if want := run.Fetched - run.Imported; len(issues) != want {
		t.Errorf("%d import issues, want one per record not imported: %d", len(issues), want)
	}
	if want := syncWant(recs).Erased; erased != want {
		t.Errorf("%d ERASED issues, want %d", erased, want)
	}
	for _, r := range recs {
		if r.code == "ERASED" {
			if c, ok := byExt[r.ext]; ok {
				t.Errorf("record %s of a person gone is contact %s", r.ext, c.ID)
			}
			continue
		}
		is, hasIssue := byIssueExt[r.ext]
		if r.code == "" {
			if hasIssue {
				t.Errorf("record %s was imported but also has issue %+v", r.ext, is)
			}
			c, ok := byE164[r.e164]
			switch {
			case !ok:
				t.Errorf("record %s (%s): no contact with that number", r.ext, r.e164)
			case c.ExternalID != r.ext || c.PhoneRaw != r.raw || c.Trigger == nil || c.Trigger.ID != run.Trigger.ID ||
				syncDeref(c.FirstName) != r.p.FirstName || syncDeref(c.LastName) != r.p.LastName || syncDeref(c.Email) != r.p.Email:
				t.Errorf("record %s: contact %+v, want external ID %s, phoneRaw %q, trigger %s, %s %s <%s>",
					r.ext, c, r.ext, r.raw, run.Trigger.ID, r.p.FirstName, r.p.LastName, r.p.Email)
			}
			continue
		}
		if !hasIssue {
			t.Errorf("record %s: no import issue, want %s", r.ext, r.code)
			continue
		}
		if is.Code != r.code {
			t.Errorf("record %s: issue %s (%s), want %s", r.ext, is.Code, is.Message, r.code)
			continue
		}
		if is.Message == "" {
			t.Errorf("record %s: issue %s without a message", r.ext, is.Code)
		}
		if c, ok := byExt[r.ext]; ok && r.code != "DUPLICATE" {
			t.Errorf("record %s has issue %s but is contact %s", r.ext, r.code, c.ID)
		}
		switch r.code {
		case "MISSING_PHONE", "FILTERED_OUT", "INVALID_RECORD":
			if is.RawPhone != nil {
				t.Errorf("record %s: %s issue with rawPhone %q", r.ext, r.code, *is.RawPhone)
			}
		case "INVALID_PHONE":
			if syncDeref(is.RawPhone) != r.raw {
				t.Errorf("record %s: INVALID_PHONE rawPhone %q, want %q", r.ext, syncDeref(is.RawPhone), r.raw)
			}
		case "DUPLICATE":
			if syncDeref(is.RawPhone) != r.raw {
				t.Errorf("record %s: DUPLICATE rawPhone %q, want %q", r.ext, syncDeref(is.RawPhone), r.raw)
			}
			existing, ok := byE164[r.e164]
			if !ok {
				t.Errorf("record %s: DUPLICATE of %s, but no contact has that number", r.ext, r.e164)
				continue
			}
			names := strings.Contains(is.Message, existing.ID)
			if r.first >= 0 { // the record earlier in the run may be named instead
				names = names || regexp.MustCompile(`\b`+r.firstExt+`\b`).MatchString(is.Message)
			}
			if !strings.Contains(is.Message, r.e164) || !names {
				t.Errorf("record %s: DUPLICATE message %q does not name the number %s and the existing contact %s (external ID %s)",
					r.ext, is.Message, r.e164, existing.ID, existing.ExternalID)
			}
		}
	}
}

// syncPost sends a GraphQL request without a *testing.T, for goroutines.
func syncPost(c *apptest.Client, query string, vars map[string]any) (apptest.Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return apptest.Response{}, err
	}
	req, err := http.NewRequest(http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return apptest.Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apptest.Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return apptest.Response{}, err
	}
	out := apptest.Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("HTTP %d, not a GraphQL response: %s", resp.StatusCode, raw)
	}
	return out, nil
}

// syncFixture is an organization with a campaign and an enabled trigger of
// one provider on fakes of its own.
type syncFixture struct {
	*syncEnv
	fk       *fakes.Set
	d        sandbox.Dataset
	campaign string
	integ    string
	trig     string
}

func syncSetup(t *testing.T, app *apptest.App, d sandbox.Dataset, wrap func(http.Handler) http.Handler,
	p schematype.ProviderKey, fields map[string]any) *syncFixture {
	t.Helper()
	f := &syncFixture{syncEnv: syncNewEnv(t, app), d: d}
	f.fk = apptest.StartSyncFakes(t, d, wrap)
	f.campaign = f.newCampaign(t, t.Name())
	f.integ = f.connect(t, f.fk, p)
	f.trig = f.trigger(t, f.campaign, f.integ, fields)
	return f
}

// syncPaths matches requests by their path.
func syncPaths(paths ...string) func(*http.Request) bool {
	return func(r *http.Request) bool { return slices.Contains(paths, r.URL.Path) }
}

// syncAnswer answers the requests whose path is a key of answers with the
// given status and JSON body, and passes the others to next.
func syncAnswer(answers map[string]func(w http.ResponseWriter)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a, ok := answers[r.URL.Path]; ok {
				a(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func syncJSON(status int, contentType string, body any) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

// syncAppCursorAt matches the unified ATS fake's application list requests
// that resume at position pos or later (its cursors are
// base64url("applications:<pos>")).
func syncAppCursorAt(pos int) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.URL.Path != "/applications" {
			return false
		}
		b, err := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("cursor"))
		if err != nil {
			return false
		}
		var n int
		_, err = fmt.Sscanf(string(b), "applications:%d", &n)
		return err == nil && n >= pos
	}
}

func TestSyncTestSync(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		d := syncNow(11, 60)

		t.Run("a disabled trigger answers VALIDATION_FAILED and starts nothing", func(t *testing.T) {
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			off := f.configure(t, f.newCampaign(t, "off"), f.integ, false, nil)
			r := f.c.Do(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": off})
			if r.Code() != "VALIDATION_FAILED" || r.Field() != "triggerID" {
				t.Fatalf("code %q field %q, want VALIDATION_FAILED on triggerID; errors %+v", r.Code(), r.Field(), r.Errors)
			}
			if n := f.getTrigger(t, off).SyncRuns.TotalCount; n != 0 {
				t.Fatalf("%d runs of the disabled trigger", n)
			}
		})

		t.Run("a trigger whose integration is disconnected answers VALIDATION_FAILED", func(t *testing.T) {
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			f.c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { status } }`, map[string]any{"id": f.integ}, &struct{}{})
			r := f.c.Do(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": f.trig})
			if r.Code() != "VALIDATION_FAILED" || r.Field() != "triggerID" {
				t.Fatalf("code %q field %q, want VALIDATION_FAILED on triggerID; errors %+v", r.Code(), r.Field(), r.Errors)
			}
			if n := f.getTrigger(t, f.trig).SyncRuns.TotalCount; n != 0 {
				t.Fatalf("%d runs of the trigger", n)
			}
		})

		t.Run("an enabled trigger queues a TEST run that ends SUCCEEDED", func(t *testing.T) {
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			run := f.testSync(t, f.trig)
			// The answer reads the run after its commit: a worker may have
			// taken it by then.
			if (run.Status != "QUEUED" && run.Status != "RUNNING") || run.Kind != "TEST" || run.Trigger.ID != f.trig || run.FinishedAt != nil {
				t.Fatalf("testSync returned %s (trigger %s, finishedAt %v), want a QUEUED or RUNNING TEST run of %s", run, run.Trigger.ID, run.FinishedAt, f.trig)
			}
			if run.Status == "QUEUED" && run.Fetched != 0 {
				t.Fatalf("testSync returned %s: a queued run has fetched nothing", run)
			}
			end := f.waitRun(t, run.ID)
			if end.Status != "SUCCEEDED" || end.Error != nil || end.Fetched != d.Size || !end.sumsUp() {
				t.Fatalf("ended %s, want SUCCEEDED without error after fetching %d", end, d.Size)
			}
			if end.StartedAt == nil || end.FinishedAt == nil || end.FinishedAt.Before(*end.StartedAt) {
				t.Errorf("startedAt %v finishedAt %v", end.StartedAt, end.FinishedAt)
			}
			tr := f.getTrigger(t, f.trig)
			if tr.LastRun == nil || tr.LastRun.ID != run.ID || tr.SyncRuns.TotalCount != 1 || tr.LastSyncAt == nil {
				t.Errorf("trigger after the run: lastRun %v, %d runs, lastSyncAt %v", tr.LastRun, tr.SyncRuns.TotalCount, tr.LastSyncAt)
			}
		})

		t.Run("ten concurrent testSyncs return one run", func(t *testing.T) {
			// The fake holds the first page until all ten have answered,
			// so the run is active for all of them.
			gate := apptest.NewSyncGate(syncPaths("/talention/applications"))
			f := syncSetup(t, app, d, gate.Wrap, schematype.ProviderTalention, nil)
			defer gate.Open()
			const n = 10
			runs := make([]syncRun, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r, err := syncPost(f.c, `mutation($id: ID!) { testSync(triggerID: $id) { `+syncRunFields+` } }`, map[string]any{"id": f.trig})
					if err == nil && len(r.Errors) > 0 {
						err = fmt.Errorf("GraphQL errors: %+v", r.Errors)
					}
					if err == nil {
						var got struct{ TestSync syncRun }
						err = json.Unmarshal(r.Data, &got)
						runs[i] = got.TestSync
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("request %d: %v", i, errs[i])
				}
				if runs[i].ID == "" || runs[i].ID != runs[0].ID || runs[i].Kind != "TEST" || runs[i].ended() {
					t.Fatalf("request %d returned %s; request 0 returned %s", i, runs[i], runs[0])
				}
			}
			if got := f.getTrigger(t, f.trig).runs(); len(got) != 1 || got[0].ID != runs[0].ID {
				t.Fatalf("runs of the trigger: %v, want only %s", got, runs[0].ID)
			}
			gate.Open()
			if end := f.waitRun(t, runs[0].ID); end.Status != "SUCCEEDED" || end.Fetched != d.Size {
				t.Fatalf("ended %s", end)
			}
			if got := f.getTrigger(t, f.trig).runs(); len(got) != 1 {
				t.Fatalf("%d runs after the run ended, want 1: %v", len(got), got)
			}
		})
	})
}

func TestSyncAccounting(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)

		t.Run("every record ends as exactly one contact or one import issue", func(t *testing.T) {
			d := syncNow(3, 200)
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			recs := syncModel{d: d, to: d.Size}.records()
			want := syncWant(recs)
			if want.Imported == 0 || want.Duplicates == 0 || want.InvalidPhone == 0 {
				t.Fatalf("the data set lacks a kind of record: %s", want)
			}
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" || run.Error != nil {
				t.Fatalf("ended %s", run)
			}
			if run.Failed != 0 || run.FilteredOut != 0 {
				t.Errorf("failed %d filteredOut %d, want 0", run.Failed, run.FilteredOut)
			}
			contacts := f.contacts(t, f.campaign)
			if len(contacts) != run.Imported {
				t.Errorf("%d contacts, run imported %d", len(contacts), run.Imported)
			}
			syncCheckRun(t, f.syncEnv, run, recs, contacts)
			// The kinds of issue, as the data set predicts them.
			codes := map[string]int{}
			for _, is := range f.issues(t, run.ID) {
				codes[is.Code]++
			}
			var missing, invalid int
			for i := range d.Size {
				switch d.Kind(i) {
				case sandbox.PhoneMissing:
					missing++
				case sandbox.PhoneInvalid:
					invalid++
				}
			}
			if codes["MISSING_PHONE"] != missing || codes["INVALID_PHONE"] != invalid || codes["DUPLICATE"] != run.Duplicates {
				t.Errorf("issues by code %v, want %d MISSING_PHONE, %d INVALID_PHONE, %d DUPLICATE", codes, missing, invalid, run.Duplicates)
			}
		})

		t.Run("numbers already in the campaign are DUPLICATE issues naming the contact", func(t *testing.T) {
			// Talention and Compleet fakes serve the same people: the
			// Compleet trigger of the same campaign finds every number taken.
			d := syncNow(5, 60)
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			first := f.waitRun(t, f.testSync(t, f.trig).ID)
			if first.Status != "SUCCEEDED" {
				t.Fatalf("first run ended %s", first)
			}
			before := f.contacts(t, f.campaign)
			existing := map[string]bool{}
			for _, c := range before {
				existing[c.PhoneE164] = true
			}
			comp := f.trigger(t, f.campaign, f.connect(t, f.fk, schematype.ProviderCompleet), nil)
			run := f.waitRun(t, f.testSync(t, comp).ID)
			if run.Status != "SUCCEEDED" || run.Imported != 0 {
				t.Fatalf("second run ended %s, want SUCCEEDED importing nothing", run)
			}
			recs := syncModel{d: d, to: d.Size, existing: existing}.records()
			after := f.contacts(t, f.campaign)
			if len(after) != len(before) {
				t.Errorf("%d contacts after the second run, %d before", len(after), len(before))
			}
			syncCheckRun(t, f.syncEnv, run, recs, after)
			// A number first seen in this run can only name the contact.
			ids := map[string]string{}
			for _, c := range after {
				ids[c.PhoneE164] = c.ID
			}
			issues := map[string]syncIssue{}
			for _, is := range f.issues(t, run.ID) {
				issues[is.ExternalID] = is
			}
			n := 0
			for _, r := range recs {
				if r.code == "DUPLICATE" && r.first < 0 {
					n++
					if msg := issues[r.ext].Message; !strings.Contains(msg, ids[r.e164]) {
						t.Errorf("record %s: %q does not name contact %s", r.ext, msg, ids[r.e164])
					}
				}
			}
			if n == 0 {
				t.Fatal("no record of the second run met a number of the campaign")
			}
		})

		t.Run("one number in five formats is one contact", func(t *testing.T) {
			const e164 = "+4915123456789"
			formats := []string{"+49 151 23456789", "0151 23456789", "0049 151 23456789", "(0151) 234-56789", "+49 (0)151 2345 6789"}
			d := syncNow(6, len(formats))
			answers := map[string]func(http.ResponseWriter){}
			for i, ph := range formats {
				p := d.Person(i)
				answers["/talention/candidates/"+p.ID] = syncJSON(http.StatusOK, "application/json", map[string]any{
					"status": "success",
					"data": map[string]any{
						"id": p.ID, "first_name": p.FirstName, "last_name": p.LastName,
						"phone_numbers":   []map[string]string{{"phone_number": ph, "type": "mobile"}},
						"email_addresses": []map[string]string{{"email_address": p.Email, "type": "personal"}},
					},
				})
			}
			f := syncSetup(t, app, d, syncAnswer(answers), schematype.ProviderTalention, nil)
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" || run.Fetched != 5 || run.Imported != 1 || run.Duplicates != 4 || !run.sumsUp() {
				t.Fatalf("ended %s, want 5 fetched, 1 imported, 4 duplicates", run)
			}
			var got struct {
				Node struct{ Contacts struct{ TotalCount int } }
			}
			f.c.MustDo(t, `query($id: ID!, $p: String!) { node(id: $id) { ... on Campaign { contacts(where: {phoneE164: $p}) { totalCount } } } }`,
				map[string]any{"id": f.campaign, "p": e164}, &got)
			if got.Node.Contacts.TotalCount != 1 {
				t.Fatalf("%d contacts with %s, want 1", got.Node.Contacts.TotalCount, e164)
			}
			contacts := f.contacts(t, f.campaign)
			if len(contacts) != 1 || contacts[0].PhoneE164 != e164 || contacts[0].PhoneRaw != formats[0] || contacts[0].ExternalID != d.ExternalID(0) {
				t.Fatalf("contacts %+v, want one %s from %q (record %s)", contacts, e164, formats[0], d.ExternalID(0))
			}
			issues := f.issues(t, run.ID)
			if len(issues) != 4 {
				t.Fatalf("%d issues, want 4: %+v", len(issues), issues)
			}
			for _, is := range issues {
				i, ok := d.IndexOf(is.ExternalID)
				if !ok || i == 0 || is.Code != "DUPLICATE" || syncDeref(is.RawPhone) != formats[i] || !strings.Contains(is.Message, e164) {
					t.Errorf("issue %+v (rawPhone %q), want a DUPLICATE of %s with the record's own format", is, syncDeref(is.RawPhone), e164)
				}
			}
		})

		t.Run("a raw phone over 250 characters is INVALID_PHONE, kept cut to 250", func(t *testing.T) {
			long := strings.Repeat("0151 2345678 ", 20) // 260 characters
			d := syncNow(19, 2)
			p := d.Person(0)
			f := syncSetup(t, app, d, syncAnswer(map[string]func(http.ResponseWriter){
				"/talention/candidates/" + p.ID: syncJSON(http.StatusOK, "application/json", map[string]any{
					"status": "success",
					"data": map[string]any{"id": p.ID, "first_name": p.FirstName, "last_name": p.LastName,
						"phone_numbers": []map[string]string{{"phone_number": long, "type": "mobile"}}},
				}),
			}), schematype.ProviderTalention, nil)
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" || run.Fetched != 2 || run.InvalidPhone != 1 || !run.sumsUp() {
				t.Fatalf("ended %s, want 2 fetched, 1 invalid phone", run)
			}
			issues := f.issues(t, run.ID)
			if len(issues) != 1 || issues[0].ExternalID != p.ID || issues[0].Code != "INVALID_PHONE" ||
				syncDeref(issues[0].RawPhone) != long[:250] || !strings.Contains(issues[0].Message, "too long") {
				t.Fatalf("issues %+v, want one INVALID_PHONE of %s saying the number is too long, with its first 250 characters", issues, p.ID)
			}
		})

		t.Run("records of none of the trigger's references are FILTERED_OUT", func(t *testing.T) {
			// The connector asks the ATS for one job's applications; this
			// ATS ignores the filter and lists every job's.
			var asked atomic.Int32
			ignoreJobFilter := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/talention/applications" {
						q := r.URL.Query()
						if slices.Equal(q["job_id"], []string{atsfake.JobID(0)}) {
							asked.Add(1)
						}
						q.Del("job_id")
						r = r.Clone(r.Context())
						r.URL.RawQuery = q.Encode()
					}
					next.ServeHTTP(w, r)
				})
			}
			d := syncNow(7, 60)
			f := syncSetup(t, app, d, ignoreJobFilter, schematype.ProviderTalention, map[string]any{
				"references": []map[string]any{{"externalID": atsfake.JobID(0), "kind": "JOB", "name": atsfake.JobName(0)}},
			})
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" {
				t.Fatalf("ended %s", run)
			}
			if asked.Load() == 0 {
				t.Fatal("the connector never asked for the reference's job")
			}
			recs := syncModel{d: d, to: d.Size, keep: func(i int) bool { return i%5 == 0 }}.records()
			if syncWant(recs).FilteredOut == 0 {
				t.Fatal("the model filters nothing out")
			}
			syncCheckRun(t, f.syncEnv, run, recs, f.contacts(t, f.campaign))
		})

		t.Run("a record the connector cannot read is INVALID_RECORD", func(t *testing.T) {
			// zvoove answers 404 for three candidates' details; one of them
			// has a number that a later record repeats, which is then new.
			d := syncNow(8, 60)
			gone := []int{1, 6, 20}
			answers := map[string]func(http.ResponseWriter){}
			for _, i := range gone {
				answers["/zvoove/temp-staffing-de/v2/candidates/"+d.ExternalID(i)] = syncJSON(http.StatusNotFound, "application/problem+json",
					map[string]any{"type": "https://tools.ietf.org/html/rfc9110#section-15", "title": "Not Found", "status": 404,
						"detail": "Candidate " + d.ExternalID(i) + " was not found."})
			}
			if d.Kind(7) != sandbox.PhoneDuplicate || d.Person(7).DupOf != 6 {
				t.Fatal("person 7 no longer repeats person 6's number")
			}
			f := syncSetup(t, app, d, syncAnswer(answers), schematype.ProviderZvoove, nil)
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" || run.Failed != len(gone) {
				t.Fatalf("ended %s, want SUCCEEDED with %d failed", run, len(gone))
			}
			recs := syncModel{d: d, to: d.Size, problem: func(i int) bool { return slices.Contains(gone, i) }}.records()
			syncCheckRun(t, f.syncEnv, run, recs, f.contacts(t, f.campaign))
			for _, is := range f.issues(t, run.ID) {
				if is.Code == "INVALID_RECORD" && !strings.Contains(is.Message, "404") {
					t.Errorf("INVALID_RECORD %s: %q does not say what went wrong (404)", is.ExternalID, is.Message)
				}
			}
		})
	})
}

func TestSyncIncremental(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)

		t.Run("new applications continue from the last successful sync", func(t *testing.T) {
			// People are an hour apart, the last one created now. Once
			// grown is set, the ATS also lists 20 people created later.
			setup := time.Now()
			d := sandbox.Dataset{Seed: 9, Size: 100, Step: time.Hour}.AnchoredAt(setup)
			bigger := d
			bigger.Size = 120
			big := fakes.New(bigger).Handler()
			var grown atomic.Bool
			swap := func(small http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if grown.Load() {
						big.ServeHTTP(w, r)
						return
					}
					small.ServeHTTP(w, r)
				})
			}
			f := syncSetup(t, app, d, swap, schematype.ProviderTalention, nil)

			first := f.waitRun(t, f.testSync(t, f.trig).ID)
			if first.Status != "SUCCEEDED" || first.Fetched != d.Size || first.Error != nil {
				t.Fatalf("first run ended %s, want SUCCEEDED with all %d people", first, d.Size)
			}
			recs := syncModel{d: d, to: d.Size}.records()
			syncCheckRun(t, f.syncEnv, first, recs, f.contacts(t, f.campaign))

			second := f.waitRun(t, f.testSync(t, f.trig).ID)
			if second.ID == first.ID || second.Status != "SUCCEEDED" || second.Fetched != 0 || !second.sumsUp() {
				t.Fatalf("second run ended %s, want SUCCEEDED fetching nothing", second)
			}
			if second.Error == nil || !strings.Contains(*second.Error, "fetched nothing") {
				t.Errorf("second run fetched nothing but says %v", second.Error)
			}
			if n := len(f.contacts(t, f.campaign)); n != first.Imported {
				t.Errorf("%d contacts after a run that fetched nothing, want %d", n, first.Imported)
			}

			grown.Store(true)
			if !bigger.CreatedAt(d.Size).After(*second.FinishedAt) {
				t.Fatalf("the new people are not newer than the watermark")
			}
			third := f.waitRun(t, f.testSync(t, f.trig).ID)
			if third.Status != "SUCCEEDED" || third.Error != nil {
				t.Fatalf("third run ended %s", third)
			}
			existing := map[string]bool{}
			for _, r := range recs {
				if r.code == "" {
					existing[r.e164] = true
				}
			}
			newRecs := syncModel{d: bigger, from: d.Size, to: bigger.Size, existing: existing}.records()
			contacts := f.contacts(t, f.campaign)
			syncCheckRun(t, f.syncEnv, third, newRecs, contacts)
			if want := first.Imported + third.Imported; len(contacts) != want {
				t.Errorf("%d contacts, want %d", len(contacts), want)
			}
			seen := map[string]bool{}
			for _, c := range contacts {
				if seen[c.ExternalID] {
					t.Errorf("record %s imported twice", c.ExternalID)
				}
				seen[c.ExternalID] = true
			}
		})

		t.Run("talent pool research fetches who changed within its days, on every run", func(t *testing.T) {
			// People an hour apart, the last created half an hour ago; each
			// changed UpdatedAtLag after creation. The change log of the
			// last day holds the people 70..93; those it reports removed are
			// erased, not imported.
			d := sandbox.Dataset{Seed: 10, Size: 100, Step: time.Hour}.AnchoredAt(time.Now().Add(-30 * time.Minute))
			if sandbox.UpdatedAtLag != 6*time.Hour {
				t.Fatalf("UpdatedAtLag is %s; the window below assumes 6h", sandbox.UpdatedAtLag)
			}
			f := syncSetup(t, app, d, nil, schematype.ProviderZvoove, map[string]any{
				"searchType": connector.SearchTalentPool, "searchParams": map[string]any{"daysSinceLastChange": 1},
			})
			gone := func(i int) bool {
				switch zvoovefake.EntryStatus(i) {
				case zvoovefake.StatusDeleted, zvoovefake.StatusAnonymized, zvoovefake.StatusRemoved:
					return true
				}
				return false
			}
			const window = 94 - 70
			first := f.waitRun(t, f.testSync(t, f.trig).ID)
			if first.Status != "SUCCEEDED" || first.Fetched != window || first.Erased == 0 {
				t.Fatalf("first run ended %s, want SUCCEEDED fetching the %d people changed within a day, some of them gone", first, window)
			}
			recs := syncModel{d: d, from: 70, to: 94, gone: gone}.records()
			syncCheckRun(t, f.syncEnv, first, recs, f.contacts(t, f.campaign))

			second := f.waitRun(t, f.testSync(t, f.trig).ID)
			if second.Status != "SUCCEEDED" || second.Fetched != window || second.Imported != 0 {
				t.Fatalf("second run ended %s, want the same %d people again, all known", second, window)
			}
			existing := map[string]bool{}
			for _, r := range recs {
				if r.code == "" {
					existing[r.e164] = true
				}
			}
			again := syncModel{d: d, from: 70, to: 94, gone: gone, existing: existing}.records()
			syncCheckRun(t, f.syncEnv, second, again, f.contacts(t, f.campaign))
		})
	})
}

// syncImportedOnce checks that the campaign's contacts are exactly the
// records of recs that a sync of them all imports, each once.
func syncImportedOnce(t *testing.T, contacts []syncContact, recs []syncRec) {
	t.Helper()
	want := map[string]string{}
	for _, r := range recs {
		if r.code == "" {
			want[r.ext] = r.e164
		}
	}
	got := map[string]string{}
	for _, c := range contacts {
		if _, dup := got[c.ExternalID]; dup {
			t.Errorf("record %s is two contacts", c.ExternalID)
		}
		got[c.ExternalID] = c.PhoneE164
	}
	if !maps.Equal(got, want) {
		var missing, extra []string
		for ext := range want {
			if _, ok := got[ext]; !ok {
				missing = append(missing, ext)
			}
		}
		for ext := range got {
			if _, ok := want[ext]; !ok {
				extra = append(extra, ext)
			}
		}
		t.Errorf("%d contacts, want %d; missing %v, unexpected %v", len(got), len(want), missing, extra)
	}
}

// syncNumbers returns the numbers imported by recs.
func syncNumbers(recs ...[]syncRec) map[string]bool {
	out := map[string]bool{}
	for _, rs := range recs {
		for _, r := range rs {
			if r.code == "" {
				out[r.e164] = true
			}
		}
	}
	return out
}

func TestSyncCancel(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		d := syncNow(12, 150)
		// The ATS holds every page after the first until the gate opens.
		gate := apptest.NewSyncGate(func(r *http.Request) bool {
			return r.URL.Path == "/talention/applications" && r.URL.Query().Get("cursor") != ""
		})
		f := syncSetup(t, app, d, gate.Wrap, schematype.ProviderTalention, nil)
		defer gate.Open()
		var cancelled syncRun

		ok := t.Run("a running run is CANCELLED and keeps the pages it imported", func(t *testing.T) {
			run := f.testSync(t, f.trig)
			syncEventually(t, "the first page imported and the second asked for", func() (bool, string) {
				r := f.run(t, run.ID)
				return r.Status == "RUNNING" && r.Fetched > 0 && gate.Arrived() > 0, fmt.Sprintf("%s; %d requests held", r, gate.Arrived())
			})
			cancelled = f.cancel(t, run.ID)
			if cancelled.ID != run.ID || cancelled.Status != "CANCELLED" || cancelled.FinishedAt == nil {
				t.Fatalf("cancelSyncRun returned %s (finishedAt %v)", cancelled, cancelled.FinishedAt)
			}
			// The worker notices and abandons the page in flight.
			syncEventually(t, "the worker to give up the held request", func() (bool, string) {
				return gate.Aborted() > 0, fmt.Sprintf("%d requests held, %d given up", gate.Arrived(), gate.Aborted())
			})
			end := f.run(t, run.ID)
			if end.Status != "CANCELLED" || end.Fetched != cancelled.Fetched || !end.FinishedAt.Equal(*cancelled.FinishedAt) {
				t.Fatalf("after the worker stopped: %s, finishedAt %v; when cancelled: %s, finishedAt %v",
					end, end.FinishedAt, cancelled, cancelled.FinishedAt)
			}
			// The page imported before the cancel (the fake's first 50) is
			// all there, and nothing else.
			if end.Fetched != 50 {
				t.Fatalf("fetched %d, want the first page (50)", end.Fetched)
			}
			syncCheckRun(t, f.syncEnv, end, syncModel{d: d, to: 50}.records(), f.contacts(t, f.campaign))
		})
		if !ok {
			return
		}

		t.Run("cancelling a finished run returns it unchanged", func(t *testing.T) {
			again := f.cancel(t, cancelled.ID)
			if again.Status != "CANCELLED" || !again.FinishedAt.Equal(*cancelled.FinishedAt) || again.String() != f.run(t, cancelled.ID).String() {
				t.Fatalf("cancelling again returned %s (finishedAt %v), was %s (finishedAt %v)", again, again.FinishedAt, cancelled, cancelled.FinishedAt)
			}
			gate.Open()
			next := f.waitRun(t, f.testSync(t, f.trig).ID)
			if next.ID == cancelled.ID || next.Status != "SUCCEEDED" {
				t.Fatalf("the run after the cancelled one ended %s", next)
			}
			syncImportedOnce(t, f.contacts(t, f.campaign), syncModel{d: d, to: d.Size}.records())
			if got := f.run(t, cancelled.ID); got.String() != cancelled.String() {
				t.Errorf("the cancelled run changed to %s once its worker could go on; was %s", got, cancelled)
			}
			done := f.cancel(t, next.ID)
			if done.String() != next.String() || !done.FinishedAt.Equal(*next.FinishedAt) {
				t.Fatalf("cancelling a SUCCEEDED run returned %s, was %s", done, next)
			}
			if got := f.run(t, next.ID); got.String() != next.String() {
				t.Fatalf("after cancelling, the SUCCEEDED run is %s", got)
			}
		})
	})
}

func TestSyncFaults(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)

		t.Run("temporary failures end runs PARTIAL and the next run continues from the checkpoint", func(t *testing.T) {
			d := syncNow(13, 150)
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			faults := f.fk.Talention.Faults

			// Every request for the second page fails with 500, retries
			// included.
			faults.Only(syncAppCursorAt(50))
			faults.SetRate(sandbox.ServerError, 1)
			first := f.waitRun(t, f.testSync(t, f.trig).ID)
			if first.Status != "PARTIAL" || first.Error == nil ||
				!strings.Contains(*first.Error, string(schematype.ProviderTalention)) || !strings.Contains(*first.Error, "500") {
				t.Fatalf("first run ended %s, want PARTIAL naming %s and HTTP 500", first, schematype.ProviderTalention)
			}
			recs1 := syncModel{d: d, to: 50}.records()
			syncCheckRun(t, f.syncEnv, first, recs1, f.contacts(t, f.campaign))

			// The third page is rate limited for longer than the connector
			// waits: the second run stops early, after the second page.
			faults.Reset()
			faults.Only(syncAppCursorAt(100))
			faults.SetRetryAfter(time.Hour)
			faults.SetRate(sandbox.RateLimit, 1)
			second := f.waitRun(t, f.testSync(t, f.trig).ID)
			if second.Status != "PARTIAL" || second.Error == nil ||
				!strings.Contains(*second.Error, string(schematype.ProviderTalention)) || !strings.Contains(*second.Error, "429") {
				t.Fatalf("second run ended %s, want PARTIAL naming %s and HTTP 429", second, schematype.ProviderTalention)
			}
			recs2 := syncModel{d: d, from: 50, to: 100, existing: syncNumbers(recs1)}.records()
			syncCheckRun(t, f.syncEnv, second, recs2, f.contacts(t, f.campaign))

			faults.Reset()
			third := f.waitRun(t, f.testSync(t, f.trig).ID)
			if third.Status != "SUCCEEDED" || third.Error != nil {
				t.Fatalf("third run ended %s, want SUCCEEDED", third)
			}
			recs3 := syncModel{d: d, from: 100, to: 150, existing: syncNumbers(recs1, recs2)}.records()
			syncCheckRun(t, f.syncEnv, third, recs3, f.contacts(t, f.campaign))
			syncImportedOnce(t, f.contacts(t, f.campaign), syncModel{d: d, to: d.Size}.records())
			if n := f.fk.Talention.Faults.Injected()[sandbox.RateLimit]; n != 1 {
				t.Errorf("%d rate-limited requests, want 1: a Retry-After beyond the connector's limit is not waited for", n)
			}
		})

		t.Run("a refused API key FAILS the run", func(t *testing.T) {
			// After connecting, the ATS only accepts another key.
			d := syncNow(14, 40)
			rotated := http.StripPrefix("/talention", atsfake.New(atsfake.Config{Provider: "Talention", Dataset: d, APIKey: "rotated-key"}).Handler())
			var rotate atomic.Bool
			wrap := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if rotate.Load() && strings.HasPrefix(r.URL.Path, "/talention/") {
						rotated.ServeHTTP(w, r)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			f := syncSetup(t, app, d, wrap, schematype.ProviderTalention, nil)
			rotate.Store(true)
			run := f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "FAILED" || run.Error == nil || !strings.Contains(*run.Error, "401") || run.Fetched != 0 {
				t.Fatalf("ended %s, want FAILED with the HTTP 401 and nothing fetched", run)
			}
			if n := len(f.contacts(t, f.campaign)); n != 0 {
				t.Fatalf("%d contacts after a failed run", n)
			}
			rotate.Store(false)
			next := f.waitRun(t, f.testSync(t, f.trig).ID)
			if next.Status != "SUCCEEDED" || next.Fetched != d.Size {
				t.Fatalf("the run with the key accepted again ended %s, want SUCCEEDED fetching all %d", next, d.Size)
			}
		})
	})
}

// waitRuns returns a trigger's runs once it has at least n; what says
// what the test waits for.
func (e *syncEnv) waitRuns(t *testing.T, trig string, n int, what string) []syncRun {
	t.Helper()
	var runs []syncRun
	syncEventually(t, fmt.Sprintf("%s (%d runs of trigger %s)", what, n, trig), func() (bool, string) {
		runs = e.getTrigger(t, trig).runs()
		return len(runs) >= n, fmt.Sprintf("%v", runs)
	})
	return runs
}

func TestSyncSchedule(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		d := syncNow(15, 40)

		t.Run("a due trigger gets one SCHEDULED run and its next sync an interval later", func(t *testing.T) {
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, map[string]any{"syncIntervalSeconds": 3600})
			if runs := f.getTrigger(t, f.trig).runs(); len(runs) != 0 {
				t.Fatalf("runs before the trigger was due: %v", runs)
			}
			due := time.Now()
			f.setDue(t, due.Add(-time.Minute), f.trig)
			run := f.waitRuns(t, f.trig, 1, "the scheduler to queue a run of the due trigger")[0]
			seen := time.Now()
			if run.Kind != "SCHEDULED" {
				t.Fatalf("the due trigger got %s", run)
			}
			queued := f.getTrigger(t, f.trig)
			// Queued between due and seen, the next sync is an interval later.
			lo, hi := due.Add(time.Hour-time.Second), seen.Add(time.Hour+time.Second)
			if queued.NextSyncAt == nil || queued.NextSyncAt.Before(lo) || queued.NextSyncAt.After(hi) {
				t.Errorf("nextSyncAt %v, want within [%s, %s]", queued.NextSyncAt, lo, hi)
			}
			end := f.waitRun(t, run.ID)
			if end.Status != "SUCCEEDED" || end.Fetched != d.Size {
				t.Fatalf("the scheduled run ended %s", end)
			}
			syncImportedOnce(t, f.contacts(t, f.campaign), syncModel{d: d, to: d.Size}.records())
			after := f.getTrigger(t, f.trig)
			if after.LastSyncAt == nil || after.LastSyncAt.Before(*end.StartedAt) || syncAbs(after.LastSyncAt.Sub(*end.FinishedAt)) > time.Second {
				t.Errorf("lastSyncAt %v, want when the run ended (%v)", after.LastSyncAt, end.FinishedAt)
			}
			if after.NextSyncAt == nil || !after.NextSyncAt.Equal(*queued.NextSyncAt) {
				t.Errorf("nextSyncAt moved from %v to %v when the run ended", queued.NextSyncAt, after.NextSyncAt)
			}
			// The trigger is not due again: another scheduling pass adds nothing.
			if err := app.Engine.ScheduleDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			if runs := f.getTrigger(t, f.trig).runs(); len(runs) != 1 {
				t.Fatalf("%d runs after another scheduling pass, want 1: %v", len(runs), runs)
			}
		})

		t.Run("a trigger enabled through the API syncs at once", func(t *testing.T) {
			e := syncNewEnv(t, app)
			fk := apptest.StartSyncFakes(t, d, nil)
			camp := e.newCampaign(t, "enabled")
			enabled := time.Now()
			trig := e.configure(t, camp, e.connect(t, fk, schematype.ProviderTalention), true, nil)
			run := e.waitRuns(t, trig, 1, "the scheduler to queue a run of the newly enabled (so due) trigger")[0]
			if run.Kind != "SCHEDULED" {
				t.Fatalf("the newly enabled trigger got %s", run)
			}
			tr := e.getTrigger(t, trig)
			if tr.NextSyncAt == nil || tr.NextSyncAt.Before(enabled.Add(time.Duration(tr.SyncIntervalSeconds)*time.Second-time.Second)) {
				t.Errorf("nextSyncAt %v, want about %ds after %s", tr.NextSyncAt, tr.SyncIntervalSeconds, enabled)
			}
			if end := e.waitRun(t, run.ID); end.Status != "SUCCEEDED" || end.Fetched != d.Size {
				t.Fatalf("ended %s", end)
			}
		})

		t.Run("a disabled trigger and a disconnected integration's trigger are not scheduled", func(t *testing.T) {
			e := syncNewEnv(t, app)
			fk := apptest.StartSyncFakes(t, d, nil)
			integ := e.connect(t, fk, schematype.ProviderTalention)
			gone := e.connect(t, fk, schematype.ProviderTalention)
			control := e.trigger(t, e.newCampaign(t, "control"), integ, nil)
			disabled := e.configure(t, e.newCampaign(t, "disabled"), integ, false, nil)
			orphan := e.trigger(t, e.newCampaign(t, "orphan"), gone, nil)
			e.c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { status } }`, map[string]any{"id": gone}, &struct{}{})
			e.setDue(t, time.Now().Add(-time.Minute), control, disabled, orphan)
			// A pass of the scheduler that surely saw them all due.
			if err := app.Engine.ScheduleDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			if runs := e.getTrigger(t, control).runs(); len(runs) != 1 || runs[0].Kind != "SCHEDULED" {
				t.Fatalf("the due control trigger has runs %v, want one SCHEDULED", runs)
			}
			for name, id := range map[string]string{"disabled": disabled, "disconnected": orphan} {
				if runs := e.getTrigger(t, id).runs(); len(runs) != 0 {
					t.Errorf("the %s trigger was scheduled: %v", name, runs)
				}
			}
			e.waitRun(t, e.getTrigger(t, control).runs()[0].ID)
		})
	})
}

func syncAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestSyncWebhook(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		d := syncNow(16, 40)

		t.Run("a signed webhook starts a WEBHOOK run of the integration's enabled triggers", func(t *testing.T) {
			f := syncSetup(t, app, d, nil, schematype.ProviderTalention, nil)
			off := f.configure(t, f.newCampaign(t, "off"), f.integ, false, nil)
			h, body := f.fk.Talention.ApplicationCreated(atsfake.ApplicationID(d, 3), time.Now())
			req, err := http.NewRequest(http.MethodPost, app.URL+"/webhooks/talention/"+f.integ, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = h
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("webhook answered %d, want 202", resp.StatusCode)
			}
			runs := f.waitRuns(t, f.trig, 1, "the webhook's run")
			if len(runs) != 1 || runs[0].Kind != "WEBHOOK" {
				t.Fatalf("runs of the enabled trigger: %v, want one WEBHOOK run", runs)
			}
			end := f.waitRun(t, runs[0].ID)
			if end.Status != "SUCCEEDED" {
				t.Fatalf("ended %s", end)
			}
			syncCheckRun(t, f.syncEnv, end, syncModel{d: d, to: d.Size}.records(), f.contacts(t, f.campaign))
			if runs := f.getTrigger(t, off).runs(); len(runs) != 0 {
				t.Errorf("the disabled trigger of the integration ran: %v", runs)
			}
		})
	})
}

const syncProgressQuery = `subscription($id: ID!) { syncProgress(runID: $id) {
	run { id status } phase fetched imported duplicates invalidPhone filteredOut failed total done } }`

const syncEventsQuery = `subscription($id: ID!) { campaignEvents(campaignID: $id) {
	__typename
	... on SyncProgress { run { id status } phase imported done }
	... on ContactsImported { campaign { id } run { id } count } } }`

type syncProgress struct {
	Run struct {
		ID     string
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

func (p syncProgress) counters() [6]int {
	return [6]int{p.Fetched, p.Imported, p.Duplicates, p.InvalidPhone, p.FilteredOut, p.Failed}
}

type syncEvent struct {
	Typename string `json:"__typename"`
	Run      struct {
		ID     string
		Status string
	}
	Phase    string
	Imported int
	Done     bool
	Campaign struct{ ID string }
	Count    int
}

// syncNext returns the next result of operation id on ws, decoded into v,
// failing on anything else or when nothing comes within syncDeadline.
func syncNext(t *testing.T, ws *apptest.WS, id string, v any) {
	t.Helper()
	m, err := ws.Read(syncDeadline)
	if err != nil {
		t.Fatalf("waiting for the next message of %s: %v", id, err)
	}
	if m.Type != "next" || m.ID != id {
		t.Fatalf("got %s %s %s, want next for %s", m.Type, m.ID, m.Payload, id)
	}
	var d apptest.Data
	if err := json.Unmarshal(m.Payload, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Errors) > 0 {
		t.Fatalf("%s: errors %+v", id, d.Errors)
	}
	if err := json.Unmarshal(d.Data, v); err != nil {
		t.Fatalf("decoding %s: %v", d.Data, err)
	}
}

// syncFollow reads syncProgress messages of operation id from the first
// to the one with done, checking that counters never decrease, then the
// complete message. It returns the messages.
func syncFollow(t *testing.T, ws *apptest.WS, id string, first syncProgress) []syncProgress {
	t.Helper()
	msgs := []syncProgress{first}
	for last := first; !last.Done; {
		var got struct{ SyncProgress syncProgress }
		syncNext(t, ws, id, &got)
		p := got.SyncProgress
		for k, c := range p.counters() {
			if c < last.counters()[k] {
				t.Errorf("counters went back from %v to %v", last.counters(), p.counters())
			}
		}
		msgs = append(msgs, p)
		last = p
	}
	m, err := ws.Read(syncDeadline)
	if err != nil || m.Type != "complete" || m.ID != id {
		t.Fatalf("after done: %s %s %s (%v), want complete for %s", m.Type, m.ID, m.Payload, err, id)
	}
	return msgs
}

// syncCheckFirst checks that a first syncProgress message shows a run that
// has not ended yet.
func syncCheckFirst(t *testing.T, p syncProgress, runID string) {
	t.Helper()
	if p.Run.ID != runID || p.Done || (p.Run.Status != "QUEUED" && p.Run.Status != "RUNNING") ||
		(p.Phase != "QUEUED" && p.Phase != "FETCHING") || p.Fetched != 0 {
		t.Fatalf("first message %+v, want run %s QUEUED or RUNNING, nothing fetched yet", p, runID)
	}
}

func syncCheckLast(t *testing.T, p syncProgress, end syncRun) {
	t.Helper()
	want := [6]int{end.Fetched, end.Imported, end.Duplicates, end.InvalidPhone, end.FilteredOut, end.Failed}
	if !p.Done || p.Phase != "DONE" || p.Run.Status != end.Status || p.counters() != want {
		t.Fatalf("last message %+v, want done, phase DONE, status %s, counters %v", p, end.Status, want)
	}
}

func TestSyncProgress(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		d := syncNow(17, 200)

		t.Run("syncProgress and campaignEvents follow a run to its end", func(t *testing.T) {
			// The ATS holds every page until both subscriptions are open.
			gate := apptest.NewSyncGate(syncPaths("/talention/applications"))
			f := syncSetup(t, app, d, gate.Wrap, schematype.ProviderTalention, nil)
			defer gate.Open()
			events := app.Connect(t, apptest.TransportWS, f.key)
			events.Subscribe("events", syncEventsQuery, map[string]any{"id": f.campaign})
			syncEventually(t, "the campaignEvents subscription", func() (bool, string) {
				n := app.Broker.Subscribers()
				return n >= 1, fmt.Sprintf("%d subscriptions", n)
			})

			run := f.testSync(t, f.trig)
			ws := app.Connect(t, apptest.TransportWS, f.key)
			ws.Subscribe("progress", syncProgressQuery, map[string]any{"id": run.ID})
			var first struct{ SyncProgress syncProgress }
			syncNext(t, ws, "progress", &first)
			syncCheckFirst(t, first.SyncProgress, run.ID)

			gate.Open()
			msgs := syncFollow(t, ws, "progress", first.SyncProgress)
			end := f.run(t, run.ID)
			if end.Status != "SUCCEEDED" || end.Fetched != d.Size {
				t.Fatalf("ended %s", end)
			}
			syncCheckLast(t, msgs[len(msgs)-1], end)

			// campaignEvents: the run's progress, and contacts imported
			// adding up to what the run imported.
			sum, done, lastImported := 0, false, 0
			for !done || sum < end.Imported {
				var got struct{ CampaignEvents syncEvent }
				syncNext(t, events, "events", &got)
				ev := got.CampaignEvents
				if ev.Run.ID != run.ID {
					t.Fatalf("event of another run: %+v", ev)
				}
				switch ev.Typename {
				case "SyncProgress":
					if ev.Imported < lastImported {
						t.Errorf("imported went back from %d to %d", lastImported, ev.Imported)
					}
					lastImported = ev.Imported
					done = done || ev.Done
				case "ContactsImported":
					if ev.Campaign.ID != f.campaign || ev.Count <= 0 {
						t.Errorf("ContactsImported %+v", ev)
					}
					sum += ev.Count
					if sum > end.Imported {
						t.Fatalf("ContactsImported counts add up to %d, the run imported %d", sum, end.Imported)
					}
				default:
					t.Fatalf("unexpected event %+v", ev)
				}
			}
		})
	})
}

func TestSyncTwoEngines(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	d := syncNow(18, 60)
	fk := apptest.StartSyncFakes(t, d, nil)
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

	t.Run("each due trigger is synced by exactly one SCHEDULED run", func(t *testing.T) {
		integ := ea.connect(t, fk, schematype.ProviderTalention)
		var camps, trigs []string
		for i := range 5 {
			camps = append(camps, ea.newCampaign(t, fmt.Sprintf("due %d", i)))
			trigs = append(trigs, ea.trigger(t, camps[i], integ, nil))
		}
		ea.setDue(t, time.Now().Add(-time.Minute), trigs...)
		// Both replicas' schedulers run on their own; both are also asked
		// at the same moment.
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range []*apptest.SyncReplica{a, b} {
			wg.Go(func() { errs[i] = r.Engine.ScheduleDue(context.Background()) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for _, trig := range trigs {
			for _, r := range eb.waitRuns(t, trig, 1, "the due trigger's run") {
				eb.waitRun(t, r.ID)
			}
		}
		for _, r := range []*apptest.SyncReplica{a, b} {
			if err := r.Engine.ScheduleDue(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		recs := syncModel{d: d, to: d.Size}.records()
		for i, trig := range trigs {
			runs := eb.getTrigger(t, trig).runs()
			if len(runs) != 1 || runs[0].Kind != "SCHEDULED" || runs[0].Status != "SUCCEEDED" {
				t.Errorf("trigger %d has runs %v, want one SCHEDULED run that SUCCEEDED", i, runs)
				continue
			}
			syncImportedOnce(t, eb.contacts(t, camps[i]), recs)
		}
	})

	t.Run("a subscriber on one replica follows a run worked by the other", func(t *testing.T) {
		// Only A works runs from now on; B serves the subscription, and
		// only PostgreSQL NOTIFY can tell it that the run changed.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Engine.Stop(ctx); err != nil {
			t.Fatalf("stopping B's engine: %v", err)
		}
		gate := apptest.NewSyncGate(syncPaths("/talention/applications"))
		held := apptest.StartSyncFakes(t, d, gate.Wrap)
		defer gate.Open()
		trig := ea.trigger(t, ea.newCampaign(t, "followed"), ea.connect(t, held, schematype.ProviderTalention), nil)
		run := ea.testSync(t, trig)

		ws := b.Connect(t, apptest.TransportWS, key)
		ws.Subscribe("progress", syncProgressQuery, map[string]any{"id": run.ID})
		var first struct{ SyncProgress syncProgress }
		syncNext(t, ws, "progress", &first)
		syncCheckFirst(t, first.SyncProgress, run.ID)
		gate.Open()
		msgs := syncFollow(t, ws, "progress", first.SyncProgress)
		end := eb.run(t, run.ID)
		if end.Status != "SUCCEEDED" || end.Fetched != d.Size {
			t.Fatalf("ended %s", end)
		}
		syncCheckLast(t, msgs[len(msgs)-1], end)
		ended := func(logs string) bool {
			for line := range strings.Lines(logs) {
				if strings.Contains(line, `"msg":"sync run ended"`) && strings.Contains(line, run.ID) {
					return true
				}
			}
			return false
		}
		// A logs the end right after its notice goes out, which B may
		// have passed on before A wrote the line.
		syncEventually(t, "A to log the run's end", func() (bool, string) { return ended(a.Logs()), "" })
		if !ended(a.Logs()) || ended(b.Logs()) {
			t.Fatalf("the run was not worked by A alone: ended in A's log %v, in B's %v", ended(a.Logs()), ended(b.Logs()))
		}
	})
}
