package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent/pushback"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// End-to-end tests of recordCallResult and the delivery of call results
// ("pushback") to every provider that takes them, over GraphQL and
// websockets, against the providers' loopback fakes, on both databases.

// pbProviders are the providers that can receive call results.
var pbProviders = []schematype.ProviderKey{schematype.ProviderTalention, schematype.ProviderCompleet, schematype.ProviderHubSpot}

// pbRequestsPerAttempt is how many requests one delivery attempt sends to
// an endpoint that keeps failing temporarily: apptest.Start's connectors
// retry in place (RetryPolicy.MaxAttempts 3) before the attempt fails. So a
// delivery attempt fails only after three injected faults in a row.
const pbRequestsPerAttempt = 3

// pbDeadline bounds every wait; it only turns a hang into a failure.
const pbDeadline = 30 * time.Second

var pbOutcomes = []string{"SUCCESS", "PARTIAL", "FAILURE", "NOT_ANSWERED"}

// pbMappingField is the StatusMapping field of each outcome.
var pbMappingField = map[string]string{
	"SUCCESS": "success", "PARTIAL": "partial", "FAILURE": "failure", "NOT_ANSWERED": "notAnswered",
}

// pbNoMapping is the status mapping left empty: status-specific pushback off.
var pbNoMapping = map[string]string{"success": "", "partial": "", "failure": "", "notAnswered": ""}

// What the call reports, and how the providers show it.
const (
	pbTranscriptLine1 = "Agent: Good morning, this is the recruiting assistant."
	pbTranscriptLine2 = "Candidate: Good morning, I am interested in the position."
	pbDurationSeconds = 95
)

var pbQuestions = []map[string]string{
	{"question": "Do you hold a forklift licence?", "answer": "Yes, since 2019"},
	{"question": "When could you start?", "answer": "On the first of March"},
}

// pbATSLabel is the outcome as the Talention/Compleet note names it.
var pbATSLabel = map[string]string{"SUCCESS": "Success", "PARTIAL": "Partial", "FAILURE": "Failure", "NOT_ANSWERED": "Not answered"}

// pbHubSpotLabel is the outcome as the HubSpot call names it.
var pbHubSpotLabel = map[string]string{
	"SUCCESS": "Successful", "PARTIAL": "Partially successful", "FAILURE": "Unsuccessful", "NOT_ANSWERED": "Not answered",
}

// HubSpot's default call dispositions (hs_call_disposition).
const (
	pbDispositionConnected = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
	pbDispositionNoAnswer  = "73a0d17f-1163-4015-bdd5-ec830791da20"
)

const pbPushbackFields = `id status mappedStatus attempts lastError nextAttemptAt deliveredAt updatedAt callResult { id } trigger { id }`

const pbCallFields = `id outcome transcript questionResults { question answer } calledAt durationSeconds contact { id }
  pushback { ` + pbPushbackFields + ` }`

const pbRecordMutation = `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { ` + pbCallFields + ` } }`

const pbRetryMutation = `mutation($id: ID!) { retryPushback(id: $id) { ` + pbPushbackFields + ` } }`

const pbPushbackQuery = `query($id: ID!) { node(id: $id) { ... on Pushback { ` + pbPushbackFields + ` } } }`

const pbEventsSubscription = `subscription($id: ID!) { campaignEvents(campaignID: $id) {
  __typename ... on Pushback { ` + pbPushbackFields + ` } } }`

type pbPushback struct {
	ID            pulid.ID
	Status        string
	MappedStatus  *string
	Attempts      int
	LastError     *string
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	UpdatedAt     time.Time
	CallResult    struct{ ID pulid.ID }
	Trigger       struct{ ID pulid.ID }
}

func (pb pbPushback) String() string {
	s := fmt.Sprintf("%s %s attempts=%d", pb.ID, pb.Status, pb.Attempts)
	if pb.MappedStatus != nil {
		s += fmt.Sprintf(" mappedStatus=%q", *pb.MappedStatus)
	}
	if pb.LastError != nil {
		s += fmt.Sprintf(" lastError=%q", *pb.LastError)
	}
	if pb.NextAttemptAt != nil {
		s += " nextAttemptAt=" + pb.NextAttemptAt.Format(time.RFC3339Nano)
	}
	if pb.DeliveredAt != nil {
		s += " deliveredAt=" + pb.DeliveredAt.Format(time.RFC3339Nano)
	}
	return s
}

type pbCall struct {
	ID              pulid.ID
	Outcome         string
	Transcript      string
	QuestionResults []map[string]string
	CalledAt        time.Time
	DurationSeconds int
	Contact         struct{ ID pulid.ID }
	Pushback        *pbPushback
}

type pbContact struct {
	ID         pulid.ID
	ExternalID string
	Attributes map[string]any
}

// pbCampaign is a campaign with one trigger and the contacts its first sync
// imported; each test takes contacts of its own.
type pbCampaign struct {
	ID       pulid.ID
	Integ    pulid.ID
	Trigger  pulid.ID
	Mapping  map[string]string // the status mapping configured with pushback on
	contacts []pbContact
	used     int
}

// take returns a contact of camp for a test of its own: every campaign
// imports the same people of the fake, so a person taken in one campaign
// is not taken again in another, and what the fake holds about that
// person belongs to one test.
func (e *pbEnv) take(t *testing.T, camp *pbCampaign) pbContact {
	t.Helper()
	for ; camp.used < len(camp.contacts); camp.used++ {
		con := camp.contacts[camp.used]
		if !e.taken[con.ExternalID] {
			e.taken[con.ExternalID] = true
			camp.used++
			return con
		}
	}
	t.Fatalf("campaign %s: all %d contacts are used", camp.ID, len(camp.contacts))
	return pbContact{}
}

// pbEnv is one provider's fake, reached through a pbWire, and an Intake of
// its own (so that the broker's subscriptions belong to the test) with an
// integration and campaigns whose triggers push back.
type pbEnv struct {
	p        schematype.ProviderKey
	app      *apptest.App
	key      string
	c        *apptest.Client
	fk       *fakes.Set
	wire     *pbWire
	faults   *sandbox.Faults
	writes   *sandbox.WriteLog
	integ    pulid.ID
	calledAt time.Time
	taken    map[string]bool // external IDs of the people taken by a test
	// mapping is the status mapping the provider takes (nil: none).
	mapping map[string]string
	// unknownStatus is a status name the provider refuses.
	unknownStatus string
	mapped        *pbCampaign // pushback with mapping (nil without status mapping)
	plain         *pbCampaign // pushback with the mapping left empty
}

// main is the campaign delivering with a status when the provider maps
// statuses, else without.
func (e *pbEnv) main() *pbCampaign {
	if e.mapped != nil {
		return e.mapped
	}
	return e.plain
}

// want is the status a delivery of outcome on camp must set ("" none).
func (e *pbEnv) want(camp *pbCampaign, outcome string) string {
	return camp.Mapping[pbMappingField[outcome]]
}

func pbDialectName(d string) string {
	if d == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

func TestPushback(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		for _, p := range pbProviders {
			t.Run(pbDialectName(d)+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				e := pbSetup(t, d, p)
				t.Run("validation errors name the field and record nothing", e.testValidation)
				t.Run("a campaign without a pushback trigger records the result with pushback null", e.testNoPushbackTrigger)
				t.Run("delivers every outcome in the provider's request shape with its mapped status", e.testOutcomes)
				t.Run("delivers no status when the mapping is empty", e.testEmptyMapping)
				t.Run("the same idempotencyKey records one result", e.testIdempotent)
				t.Run("concurrent requests with one idempotencyKey record one result", e.testIdempotentConcurrent)
				t.Run("retries after 500 and 429 until DELIVERED, keeping the pushback true and publishing each change", e.testRetries)
				t.Run("a delivery whose answers were lost is retried with the same keys and takes effect once", e.testLostAnswers)
				t.Run("a 4xx goes DEAD at once with the provider's message and retryPushback delivers it once fixed", e.testRefused)
				if e.mapped != nil {
					t.Run("a status the provider does not know goes DEAD naming it", e.testUnknownStatus)
				}
				t.Run("retryPushback refuses a DELIVERED pushback and others' IDs", e.testRetryRefused)
				t.Run("pushback switched off before delivery goes DEAD and retryPushback delivers after switching it on", e.testSwitchedOff)
				t.Run("an integration's own rate limit paces its deliveries", e.testOwnRateLimit)
				t.Run("an integration disconnected before delivery leaves the pushback DEAD", e.testDisconnected)
			})
		}
	}
}

func pbSetup(t *testing.T, d string, p schematype.ProviderKey) *pbEnv {
	t.Helper()
	app := apptest.Start(t, dbtest.Open(t, d))
	t.Cleanup(func() {
		if t.Failed() {
			logs := app.Logs()
			if len(logs) > 40000 {
				logs = "…" + logs[len(logs)-40000:]
			}
			t.Logf("app log:\n%s", logs)
		}
	})

	// People created during the last hour: "new applications" of every
	// provider finds them on a trigger's first sync.
	fk := fakes.New(sandbox.Dataset{Seed: 11, Size: 40}.AnchoredAt(time.Now().Add(-time.Hour)))
	wire := &pbWire{next: fk.Handler(), holds: map[int]*pbHold{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fk.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: wire, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() {
		for _, v := range fk.ContractViolations() {
			t.Errorf("contract: %s", v)
		}
		wire.releaseAll()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	})

	key := app.Key(t, "pushback-"+strings.ToLower(string(p)), schematype.RoleAdmin)
	e := &pbEnv{
		p: p, app: app, key: key, c: app.Client(key), fk: fk, wire: wire,
		calledAt: time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second),
		taken:    map[string]bool{},
	}
	switch p {
	case schematype.ProviderTalention:
		e.faults, e.writes = fk.Talention.Faults, fk.Talention.Writes
		// The fake's stages are New, Interview, Accepted, Rejected, Unreachable.
		e.mapping = map[string]string{"success": "Accepted", "partial": "Interview", "failure": "Rejected", "notAnswered": "Unreachable"}
		e.unknownStatus = "Hired"
	case schematype.ProviderCompleet:
		e.faults, e.writes = fk.Compleet.Faults, fk.Compleet.Writes
	case schematype.ProviderHubSpot:
		e.faults, e.writes = fk.HubSpot.Faults, fk.HubSpot.Writes
		e.mapping = map[string]string{"success": "CONNECTED", "partial": "IN_PROGRESS", "failure": "UNQUALIFIED", "notAnswered": "ATTEMPTED_TO_CONTACT"}
		e.unknownStatus = "HIRED"
	}
	// Injected faults strike deliveries only, never a sync's reads.
	e.faults.Only(pbIsPush)

	e.integ = e.connect(t, string(p))
	if e.mapping != nil {
		e.mapped = e.newCampaign(t, "mapped", e.integ, true, e.mapping)
	}
	e.plain = e.newCampaign(t, "plain", e.integ, true, pbNoMapping)
	return e
}

// connect connects an integration to the env's fake.
func (e *pbEnv) connect(t *testing.T, name string) pulid.ID {
	t.Helper()
	creds := map[string]any{}
	for k, v := range e.fk.Credentials(e.p) {
		creds[k] = v
	}
	var got struct {
		ConnectIntegration struct {
			ID     pulid.ID
			Status string
		}
	}
	e.c.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": string(e.p), "name": name, "credentials": creds}}, &got)
	if got.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("%s integration is %s, want CONNECTED", e.p, got.ConnectIntegration.Status)
	}
	return got.ConnectIntegration.ID
}

// newCampaign creates a campaign whose trigger on integ has pushback as
// given (mapping only with pushback), syncs it and reads its contacts.
func (e *pbEnv) newCampaign(t *testing.T, name string, integ pulid.ID, pushback bool, mapping map[string]string) *pbCampaign {
	t.Helper()
	var created struct{ CreateCampaign struct{ ID pulid.ID } }
	e.c.MustDo(t, `mutation($name: String!) { createCampaign(input: {name: $name}) { id } }`,
		map[string]any{"name": name}, &created)
	camp := &pbCampaign{ID: created.CreateCampaign.ID, Integ: integ, Mapping: mapping}
	if !pushback {
		mapping = nil
	}
	camp.Trigger = e.configure(t, camp, pushback, mapping)

	var run struct{ TestSync struct{ ID pulid.ID } }
	e.c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": camp.Trigger}, &run)
	deadline := time.Now().Add(pbDeadline)
	for {
		var got struct {
			Node struct {
				Status string
				Error  *string
			}
		}
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { status error } } }`,
			map[string]any{"id": run.TestSync.ID}, &got)
		if s := got.Node.Status; s != "QUEUED" && s != "RUNNING" {
			if s != "SUCCEEDED" {
				t.Fatalf("sync of campaign %q ended %s (error %v)", name, s, got.Node.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync of campaign %q still %s", name, got.Node.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	var got struct {
		Node struct {
			Contacts struct {
				Edges []struct{ Node pbContact }
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 100) { edges { node { id externalID attributes } } } } } }`,
		map[string]any{"id": camp.ID}, &got)
	for _, edge := range got.Node.Contacts.Edges {
		camp.contacts = append(camp.contacts, edge.Node)
	}
	sort.Slice(camp.contacts, func(i, j int) bool { return camp.contacts[i].ExternalID < camp.contacts[j].ExternalID })
	if len(camp.contacts) < 20 {
		t.Fatalf("campaign %q has %d contacts after its sync, want at least 20", name, len(camp.contacts))
	}
	return camp
}

// configure sets the campaign's trigger: enabled, pushback as given, with
// mapping (nil: none given) and reads back what was saved.
func (e *pbEnv) configure(t *testing.T, camp *pbCampaign, pushback bool, mapping map[string]string) pulid.ID {
	t.Helper()
	in := map[string]any{"campaignID": camp.ID, "integrationID": camp.Integ, "enabled": true, "pushbackEnabled": pushback}
	if mapping != nil {
		in["statusMapping"] = mapping
	}
	var saved struct{ ConfigureTrigger struct{ ID pulid.ID } }
	e.c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`, map[string]any{"in": in}, &saved)
	// Read back through the campaign, in a request of its own.
	var got struct {
		Node struct {
			Triggers []struct {
				ID              pulid.ID
				PushbackEnabled bool
				StatusMapping   map[string]string
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { triggers {
		id pushbackEnabled statusMapping { success partial failure notAnswered } } } } }`, map[string]any{"id": camp.ID}, &got)
	if len(got.Node.Triggers) != 1 || got.Node.Triggers[0].ID != saved.ConfigureTrigger.ID {
		t.Fatalf("campaign %s has triggers %+v, want only %s", camp.ID, got.Node.Triggers, saved.ConfigureTrigger.ID)
	}
	tr := got.Node.Triggers[0]
	if tr.PushbackEnabled != pushback {
		t.Fatalf("trigger pushbackEnabled = %v, want %v", tr.PushbackEnabled, pushback)
	}
	wantMapping := mapping
	if mapping != nil && mapping["success"] == "" {
		wantMapping = nil // all empty: no status-specific pushback
	}
	if fmt.Sprint(tr.StatusMapping) != fmt.Sprint(wantMapping) {
		t.Fatalf("trigger statusMapping = %v, want %v", tr.StatusMapping, wantMapping)
	}
	return tr.ID
}

// callInput is a complete, valid call result for a contact.
func (e *pbEnv) callInput(contact pulid.ID, outcome string) map[string]any {
	return map[string]any{
		"contactID":       contact,
		"outcome":         outcome,
		"transcript":      pbTranscriptLine1 + "\n" + pbTranscriptLine2,
		"questionResults": pbQuestions,
		"calledAt":        e.calledAt.Format(time.RFC3339),
		"durationSeconds": pbDurationSeconds,
	}
}

func (e *pbEnv) record(t *testing.T, in map[string]any) pbCall {
	t.Helper()
	var got struct{ RecordCallResult pbCall }
	e.c.MustDo(t, pbRecordMutation, map[string]any{"in": in}, &got)
	return got.RecordCallResult
}

// recordPushed records a call result that must create a pushback of camp.
func (e *pbEnv) recordPushed(t *testing.T, camp *pbCampaign, con pbContact, outcome string) pbCall {
	t.Helper()
	call := e.record(t, e.callInput(con.ID, outcome))
	e.checkEcho(t, call, con, outcome)
	if call.Pushback == nil {
		t.Fatalf("call result %s has no pushback; its campaign's trigger pushes back", call.ID)
	}
	pb := *call.Pushback
	if pb.CallResult.ID != call.ID || pb.Trigger.ID != camp.Trigger {
		t.Fatalf("pushback %s belongs to call %s and trigger %s, want %s and %s", pb.ID, pb.CallResult.ID, pb.Trigger.ID, call.ID, camp.Trigger)
	}
	pbWantMapped(t, pb, e.want(camp, outcome))
	return call
}

// checkEcho requires a recorded call result to be what was reported.
func (e *pbEnv) checkEcho(t *testing.T, call pbCall, con pbContact, outcome string) {
	t.Helper()
	if call.Contact.ID != con.ID || call.Outcome != outcome || call.Transcript != pbTranscriptLine1+"\n"+pbTranscriptLine2 ||
		!call.CalledAt.Equal(e.calledAt) || call.DurationSeconds != pbDurationSeconds ||
		fmt.Sprint(call.QuestionResults) != fmt.Sprint(pbQuestions) {
		t.Fatalf("recorded %+v, want contact %s outcome %s, the transcript, questions %v, calledAt %s, %ds",
			call, con.ID, outcome, pbQuestions, e.calledAt, pbDurationSeconds)
	}
}

func pbWantMapped(t *testing.T, pb pbPushback, want string) {
	t.Helper()
	switch {
	case want == "" && pb.MappedStatus != nil:
		t.Fatalf("pushback %s has mappedStatus %q, want none", pb.ID, *pb.MappedStatus)
	case want != "" && (pb.MappedStatus == nil || *pb.MappedStatus != want):
		t.Fatalf("pushback %s: %s, want mappedStatus %q", pb.ID, pb, want)
	}
}

func (e *pbEnv) pushback(t *testing.T, id pulid.ID) pbPushback {
	t.Helper()
	var got struct{ Node *pbPushback }
	e.c.MustDo(t, pbPushbackQuery, map[string]any{"id": id}, &got)
	if got.Node == nil || got.Node.ID != id {
		t.Fatalf("node(%s) = %+v, want the pushback", id, got.Node)
	}
	return *got.Node
}

// waitPushback polls the pushback until ok accepts it.
func (e *pbEnv) waitPushback(t *testing.T, id pulid.ID, what string, ok func(pbPushback) bool) pbPushback {
	t.Helper()
	deadline := time.Now().Add(pbDeadline)
	for {
		pb := e.pushback(t, id)
		if ok(pb) {
			return pb
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for pushback %s to be %s; it is %s", id, what, pb)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled waits for the pushback's delivery to end and requires status.
func (e *pbEnv) settled(t *testing.T, id pulid.ID, status string) pbPushback {
	t.Helper()
	pb := e.waitPushback(t, id, "DELIVERED or DEAD", func(pb pbPushback) bool {
		return pb.Status == "DELIVERED" || pb.Status == "DEAD"
	})
	if pb.Status != status {
		t.Fatalf("pushback settled as %s, want %s", pb, status)
	}
	switch status {
	case "DELIVERED":
		if pb.DeliveredAt == nil || pb.NextAttemptAt != nil || pb.LastError != nil {
			t.Fatalf("DELIVERED pushback %s: want deliveredAt, no nextAttemptAt, no lastError", pb)
		}
	case "DEAD":
		if pb.DeliveredAt != nil || pb.NextAttemptAt != nil || pb.LastError == nil || *pb.LastError == "" {
			t.Fatalf("DEAD pushback %s: want lastError, no deliveredAt, no nextAttemptAt", pb)
		}
	}
	return pb
}

func (e *pbEnv) retry(t *testing.T, id pulid.ID) pbPushback {
	t.Helper()
	var got struct{ RetryPushback pbPushback }
	e.c.MustDo(t, pbRetryMutation, map[string]any{"id": id}, &got)
	if got.RetryPushback.ID != id {
		t.Fatalf("retryPushback(%s) answered %s", id, got.RetryPushback.ID)
	}
	return got.RetryPushback
}

// concerns reports whether a write (its path and body) belongs to a
// delivery to con: the note on the candidate or the move of its
// application, the call logged on the HubSpot contact or its update. Each
// test delivers to contacts of its own.
func (e *pbEnv) concerns(con pbContact, path string, body []byte) bool {
	if strings.Contains(path, "/"+con.ExternalID+"/") || strings.HasSuffix(path, "/"+con.ExternalID) {
		return true
	}
	if app, _ := con.Attributes["applicationId"].(string); app != "" && strings.Contains(path, "/applications/"+app+"/") {
		return true
	}
	return e.p == schematype.ProviderHubSpot && strings.Contains(string(body), fmt.Sprintf(`"id":%q`, con.ExternalID))
}

// writesOf returns the writes to con that took effect in the fake.
func (e *pbEnv) writesOf(con pbContact) []sandbox.Write {
	var out []sandbox.Write
	for _, w := range e.writes.Applied() {
		if e.concerns(con, w.Path, w.Body) {
			out = append(out, w)
		}
	}
	return out
}

// once requires the delivery of pb to have taken effect exactly once: one
// create (the note or logged call, carrying the pushback's marker), and
// status writes that, however often repeated, all set the same value. It
// returns the first write of each request.
func (e *pbEnv) once(t *testing.T, pb pbPushback, writes []sandbox.Write) map[string]sandbox.Write {
	t.Helper()
	first := map[string]sandbox.Write{}
	creates := 0
	for _, w := range writes {
		req := w.Method + " " + w.Path
		if w.Method == http.MethodPost {
			creates++
			if marker := connector.Marker("intake-" + string(pb.ID)); !strings.Contains(string(w.Body), marker) {
				t.Errorf("%s lacks the delivery's marker %q: %s", req, marker, w.Body)
			}
		}
		if f, ok := first[req]; !ok {
			first[req] = w
		} else if pbCompact(f.Body) != pbCompact(w.Body) {
			t.Errorf("%s was written twice with different bodies: %s and %s", req, f.Body, w.Body)
		}
	}
	if creates != 1 {
		t.Fatalf("the delivery created %d notes or calls, want exactly 1", creates)
	}
	return first
}

// checkDelivery requires the fake to show exactly one delivery of the call
// result to con, in the provider's request shape, with status (or none).
func (e *pbEnv) checkDelivery(t *testing.T, con pbContact, call pbCall, pb pbPushback, status string) {
	t.Helper()
	first := e.once(t, pb, e.writesOf(con))
	var byMethod = map[string][]sandbox.Write{}
	for _, w := range first {
		byMethod[w.Method] = append(byMethod[w.Method], w)
	}
	if e.p == schematype.ProviderHubSpot {
		e.checkHubSpot(t, con, call, byMethod, status)
	} else {
		e.checkATS(t, con, call, byMethod, status)
	}
}

func (e *pbEnv) checkATS(t *testing.T, con pbContact, call pbCall, byMethod map[string][]sandbox.Write, status string) {
	t.Helper()
	notes := byMethod[http.MethodPost]
	if len(notes) != 1 || notes[0].Path != "/candidates/"+con.ExternalID+"/notes" {
		t.Fatalf("note writes %+v, want one POST /candidates/%s/notes", notes, con.ExternalID)
	}
	var body map[string]any
	if err := json.Unmarshal(notes[0].Body, &body); err != nil {
		t.Fatalf("note body %s: %v", notes[0].Body, err)
	}
	content, _ := body["content"].(string)
	if len(body) != 1 || content == "" {
		t.Fatalf("note body %s, want exactly {content}", notes[0].Body)
	}
	needles := []string{pbATSLabel[call.Outcome], pbTranscriptLine1, pbTranscriptLine2}
	for _, q := range pbQuestions {
		needles = append(needles, q["question"], q["answer"])
	}
	if status != "" {
		needles = append(needles, status)
	}
	for _, n := range needles {
		if !strings.Contains(content, n) {
			t.Errorf("note content lacks %q:\n%s", n, content)
		}
	}
	fake := e.fk.Talention
	if e.p == schematype.ProviderCompleet {
		fake = e.fk.Compleet
	}
	if got := fake.Notes(con.ExternalID); len(got) != 1 || got[0] != content {
		t.Errorf("candidate %s has notes %q, want exactly the one written", con.ExternalID, got)
	}

	appID, _ := con.Attributes["applicationId"].(string)
	jobID, _ := con.Attributes["jobId"].(string)
	moves := byMethod[http.MethodPut]
	if status == "" {
		if len(moves) != 0 {
			t.Errorf("stage moves %+v without a mapped status", moves)
		}
		if st, _ := fake.Stage(appID); st != "New" {
			t.Errorf("application %s is in stage %q, want it left in New", appID, st)
		}
		for _, name := range e.mapping {
			if strings.Contains(content, name) {
				t.Errorf("note names status %q although the mapping is empty:\n%s", name, content)
			}
		}
		return
	}
	var g int
	if _, err := fmt.Sscanf(jobID, "job-%d", &g); err != nil || appID == "" {
		t.Fatalf("contact %s has attributes %v, want its applicationId and jobId", con.ID, con.Attributes)
	}
	wantBody := fmt.Sprintf(`{"stage_id":%q}`, atsfake.StageID(g-1, status))
	if len(moves) != 1 || moves[0].Path != "/applications/"+appID+"/stage" || pbCompact(moves[0].Body) != wantBody {
		t.Fatalf("stage moves %+v, want one PUT /applications/%s/stage %s", moves, appID, wantBody)
	}
	if st, ok := fake.Stage(appID); !ok || st != status {
		t.Errorf("application %s is in stage %q, want %q", appID, st, status)
	}
}

func (e *pbEnv) checkHubSpot(t *testing.T, con pbContact, call pbCall, byMethod map[string][]sandbox.Write, status string) {
	t.Helper()
	posts := byMethod[http.MethodPost]
	if len(posts) != 1 || posts[0].Path != "/crm/v3/objects/calls" {
		t.Fatalf("call writes %+v, want one POST /crm/v3/objects/calls", posts)
	}
	var body struct {
		Properties   map[string]string
		Associations []struct {
			To    map[string]any
			Types []map[string]any
		}
	}
	if err := json.Unmarshal(posts[0].Body, &body); err != nil {
		t.Fatalf("call body %s: %v", posts[0].Body, err)
	}
	disposition := pbDispositionConnected
	if call.Outcome == "NOT_ANSWERED" {
		disposition = pbDispositionNoAnswer
	}
	want := map[string]string{
		"hs_timestamp":        e.calledAt.Format("2006-01-02T15:04:05.000Z"),
		"hs_call_title":       "AI call: " + pbHubSpotLabel[call.Outcome],
		"hs_call_status":      "COMPLETED",
		"hs_call_duration":    fmt.Sprint(pbDurationSeconds * 1000),
		"hs_call_disposition": disposition,
	}
	callBody := body.Properties["hs_call_body"]
	got := map[string]string{}
	for k, v := range body.Properties {
		if k != "hs_call_body" {
			got[k] = v
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("call properties %v, want %v and hs_call_body", got, want)
	}
	needles := []string{pbHubSpotLabel[call.Outcome], pbTranscriptLine1, pbTranscriptLine2}
	for _, q := range pbQuestions {
		needles = append(needles, q["question"], q["answer"])
	}
	for _, n := range needles {
		if !strings.Contains(callBody, n) {
			t.Errorf("hs_call_body lacks %q: %s", n, callBody)
		}
	}
	assoc, _ := json.Marshal(body.Associations)
	wantAssoc := fmt.Sprintf(`[{"To":{"id":%q},"Types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":194}]}]`, con.ExternalID)
	if string(assoc) != wantAssoc {
		t.Errorf("associations %s, want %s", assoc, wantAssoc)
	}
	var logged []string
	for _, c := range e.fk.HubSpot.Calls() {
		if slices.Equal(c.ContactIDs, []string{con.ExternalID}) {
			logged = append(logged, c.Properties["hs_call_title"])
		}
	}
	if len(logged) != 1 || logged[0] != want["hs_call_title"] {
		t.Errorf("calls logged on contact %s: %q, want one %q", con.ExternalID, logged, want["hs_call_title"])
	}

	patches := byMethod[http.MethodPatch]
	if status == "" {
		if len(patches) != 0 {
			t.Errorf("contact updates %+v without a mapped status", patches)
		}
		if got := e.fk.HubSpot.LeadStatus(con.ExternalID); got != "" {
			t.Errorf("contact %s has hs_lead_status %q, want none", con.ExternalID, got)
		}
		return
	}
	wantBody := fmt.Sprintf(`{"properties":{"hs_lead_status":%q}}`, status)
	if len(patches) != 1 || patches[0].Path != "/crm/v3/objects/contacts/"+con.ExternalID || pbCompact(patches[0].Body) != wantBody {
		t.Fatalf("contact updates %+v, want one PATCH /crm/v3/objects/contacts/%s %s", patches, con.ExternalID, wantBody)
	}
	if got := e.fk.HubSpot.LeadStatus(con.ExternalID); got != status {
		t.Errorf("contact %s has hs_lead_status %q, want %q", con.ExternalID, got, status)
	}
}

// checkNothingWritten requires the fake to hold nothing of the pushback.
func (e *pbEnv) checkNothingWritten(t *testing.T, con pbContact, pb pbPushback) {
	t.Helper()
	if w := e.writesOf(con); len(w) != 0 {
		t.Errorf("the fake applied writes for %s: %+v", pb.ID, w)
	}
	switch e.p {
	case schematype.ProviderHubSpot:
		for _, c := range e.fk.HubSpot.Calls() {
			if slices.Contains(c.ContactIDs, con.ExternalID) {
				t.Errorf("a call was logged on contact %s: %+v", con.ExternalID, c)
			}
		}
	case schematype.ProviderTalention:
		if n := e.fk.Talention.Notes(con.ExternalID); len(n) != 0 {
			t.Errorf("candidate %s has notes %q", con.ExternalID, n)
		}
	case schematype.ProviderCompleet:
		if n := e.fk.Compleet.Notes(con.ExternalID); len(n) != 0 {
			t.Errorf("candidate %s has notes %q", con.ExternalID, n)
		}
	}
}

type pbContactCall struct {
	ID       pulid.ID
	Outcome  string
	Pushback *struct {
		ID     pulid.ID
		Status string
	}
}

func (e *pbEnv) callResults(t *testing.T, contact pulid.ID) []pbContactCall {
	t.Helper()
	var got struct {
		Node *struct{ CallResults []pbContactCall }
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Contact { callResults { id outcome pushback { id status } } } } }`,
		map[string]any{"id": contact}, &got)
	if got.Node == nil {
		t.Fatalf("contact %s not found", contact)
	}
	return got.Node.CallResults
}

// subscribe opens campaignEvents of a campaign and waits until the server
// has subscribed it.
func (e *pbEnv) subscribe(t *testing.T, campaign pulid.ID) *apptest.WS {
	t.Helper()
	before := e.app.Broker.Subscribers()
	ws := e.app.Connect(t, apptest.TransportWS, e.key)
	ws.Subscribe("events", pbEventsSubscription, map[string]any{"id": campaign})
	deadline := time.Now().Add(pbDeadline)
	for e.app.Broker.Subscribers() < before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("campaignEvents never subscribed (%d subscriptions)", e.app.Broker.Subscribers())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return ws
}

// pbNextEvent returns the next Pushback event about id, skipping others.
func pbNextEvent(t *testing.T, ws *apptest.WS, id pulid.ID) pbPushback {
	t.Helper()
	for {
		d := ws.NextData("events")
		if len(d.Errors) > 0 {
			t.Fatalf("campaignEvents errors: %+v", d.Errors)
		}
		var ev struct {
			CampaignEvents struct {
				Typename string `json:"__typename"`
				pbPushback
			}
		}
		if err := json.Unmarshal(d.Data, &ev); err != nil {
			t.Fatalf("event %s: %v", d.Data, err)
		}
		if ev.CampaignEvents.Typename == "Pushback" && ev.CampaignEvents.ID == id {
			return ev.CampaignEvents.pbPushback
		}
	}
}

func pbWantEvent(t *testing.T, ws *apptest.WS, want pbPushback) {
	t.Helper()
	got := pbNextEvent(t, ws, want.ID)
	if got.String() != want.String() {
		t.Fatalf("campaignEvents sent %s, want %s", got, want)
	}
}

func pbCompact(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func pbWantError(t *testing.T, r apptest.Response, field, code, wantField string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("no error (data %s), want %s %s", r.Data, code, wantField)
	}
	if r.Code() != code || r.Field() != wantField {
		t.Fatalf("error %q code %q field %q, want %s field %q", r.Errors[0].Message, r.Code(), r.Field(), code, wantField)
	}
	var data map[string]json.RawMessage
	if len(r.Data) > 0 && json.Unmarshal(r.Data, &data) == nil && data[field] != nil && string(data[field]) != "null" {
		t.Fatalf("an error and data %s", r.Data)
	}
}

func pbRepeat(f sandbox.Fault, n int) []sandbox.Fault { return slices.Repeat([]sandbox.Fault{f}, n) }

func (e *pbEnv) testValidation(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	other := e.app.Client(e.app.Key(t, "pushback-other-"+strings.ToLower(string(e.p)), schematype.RoleAdmin))
	reader := e.app.Client(e.app.Key(t, "pushback-"+strings.ToLower(string(e.p)), schematype.RoleViewer))
	futureKey := "validation-future-" + string(con.ID)
	cases := []struct {
		name        string
		c           *apptest.Client
		edit        func(in map[string]any)
		code, field string
	}{
		{"another organization's contact is NOT_FOUND", other, nil, "NOT_FOUND", "input.contactID"},
		{"an unknown contact is NOT_FOUND", e.c, func(in map[string]any) { in["contactID"] = "con_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5" }, "NOT_FOUND", "input.contactID"},
		{"a campaign's ID as contactID is NOT_FOUND", e.c, func(in map[string]any) { in["contactID"] = camp.ID }, "NOT_FOUND", "input.contactID"},
		{"calledAt in the future", e.c, func(in map[string]any) {
			in["calledAt"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			in["idempotencyKey"] = futureKey
		}, "VALIDATION_FAILED", "input.calledAt"},
		{"calledAt missing (the zero time)", e.c, func(in map[string]any) { in["calledAt"] = "0001-01-01T00:00:00Z" }, "VALIDATION_FAILED", "input.calledAt"},
		{"negative durationSeconds", e.c, func(in map[string]any) { in["durationSeconds"] = -1 }, "VALIDATION_FAILED", "input.durationSeconds"},
		{"an empty question", e.c, func(in map[string]any) {
			in["questionResults"] = []map[string]string{{"question": "", "answer": "yes"}}
		}, "VALIDATION_FAILED", "input.questionResults[0].question"},
		{"a blank second question", e.c, func(in map[string]any) {
			in["questionResults"] = []map[string]string{pbQuestions[0], {"question": "   ", "answer": "yes"}}
		}, "VALIDATION_FAILED", "input.questionResults[1].question"},
		{"an idempotencyKey over 200 characters", e.c, func(in map[string]any) { in["idempotencyKey"] = strings.Repeat("k", 201) }, "VALIDATION_FAILED", "input.idempotencyKey"},
		{"a blank idempotencyKey", e.c, func(in map[string]any) { in["idempotencyKey"] = "   " }, "VALIDATION_FAILED", "input.idempotencyKey"},
		{"a VIEWER key", reader, nil, "FORBIDDEN", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := e.callInput(con.ID, "SUCCESS")
			if tc.edit != nil {
				tc.edit(in)
			}
			pbWantError(t, tc.c.Do(t, pbRecordMutation, map[string]any{"in": in}), "recordCallResult", tc.code, tc.field)
		})
	}
	t.Run("calledAt left out is refused", func(t *testing.T) {
		in := e.callInput(con.ID, "SUCCESS")
		delete(in, "calledAt")
		r := e.c.Do(t, pbRecordMutation, map[string]any{"in": in})
		if len(r.Errors) == 0 {
			t.Fatalf("no error, data %s", r.Data)
		}
		// The schema refuses it before the service sees it: the error
		// names the field in its path.
		if path := fmt.Sprint(r.Errors[0].Path); !strings.Contains(path, "calledAt") || r.Code() == "" {
			t.Errorf("error %q code %q path %s, want a code and calledAt in the path", r.Errors[0].Message, r.Code(), path)
		}
		if len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("data %s with the error", r.Data)
		}
	})

	t.Run("nothing was recorded", func(t *testing.T) {
		if got := e.callResults(t, con.ID); len(got) != 0 {
			t.Fatalf("contact %s has call results %+v after refused reports", con.ID, got)
		}
		// The key of a refused report is still free.
		in := e.callInput(con.ID, "FAILURE")
		in["idempotencyKey"] = futureKey
		call := e.record(t, in)
		e.checkEcho(t, call, con, "FAILURE")
		if got := e.callResults(t, con.ID); len(got) != 1 || got[0].ID != call.ID {
			t.Fatalf("contact %s has call results %+v, want only %s", con.ID, got, call.ID)
		}
		if call.Pushback == nil {
			t.Fatal("no pushback")
		}
		e.settled(t, call.Pushback.ID, "DELIVERED")
	})
}

func (e *pbEnv) testNoPushbackTrigger(t *testing.T) {
	camp := e.newCampaign(t, "no pushback", e.integ, false, nil)
	con := e.take(t, camp)
	call := e.record(t, e.callInput(con.ID, "PARTIAL"))
	e.checkEcho(t, call, con, "PARTIAL")
	if call.Pushback != nil {
		t.Fatalf("call result has pushback %s; its campaign has no pushback trigger", call.Pushback)
	}
	got := e.callResults(t, con.ID)
	if len(got) != 1 || got[0].ID != call.ID || got[0].Outcome != "PARTIAL" || got[0].Pushback != nil {
		t.Fatalf("contact %s has call results %+v, want only %s without pushback", con.ID, got, call.ID)
	}
}

func (e *pbEnv) testOutcomes(t *testing.T) {
	camp := e.main()
	type delivery struct {
		con  pbContact
		call pbCall
	}
	var all []delivery
	for _, o := range pbOutcomes {
		con := e.take(t, camp)
		all = append(all, delivery{con, e.recordPushed(t, camp, con, o)})
	}
	for _, d := range all {
		t.Run(d.call.Outcome, func(t *testing.T) {
			pb := e.settled(t, d.call.Pushback.ID, "DELIVERED")
			if pb.Attempts != 1 {
				t.Errorf("delivered after %d attempts, want 1", pb.Attempts)
			}
			pbWantMapped(t, pb, e.want(camp, d.call.Outcome))
			e.checkDelivery(t, d.con, d.call, pb, e.want(camp, d.call.Outcome))
			got := e.callResults(t, d.con.ID)
			if len(got) != 1 || got[0].ID != d.call.ID || got[0].Pushback == nil || got[0].Pushback.ID != pb.ID || got[0].Pushback.Status != "DELIVERED" {
				t.Errorf("contact %s has call results %+v, want %s with pushback %s DELIVERED", d.con.ID, got, d.call.ID, pb.ID)
			}
		})
	}
}

func (e *pbEnv) testEmptyMapping(t *testing.T) {
	con := e.take(t, e.plain)
	call := e.recordPushed(t, e.plain, con, "SUCCESS")
	pb := e.settled(t, call.Pushback.ID, "DELIVERED")
	pbWantMapped(t, pb, "")
	e.checkDelivery(t, con, call, pb, "")
}

func (e *pbEnv) testIdempotent(t *testing.T) {
	camp := e.main()
	con, other := e.take(t, camp), e.take(t, camp)
	key := "call-" + string(pulid.New("key"))
	in := e.callInput(con.ID, "SUCCESS")
	in["idempotencyKey"] = key
	first := e.record(t, in)
	e.checkEcho(t, first, con, "SUCCESS")
	if first.Pushback == nil {
		t.Fatal("the first report has no pushback")
	}
	again := e.record(t, in)
	// The same key with another report still answers the first result.
	changed := e.callInput(other.ID, "FAILURE")
	changed["idempotencyKey"] = key
	changed["transcript"] = "another call"
	third := e.record(t, changed)
	for _, got := range []pbCall{again, third} {
		if got.ID != first.ID || got.Pushback == nil || got.Pushback.ID != first.Pushback.ID {
			t.Fatalf("a repeated key answered call %s (pushback %v), want %s (pushback %s)", got.ID, got.Pushback, first.ID, first.Pushback.ID)
		}
		e.checkEcho(t, got, con, "SUCCESS")
	}
	pb := e.settled(t, first.Pushback.ID, "DELIVERED")
	if got := e.callResults(t, con.ID); len(got) != 1 || got[0].ID != first.ID {
		t.Fatalf("contact %s has call results %+v, want only %s", con.ID, got, first.ID)
	}
	if got := e.callResults(t, other.ID); len(got) != 0 {
		t.Fatalf("contact %s has call results %+v, want none", other.ID, got)
	}
	e.checkDelivery(t, con, first, pb, e.want(camp, "SUCCESS"))
	e.checkNothingWritten(t, other, pbPushback{ID: "none"})
}

func (e *pbEnv) testIdempotentConcurrent(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	in := e.callInput(con.ID, "PARTIAL")
	in["idempotencyKey"] = "call-" + string(pulid.New("key"))
	const n = 6
	var wg sync.WaitGroup
	ids := make([]pulid.ID, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got struct{ RecordCallResult pbCall }
			errs[i] = pbPost(e.c, pbRecordMutation, map[string]any{"in": in}, &got)
			ids[i] = got.RecordCallResult.ID
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("report %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent reports with one key answered %v, want one call result", ids)
		}
	}
	got := e.callResults(t, con.ID)
	if len(got) != 1 || got[0].ID != ids[0] || got[0].Pushback == nil {
		t.Fatalf("contact %s has call results %+v, want only %s with a pushback", con.ID, got, ids[0])
	}
	pb := e.settled(t, got[0].Pushback.ID, "DELIVERED")
	var call pbCall
	call.Outcome = "PARTIAL"
	e.checkDelivery(t, con, call, pb, e.want(camp, "PARTIAL"))
}

// pbPost posts a GraphQL request without failing the test, for goroutines.
func pbPost(c *apptest.Client, query string, vars map[string]any, v any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, c.URL+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out apptest.Response
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("GraphQL errors: %+v", out.Errors)
	}
	return json.Unmarshal(out.Data, v)
}

func (e *pbEnv) testRetries(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	ws := e.subscribe(t, camp.ID)
	t.Cleanup(e.faults.Reset)
	injected := e.faults.Injected()

	// Three 500s fail the first attempt, three 429s (Retry-After: 1) the
	// second; the third gets through. Holding the first request of each
	// attempt at the wire keeps the pushback still while it is inspected.
	e.faults.SetRetryAfter(time.Second)
	e.faults.Next(append(pbRepeat(sandbox.ServerError, pbRequestsPerAttempt), pbRepeat(sandbox.RateLimit, pbRequestsPerAttempt)...)...)
	hold1 := e.wire.holdNth(1)
	hold2 := e.wire.holdNth(1 + pbRequestsPerAttempt)
	hold3 := e.wire.holdNth(1 + 2*pbRequestsPerAttempt)

	call := e.recordPushed(t, camp, con, "SUCCESS")
	id := call.Pushback.ID

	hold1.wait(t)
	pb := e.pushback(t, id)
	if pb.Status != "PENDING" || pb.Attempts != 0 || pb.LastError != nil || pb.NextAttemptAt != nil || pb.DeliveredAt != nil {
		t.Fatalf("during the first attempt: %s, want PENDING with 0 attempts and nothing else", pb)
	}
	pbWantEvent(t, ws, pb)
	hold1.open()

	hold2.wait(t)
	pb = e.pushback(t, id)
	if pb.Status != "RETRYING" || pb.Attempts != 1 || pb.LastError == nil || !strings.Contains(*pb.LastError, "500") ||
		pb.NextAttemptAt == nil || pb.DeliveredAt != nil {
		t.Fatalf("after a 500: %s, want RETRYING, 1 attempt, the 500 as lastError and a nextAttemptAt", pb)
	}
	pbWantEvent(t, ws, pb)
	hold2.open()

	hold3.wait(t)
	pb = e.pushback(t, id)
	if pb.Status != "RETRYING" || pb.Attempts != 2 || pb.LastError == nil || !strings.Contains(*pb.LastError, "429") ||
		pb.NextAttemptAt == nil || pb.DeliveredAt != nil {
		t.Fatalf("after a 429: %s, want RETRYING, 2 attempts, the 429 as lastError and a nextAttemptAt", pb)
	}
	switch wait := pb.NextAttemptAt.Sub(pb.UpdatedAt); {
	case e.p == schematype.ProviderHubSpot:
		// HubSpot documents no Retry-After, only its limit's policy: the
		// backoff decides, and the error names the policy.
		if !strings.Contains(*pb.LastError, "TEN_SECONDLY_ROLLING") {
			t.Errorf("lastError %q does not name HubSpot's rate-limit policy", *pb.LastError)
		}
	case wait < 500*time.Millisecond:
		// Retry-After (1s) is honoured: the backoff alone waits 150ms here.
		t.Errorf("after a 429 with Retry-After: 1 the next attempt is due %s later, want about 1s", wait)
	}
	pbWantEvent(t, ws, pb)
	hold3.open()

	pb = e.settled(t, id, "DELIVERED")
	if pb.Attempts != 3 {
		t.Errorf("delivered after %d attempts, want 3", pb.Attempts)
	}
	pbWantEvent(t, ws, pb)

	now := e.faults.Injected()
	if d := now[sandbox.ServerError] - injected[sandbox.ServerError]; d != pbRequestsPerAttempt {
		t.Errorf("%d 500s injected, want %d", d, pbRequestsPerAttempt)
	}
	if d := now[sandbox.RateLimit] - injected[sandbox.RateLimit]; d != pbRequestsPerAttempt {
		t.Errorf("%d 429s injected, want %d", d, pbRequestsPerAttempt)
	}
	e.checkDelivery(t, con, call, pb, e.want(camp, "SUCCESS"))
}

func (e *pbEnv) testLostAnswers(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	// The fake applies the writes, but their answers never reach Intake,
	// as when a connection drops after the write. The external systems
	// de-duplicate nothing: before writing again, the connector looks for
	// the note or call it may have made, finds it, and goes on; the status
	// write is idempotent and simply sent again.
	e.wire.loseNext(pbRequestsPerAttempt)
	t.Cleanup(func() { e.wire.loseNext(-e.wire.losing()) })
	seen := len(e.wire.writesSeen())
	call := e.recordPushed(t, camp, con, "FAILURE")
	pb := e.settled(t, call.Pushback.ID, "DELIVERED")
	if pb.Attempts != 1 {
		t.Errorf("delivered after %d attempts, want 1: the lost answer is resolved by a look, not a retry later", pb.Attempts)
	}
	if e.wire.losing() == pbRequestsPerAttempt {
		t.Fatal("no answer was lost: the test did not exercise the look")
	}
	creates := 0
	for _, s := range e.wire.writesSeen()[seen:] {
		if s.Method == http.MethodPost && e.concerns(con, s.Path, s.Body) {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("the note or call was sent %d times, want once: its lost answer must not make it sent again", creates)
	}
	e.checkDelivery(t, con, call, pb, e.want(camp, "FAILURE"))
}

// refusal is a 4xx in the provider's own error shape.
func (e *pbEnv) refusal(msg string) pbRefusal {
	if e.p == schematype.ProviderHubSpot {
		body, _ := json.Marshal(map[string]string{
			"status": "error", "message": msg, "category": "MISSING_SCOPES", "correlationId": "7c1a3b6e-0000-4000-8000-000000000001",
		})
		return pbRefusal{status: http.StatusForbidden, body: string(body)}
	}
	body, _ := json.Marshal(map[string]string{"status": "error", "message": msg})
	return pbRefusal{status: http.StatusUnprocessableEntity, body: string(body)}
}

func (e *pbEnv) testRefused(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	msg := "the record is locked by another user (refused by the test)"
	refusal := e.refusal(msg)
	seen := len(e.wire.writesSeen())
	e.wire.refuseNext(refusal)
	// The metrics count each ending. The earlier tests' pushbacks have all
	// settled, but a settle is counted just after it is stored, so the
	// counter may still be catching up with one the tests already saw:
	// the baseline is taken once it counts every DELIVERED pushback (a
	// pushback is DELIVERED once at most).
	dead := series("intake_pushbacks_settled_total", "status", "DEAD")
	delivered := series("intake_pushbacks_settled_total", "status", "DELIVERED")
	stored, err := e.app.DB.Store.Client.Pushback.Query().Where(pushback.StatusEQ(pushback.StatusDELIVERED)).
		Count(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	metricEventually(t, e.app.URL, delivered, float64(stored))
	before := scrape(t, e.app.URL)

	call := e.recordPushed(t, camp, con, "NOT_ANSWERED")
	pb := e.settled(t, call.Pushback.ID, "DEAD")
	metricEventually(t, e.app.URL, dead, before[dead]+1)
	if pb.Attempts != 1 || !strings.Contains(*pb.LastError, msg) || !strings.Contains(*pb.LastError, fmt.Sprint(refusal.status)) {
		t.Fatalf("refused: %s, want DEAD after 1 attempt with the status %d and the provider's message", pb, refusal.status)
	}
	var sent []pbSeen
	for _, s := range e.wire.writesSeen()[seen:] {
		if e.concerns(con, s.Path, s.Body) {
			sent = append(sent, s)
		}
	}
	if len(sent) != 1 {
		t.Errorf("writes sent for the refused pushback: %+v, want the refused one only", sent)
	}
	e.checkNothingWritten(t, con, pb)

	// The provider takes writes again: a retry delivers, once.
	retried := e.retry(t, pb.ID)
	if retried.Status != "PENDING" && retried.Status != "DELIVERED" {
		t.Errorf("retryPushback answered %s, want it queued again (or delivered already)", retried)
	}
	pb = e.settled(t, pb.ID, "DELIVERED")
	if pb.Attempts != 1 {
		t.Errorf("delivered after %d attempts since the retry, want 1", pb.Attempts)
	}
	e.checkDelivery(t, con, call, pb, e.want(camp, "NOT_ANSWERED"))
	metricEventually(t, e.app.URL, delivered, before[delivered]+1)
	if got := scrape(t, e.app.URL)[dead]; got != before[dead]+1 {
		t.Errorf("%s = %v after the retry delivered, want %v", dead, got, before[dead]+1)
	}
}

func (e *pbEnv) testUnknownStatus(t *testing.T) {
	camp := e.mapped
	bad := map[string]string{}
	for k, v := range e.mapping {
		bad[k] = v
	}
	bad["success"] = e.unknownStatus
	e.configure(t, camp, true, bad)
	t.Cleanup(func() { e.configure(t, camp, true, e.mapping) })

	con := e.take(t, camp)
	seen := len(e.wire.writesSeen())
	call := e.record(t, e.callInput(con.ID, "SUCCESS"))
	if call.Pushback == nil {
		t.Fatal("no pushback")
	}
	pbWantMapped(t, *call.Pushback, e.unknownStatus)
	pb := e.settled(t, call.Pushback.ID, "DEAD")
	if pb.Attempts != 1 || !strings.Contains(*pb.LastError, fmt.Sprintf("%q", e.unknownStatus)) {
		t.Fatalf("%s, want DEAD after 1 attempt, naming %q", pb, e.unknownStatus)
	}
	switch e.p {
	case schematype.ProviderTalention:
		// The stage is looked up first: nothing is written.
		if !strings.Contains(*pb.LastError, "Accepted") {
			t.Errorf("lastError %q does not list the job's stages", *pb.LastError)
		}
		e.checkNothingWritten(t, con, pb)
		if appID, _ := con.Attributes["applicationId"].(string); appID == "" {
			t.Errorf("contact %s has no applicationId", con.ID)
		} else if st, _ := e.fk.Talention.Stage(appID); st != "New" {
			t.Errorf("application %s moved to %q", appID, st)
		}
	case schematype.ProviderHubSpot:
		// The call is logged; the refused status is not retried.
		if !strings.Contains(*pb.LastError, "not one of the allowed options") {
			t.Errorf("lastError %q lacks HubSpot's message", *pb.LastError)
		}
		var patches int
		for _, s := range e.wire.writesSeen()[seen:] {
			if s.Method == http.MethodPatch && e.concerns(con, s.Path, s.Body) {
				patches++
			}
		}
		if patches != 1 {
			t.Errorf("%d status updates sent, want 1 (a 400 is not retried)", patches)
		}
		if got := e.fk.HubSpot.LeadStatus(con.ExternalID); got != "" {
			t.Errorf("contact %s has hs_lead_status %q", con.ExternalID, got)
		}
		var logged int
		for _, c := range e.fk.HubSpot.Calls() {
			if slices.Contains(c.ContactIDs, con.ExternalID) {
				logged++
			}
		}
		if logged != 1 {
			t.Errorf("%d calls logged on contact %s, want 1", logged, con.ExternalID)
		}
	}
}

func (e *pbEnv) testRetryRefused(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	call := e.recordPushed(t, camp, con, "SUCCESS")
	pb := e.settled(t, call.Pushback.ID, "DELIVERED")

	pbWantError(t, e.c.Do(t, pbRetryMutation, map[string]any{"id": pb.ID}), "retryPushback", "VALIDATION_FAILED", "id")
	if now := e.pushback(t, pb.ID); now.String() != pb.String() {
		t.Errorf("a refused retry changed the pushback: %s, was %s", now, pb)
	}
	pbWantError(t, e.c.Do(t, pbRetryMutation, map[string]any{"id": "pbk_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"}), "retryPushback", "NOT_FOUND", "id")
	other := e.app.Client(e.app.Key(t, "pushback-other-"+strings.ToLower(string(e.p)), schematype.RoleAdmin))
	pbWantError(t, other.Do(t, pbRetryMutation, map[string]any{"id": pb.ID}), "retryPushback", "NOT_FOUND", "id")
	reader := e.app.Client(e.app.Key(t, "pushback-"+strings.ToLower(string(e.p)), schematype.RoleViewer))
	pbWantError(t, reader.Do(t, pbRetryMutation, map[string]any{"id": pb.ID}), "retryPushback", "FORBIDDEN", "")
	e.checkDelivery(t, con, call, pb, e.want(camp, "SUCCESS"))
}

func (e *pbEnv) testSwitchedOff(t *testing.T) {
	camp := e.main()
	con := e.take(t, camp)
	t.Cleanup(e.faults.Reset)
	hold := e.wire.holdNth(1)
	call := e.recordPushed(t, camp, con, "PARTIAL")

	// While the first attempt is under way, pushback is switched off; the
	// attempt then fails temporarily, and the next one must not deliver.
	hold.wait(t)
	e.configure(t, camp, false, nil)
	e.faults.Next(pbRepeat(sandbox.ServerError, pbRequestsPerAttempt)...)
	hold.open()
	pb := e.settled(t, call.Pushback.ID, "DEAD")
	if !strings.Contains(*pb.LastError, "switched off") || pb.Attempts != 1 {
		t.Fatalf("%s, want DEAD after 1 attempt saying pushback was switched off", pb)
	}
	e.checkNothingWritten(t, con, pb)

	e.configure(t, camp, true, camp.Mapping)
	e.retry(t, pb.ID)
	pb = e.settled(t, pb.ID, "DELIVERED")
	if pb.Attempts != 1 {
		t.Errorf("delivered after %d attempts since the retry, want 1", pb.Attempts)
	}
	e.checkDelivery(t, con, call, pb, e.want(camp, "PARTIAL"))
}

func (e *pbEnv) testDisconnected(t *testing.T) {
	integ := e.connect(t, string(e.p)+" (to disconnect)")
	camp := e.newCampaign(t, "disconnected", integ, true, pbNoMapping)
	con := e.take(t, camp)
	t.Cleanup(e.faults.Reset)
	hold := e.wire.holdNth(1)
	call := e.recordPushed(t, camp, con, "SUCCESS")

	hold.wait(t)
	var got struct{ DisconnectIntegration struct{ Status string } }
	e.c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { status } }`, map[string]any{"id": integ}, &got)
	if got.DisconnectIntegration.Status != "DISCONNECTED" {
		t.Fatalf("integration is %s after disconnecting", got.DisconnectIntegration.Status)
	}
	e.faults.Next(pbRepeat(sandbox.ServerError, pbRequestsPerAttempt)...)
	hold.open()
	pb := e.settled(t, call.Pushback.ID, "DEAD")
	if !strings.Contains(strings.ToLower(*pb.LastError), "disconnected") || pb.Attempts != 1 {
		t.Fatalf("%s, want DEAD after 1 attempt saying the integration is disconnected", pb)
	}
	e.checkNothingWritten(t, con, pb)

	// A retry is queued, but the integration is still disconnected.
	if r := e.retry(t, pb.ID); r.Status != "PENDING" && r.Status != "DEAD" {
		t.Fatalf("retryPushback answered %s", r)
	}
	again := e.waitPushback(t, pb.ID, "DEAD again", func(p pbPushback) bool {
		return p.Status == "DEAD" && p.UpdatedAt.After(pb.UpdatedAt)
	})
	if !strings.Contains(strings.ToLower(*again.LastError), "disconnected") || again.DeliveredAt != nil {
		t.Fatalf("retried: %s, want DEAD saying the integration is disconnected", again)
	}
	e.checkNothingWritten(t, con, again)
}

// pbIsPush reports whether a request to a fake belongs to a delivery: a
// write of a call result, or Talention's read of a job's stages.
func pbIsPush(r *http.Request) bool {
	p := r.URL.Path
	switch r.Method {
	case http.MethodPost:
		return strings.HasSuffix(p, "/notes") || strings.HasSuffix(p, "/crm/v3/objects/calls")
	case http.MethodPut, http.MethodPatch:
		return true
	case http.MethodGet:
		return strings.Contains(p, "/jobs/")
	}
	return false
}

// pbWire stands between Intake and the fakes and acts on delivery
// requests: it counts them, holds chosen ones until released, answers
// writes with a refusal itself, or lets the fake apply a write and loses
// its answer.
type pbWire struct {
	next http.Handler

	mu       sync.Mutex
	seen     []pbSeen
	holds    map[int]*pbHold // by the number of the request (1-based)
	refusals []pbRefusal
	lose     int
}

type pbSeen struct {
	Method, Path string
	Body         []byte
}

type pbRefusal struct {
	status int
	body   string
}

type pbHold struct {
	n       int
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// wait waits for the held request to arrive.
func (h *pbHold) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(pbDeadline):
		t.Fatalf("delivery request #%d never arrived", h.n)
	}
}

// open lets the held request through.
func (h *pbHold) open() { h.once.Do(func() { close(h.release) }) }

// holdNth holds the n-th delivery request from now on.
func (w *pbWire) holdNth(n int) *pbHold {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := &pbHold{n: len(w.seen) + n, arrived: make(chan struct{}), release: make(chan struct{})}
	w.holds[h.n] = h
	return h
}

func (w *pbWire) releaseAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.holds {
		h.open()
	}
}

// refuseNext answers the next delivery write with r.
func (w *pbWire) refuseNext(r pbRefusal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refusals = append(w.refusals, r)
}

// loseNext lets the fake apply the next n delivery writes but answers each
// with a 502.
func (w *pbWire) loseNext(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lose += n
}

// losing returns how many answers loseNext still has to lose.
func (w *pbWire) losing() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lose
}

// writesSeen returns the delivery writes that arrived, in order.
func (w *pbWire) writesSeen() []pbSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []pbSeen
	for _, s := range w.seen {
		if s.Method != http.MethodGet {
			out = append(out, s)
		}
	}
	return out
}

func (w *pbWire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !pbIsPush(r) {
		w.next.ServeHTTP(rw, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	w.mu.Lock()
	w.seen = append(w.seen, pbSeen{Method: r.Method, Path: r.URL.Path, Body: body})
	h := w.holds[len(w.seen)]
	w.mu.Unlock()
	if h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	var refusal *pbRefusal
	lose := false
	if r.Method != http.MethodGet {
		w.mu.Lock()
		if len(w.refusals) > 0 {
			refusal = &w.refusals[0]
			w.refusals = w.refusals[1:]
		} else if w.lose > 0 {
			w.lose--
			lose = true
		}
		w.mu.Unlock()
	}
	switch {
	case refusal != nil:
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(refusal.status)
		_, _ = io.WriteString(rw, refusal.body)
	case lose:
		w.next.ServeHTTP(httptest.NewRecorder(), r)
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(rw, `{"status":"error","message":"bad gateway: the answer was lost (injected by the test)"}`)
	default:
		w.next.ServeHTTP(rw, r)
	}
}

// testOwnRateLimit sets the integration's own limit to one request per 2 s:
// the deliveries' requests arrive that far apart.
func (e *pbEnv) testOwnRateLimit(t *testing.T) {
	const setLimit = `mutation($id: ID!, $rl: RateLimitInput) { setIntegrationRateLimit(id: $id, rateLimit: $rl) { id } }`
	var ignored any
	e.c.MustDo(t, setLimit, map[string]any{"id": e.integ, "rl": map[string]any{"requests": 1, "intervalSeconds": 2}}, &ignored)
	defer e.c.MustDo(t, setLimit, map[string]any{"id": e.integ, "rl": nil}, &ignored)

	var cons []pbContact
	var pbs []pulid.ID
	for range 2 {
		con := e.take(t, e.plain)
		call := e.recordPushed(t, e.plain, con, "SUCCESS")
		cons, pbs = append(cons, con), append(pbs, call.Pushback.ID)
	}
	var at []time.Time
	for i, id := range pbs {
		e.settled(t, id, "DELIVERED")
		for _, w := range e.writesOf(cons[i]) {
			at = append(at, w.At)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) < 2 {
		t.Fatalf("%d writes for 2 deliveries", len(at))
	}
	// The budget grants one request per 2 s and a little more; requests
	// arrive within milliseconds of their grants.
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 1900*time.Millisecond {
			t.Errorf("writes %d and %d arrived %s apart; the integration allows one request per 2 s", i-1, i, gap)
		}
	}
}
