package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// Sizes of the stress test.
const (
	stressPeople    = 2000 // people the Talention fake serves
	stressResults   = 1000 // call results recorded
	stressInFlight  = 12   // recordCallResult requests at once
	stressKillAfter = 400  // acknowledged results before the SIGKILL
)

// stressMappings are the triggers' status mappings: Talention's stage
// names and HubSpot's lead statuses. Compleet takes no status.
var stressMappings = map[schematype.ProviderKey]map[string]string{
	schematype.ProviderTalention: {"SUCCESS": "Accepted", "PARTIAL": "Interview", "FAILURE": "Rejected", "NOT_ANSWERED": "Unreachable"},
	schematype.ProviderHubSpot:   {"SUCCESS": "CONNECTED", "PARTIAL": "IN_PROGRESS", "FAILURE": "UNQUALIFIED", "NOT_ANSWERED": "ATTEMPTED_TO_CONTACT"},
}

// stressIsWrite matches the requests of a delivery that write.
func stressIsWrite(r *http.Request) bool { return r.Method != http.MethodGet }

// stressCheckFake requires the fake to hold, for each pushback, exactly one
// logged call (HubSpot) or note (ATS) carrying the pushback's marker on its
// contact, nothing else, and the mapped status.
func stressCheckFake(t *testing.T, fk *fakes.Set, p schematype.ProviderKey, mapping map[string]string, contacts []stressContact, pushbacks map[string]int) {
	t.Helper()
	ids := make([]string, len(contacts))
	for i, con := range contacts {
		ids[i] = con.ExternalID
	}
	byContact := fk.Delivered(p, ids)
	total := 0
	for _, bodies := range byContact {
		total += len(bodies)
	}
	if total != len(pushbacks) {
		t.Errorf("the fake holds %d calls or notes for %d pushbacks", total, len(pushbacks))
	}
	for id, i := range pushbacks {
		con := contacts[i]
		bodies := byContact[con.ExternalID]
		marker := connector.Marker("intake-" + id)
		if len(bodies) != 1 || !strings.Contains(bodies[0], marker) {
			t.Errorf("contact %s holds %d calls or notes, want exactly one carrying %q", con.ExternalID, len(bodies), marker)
			continue
		}
		want := mapping[stressOutcomes[i%4]]
		switch p {
		case schematype.ProviderHubSpot:
			if got := fk.HubSpot.LeadStatus(con.ExternalID); got != want {
				t.Errorf("contact %s has hs_lead_status %q, want %q", con.ExternalID, got, want)
			}
		case schematype.ProviderTalention:
			if got, ok := fk.Talention.Stage(con.ApplicationID); !ok || got != want {
				t.Errorf("application %s is in stage %q (known %v), want %q", con.ApplicationID, got, ok, want)
			}
		}
		if p != schematype.ProviderHubSpot {
			if label := "Call result: " + stressNoteLabel[stressOutcomes[i%4]]; !strings.HasPrefix(bodies[0], label) {
				t.Errorf("candidate %s's note starts %q, want %q", con.ExternalID, stressFirstLine(bodies[0]), label)
			}
		}
	}
}

var stressOutcomes = []string{"SUCCESS", "PARTIAL", "FAILURE", "NOT_ANSWERED"}

// TestPushbackStressSurvivesSIGKILL runs, for each provider that takes
// call results, the real binary (`intake serve`) on a fresh PostgreSQL
// database against that provider's fake in this process. 20% of the
// writes fail: half of them after taking effect (the fake applies the
// write and cuts the connection, as a timeout does), the rest refused (500
// or 429) without effect. It records 1,000 call results over GraphQL,
// SIGKILLs the server midway and starts another on the same database.
// Every call result must be recorded once, every pushback delivered, and
// the fake must hold exactly one logged call or note per call result, with
// the mapped status. The fakes de-duplicate nothing, as the vendors
// document none: exactly once comes from the connectors' look for their
// own marker before a write is made again.
func TestPushbackStressSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("the pushback stress test builds the binary and records 1,000 call results per provider; skipped with -short")
	}
	t.Parallel()
	bin := stressBuild(t)
	// The providers at once: each server spends most of its time waiting
	// (retry delays, the rescue of the killed server's jobs).
	for _, p := range []schematype.ProviderKey{schematype.ProviderHubSpot, schematype.ProviderTalention, schematype.ProviderCompleet} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			stressProvider(t, bin, p)
		})
	}
}

// stressProvider is TestPushbackStressSurvivesSIGKILL for one provider.
func stressProvider(t *testing.T, bin string, provider schematype.ProviderKey) {
	db := dbtest.Empty(t, dialect.Postgres) // skips (fails in CI) without PostgreSQL

	// The fakes run here, so that the test can inject faults and read
	// what they received. People are created within the first sync's
	// look-back, so new_applications fetches every one.
	data := sandbox.Dataset{Seed: 7, Size: stressPeople, Step: time.Minute}.AnchoredAt(time.Now())
	fk := fakes.New(data)
	if err := fk.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fk.Close()
		for _, v := range fk.ContractViolations() {
			t.Errorf("contract: %s", v)
		}
	})
	faults, mapping := fk.Faults(provider), stressMappings[provider]

	addr := stressFreeAddr(t)
	env := []string{
		"DATABASE_URL=" + db.URL,
		"INTAKE_ENCRYPTION_KEY=" + stressKey(t),
		"INTAKE_ADDR=" + addr,
		"INTAKE_DATA_DIR=" + t.TempDir(),
		"INTAKE_PUSHBACK_RETRY_DELAY=50ms",
		"INTAKE_SYNC_LEASE=3s",
		"INTAKE_JOB_RESCUE_AFTER=4s",
		"INTAKE_LOG_FORMAT=text",
		"INTAKE_LOG_LEVEL=warn",
		// The calling platform records 1,000 results at once from one key.
		"INTAKE_RATE_LIMIT=0",
		"INTAKE_DB_MAX_CONNS=4", // the PostgreSQL server is shared with the other tests
		// The fakes listen on loopback, which the default refuses.
		"INTAKE_EGRESS_ALLOW=" + strings.TrimPrefix(fk.URL, "http://"),
	}
	key := stressAPIKey(t, bin, env)
	logs := t.TempDir()
	srv := stressStart(t, bin, env, addr, filepath.Join(logs, "serve-1.log"))

	c := &apptest.Client{URL: "http://" + addr, Key: key}
	camp, trig := stressSetup(t, c, fk, provider, mapping)
	contacts := stressSync(t, c, data, provider, camp, trig)
	if len(contacts) < stressResults {
		t.Fatalf("the sync imported %d contacts, want at least %d", len(contacts), stressResults)
	}
	contacts = contacts[:stressResults]

	// 20% of the writes fail: 10% after taking effect, 5% refused with a
	// 429 and 5% with a 500 (each rate is drawn after the ones before it).
	faults.SetRetryAfter(0)
	faults.Only(stressIsWrite)
	faults.SetRate(sandbox.RateLimit, 0.05)
	faults.SetRate(sandbox.ServerError, 0.05/0.95)
	faults.SetRate(sandbox.LostAnswer, 0.10/0.90)
	before := faults.Injected()

	pg, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })

	// Record every result, SIGKILLing the server once stressKillAfter are
	// acknowledged and starting another on the same database and address.
	var (
		acked    atomic.Int64
		retried  atomic.Int64
		killOnce sync.Once
		killed   = make(chan struct{})
		restart  = make(chan *stressServer, 1)
		// Set before restart is sent.
		killedAt    time.Time
		inflight    []int64
		inflightErr error
	)
	go func() {
		<-killed
		undelivered := stressCount(pg, `SELECT count(*) FROM pushbacks WHERE status <> 'DELIVERED'`)
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("SIGKILL: %v", err)
		}
		<-srv.exited
		killedAt = time.Now()
		// The deliveries it was making: their jobs stay running until the
		// next server rescues them.
		inflight, inflightErr = stressJobIDs(pg, `SELECT id FROM river_job WHERE kind = 'intake_pushback' AND state = 'running'`)
		t.Logf("SIGKILLed the server after %d acknowledged results (%d pushbacks not yet delivered, %d delivery jobs running)",
			acked.Load(), undelivered, len(inflight))
		restart <- stressStartE(bin, env, addr, filepath.Join(logs, "serve-2.log"))
	}()

	ids := make([]string, stressResults) // call result ID by index
	work := make(chan int)
	errs := make(chan error, stressResults)
	var wg sync.WaitGroup
	recordDeadline := time.Now().Add(2 * time.Minute)
	for range stressInFlight {
		wg.Go(func() {
			for i := range work {
				id, n, err := stressRecord(c, contacts[i].ID, i, mapping, recordDeadline)
				retried.Add(int64(n))
				if err != nil {
					errs <- fmt.Errorf("call result %d: %w", i, err)
					continue
				}
				ids[i] = id
				if acked.Add(1) == stressKillAfter {
					killOnce.Do(func() { close(killed) })
				}
			}
		})
	}
	for i := range stressResults {
		work <- i
	}
	close(work)
	wg.Wait()
	killOnce.Do(func() { close(killed) }) // in case too few were acknowledged: the test fails below
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	srv2 := <-restart
	if srv2.err != nil {
		t.Fatalf("restarting the server: %v", srv2.err)
	}
	t.Cleanup(func() { srv2.stop(t) })
	if t.Failed() {
		t.FailNow()
	}

	t.Run("the first server died of the SIGKILL", func(t *testing.T) {
		var ee *exec.ExitError
		if !errors.As(srv.err, &ee) {
			t.Fatalf("the first server exited with %v, want a signal", srv.err)
		}
		ws, ok := ee.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the first server exited with %v, want SIGKILL", srv.err)
		}
	})
	t.Run("the kill interrupted requests, which were retried with their idempotency keys", func(t *testing.T) {
		if retried.Load() == 0 {
			t.Fatal("no recordCallResult request failed at the kill: the test did not exercise the restart")
		}
		t.Logf("%d requests retried after the kill", retried.Load())
	})
	t.Run("the fake failed writes during the deliveries", func(t *testing.T) {
		after := faults.Injected()
		for _, f := range []sandbox.Fault{sandbox.RateLimit, sandbox.ServerError, sandbox.LostAnswer} {
			if after[f] <= before[f] {
				t.Errorf("no %s was injected while delivering", f)
			}
		}
		t.Logf("injected: %d rate limits, %d server errors, %d answers lost after the write took effect",
			after[sandbox.RateLimit]-before[sandbox.RateLimit], after[sandbox.ServerError]-before[sandbox.ServerError],
			after[sandbox.LostAnswer]-before[sandbox.LostAnswer])
	})

	t.Run("the deliveries the kill interrupted are taken up by the next server", func(t *testing.T) {
		if inflightErr != nil {
			t.Fatal(inflightErr)
		}
		if len(inflight) == 0 {
			t.Fatal("no delivery was running at the kill: the test did not exercise the rescue")
		}
		// INTAKE_JOB_RESCUE_AFTER is 4s; the new leader is elected within
		// River's leader TTL (15s) and rescues at once, then every 30s.
		deadline := killedAt.Add(90 * time.Second)
		for {
			running, err := stressJobIDs(pg, `SELECT id FROM river_job WHERE id = ANY($1) AND state = 'running'`, pq.Array(inflight))
			if err != nil {
				t.Fatal(err)
			}
			if len(running) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of the %d delivery jobs running at the kill are still running %s after it (INTAKE_JOB_RESCUE_AFTER=4s): %s",
					len(running), len(inflight), time.Since(killedAt).Round(time.Second), stressJobStates(pg, running))
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("the %d interrupted deliveries were taken up %s after the kill", len(inflight), time.Since(killedAt).Round(time.Second))
	})

	// Every pushback ends DELIVERED and every delivery job completed.
	deadline := killedAt.Add(3 * time.Minute)
	for {
		total := stressCount(pg, `SELECT count(*) FROM pushbacks`)
		open := stressCount(pg, `SELECT count(*) FROM pushbacks WHERE status <> 'DELIVERED'`)
		jobs := stressCount(pg, `SELECT count(*) FROM river_job WHERE kind = 'intake_pushback' AND state <> 'completed'`)
		if total == stressResults && open == 0 && jobs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 minutes after the kill: %d pushbacks, %d not DELIVERED, %d delivery jobs not completed; by status: %s\nserver log:\n%s",
				total, open, jobs, stressPushbackStatuses(pg), stressTail(filepath.Join(logs, "serve-2.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("each call result is recorded once", func(t *testing.T) {
		if n := stressCount(pg, `SELECT count(*) FROM call_results`); n != stressResults {
			t.Fatalf("%d call results, want %d", n, stressResults)
		}
		rows, err := pg.Query(`SELECT idempotency_key, id, contact_id, outcome FROM call_results`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var key, id, contactID, outcome string
			if err := rows.Scan(&key, &id, &contactID, &outcome); err != nil {
				t.Fatal(err)
			}
			var i int
			if _, err := fmt.Sscanf(key, "stress-%d", &i); err != nil || i < 0 || i >= stressResults || seen[key] {
				t.Fatalf("unexpected or repeated idempotency key %q", key)
			}
			seen[key] = true
			if id != ids[i] || contactID != contacts[i].ID || outcome != stressOutcomes[i%4] {
				t.Fatalf("%s is call result %s of %s (%s); recordCallResult answered %s for %s (%s)",
					key, id, contactID, outcome, ids[i], contacts[i].ID, stressOutcomes[i%4])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})

	// pushbacks: ID -> the index of its call result.
	pushbacks := map[string]int{}
	t.Run("every pushback is DELIVERED with its mapped status", func(t *testing.T) {
		rows, err := pg.Query(`SELECT p.id, p.status, coalesce(p.mapped_status, ''), p.attempts, p.delivered_at IS NOT NULL,
			p.next_attempt_at IS NULL, p.last_error IS NULL, c.idempotency_key, c.outcome
			FROM pushbacks p JOIN call_results c ON c.id = p.call_result_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, status, mapped, key, outcome string
			var attempts int
			var delivered, noNext, noError bool
			if err := rows.Scan(&id, &status, &mapped, &attempts, &delivered, &noNext, &noError, &key, &outcome); err != nil {
				t.Fatal(err)
			}
			var i int
			fmt.Sscanf(key, "stress-%d", &i)
			pushbacks[id] = i
			if status != "DELIVERED" || !delivered || !noNext || !noError || attempts < 1 {
				t.Errorf("pushback %s: status %s, attempts %d, deliveredAt set %v, nextAttemptAt cleared %v, lastError cleared %v",
					id, status, attempts, delivered, noNext, noError)
			}
			if mapped != mapping[outcome] {
				t.Errorf("pushback %s of a %s call: mapped status %q, want %q", id, outcome, mapped, mapping[outcome])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(pushbacks) != stressResults {
			t.Fatalf("%d pushbacks, want one per call result (%d)", len(pushbacks), stressResults)
		}
	})

	t.Run("the fake holds exactly one call result per pushback, with the mapped status", func(t *testing.T) {
		stressCheckFake(t, fk, provider, mapping, contacts, pushbacks)
	})
}

var stressNoteLabel = map[string]string{"SUCCESS": "Success", "PARTIAL": "Partial", "FAILURE": "Failure", "NOT_ANSWERED": "Not answered"}

// stressContact is an imported contact.
type stressContact struct {
	ID, ExternalID, ApplicationID string
}

// stressSetup connects the provider, creates a campaign and configures its
// trigger with pushback and, where the provider takes one, mapping.
func stressSetup(t *testing.T, c *apptest.Client, fk *fakes.Set, provider schematype.ProviderKey, mapping map[string]string) (campaign, trigger string) {
	t.Helper()
	var integ struct {
		ConnectIntegration struct{ ID, Status string }
	}
	c.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		// The fakes enforce no limits, and this test is about crashes,
		// not about an account's pace: the integration's own limit is one
		// the test never reaches.
		map[string]any{"in": map[string]any{"provider": provider, "name": string(provider), "credentials": fk.Credentials(provider),
			"rateLimit": map[string]any{"requests": 100000, "intervalSeconds": 1, "searchesPerSecond": 1000}}}, &integ)
	if integ.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("connecting %s: status %s", provider, integ.ConnectIntegration.Status)
	}
	var camp struct{ CreateCampaign struct{ ID string } }
	c.MustDo(t, `mutation { createCampaign(input: {name: "stress"}) { id } }`, nil, &camp)
	var trig struct {
		ConfigureTrigger struct {
			ID              string
			PushbackEnabled bool
		}
	}
	in := map[string]any{
		"campaignID": camp.CreateCampaign.ID, "integrationID": integ.ConnectIntegration.ID, "enabled": true,
		"pushbackEnabled": true, "syncIntervalSeconds": 30 * 24 * 3600, // the longest interval: no scheduled run meanwhile
	}
	var want map[string]any
	if mapping != nil {
		want = map[string]any{
			"success": mapping["SUCCESS"], "partial": mapping["PARTIAL"],
			"failure": mapping["FAILURE"], "notAnswered": mapping["NOT_ANSWERED"],
		}
		in["statusMapping"] = want
	}
	c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id pushbackEnabled } }`,
		map[string]any{"in": in}, &trig)
	if !trig.ConfigureTrigger.PushbackEnabled {
		t.Fatalf("configureTrigger answered %+v", trig.ConfigureTrigger)
	}
	var stored struct {
		Node struct {
			StatusMapping map[string]any
		}
	}
	c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { statusMapping { success partial failure notAnswered } } } }`,
		map[string]any{"id": trig.ConfigureTrigger.ID}, &stored)
	if mapping != nil && fmt.Sprint(stored.Node.StatusMapping) != fmt.Sprint(want) {
		t.Fatalf("the trigger's status mapping is %v, want %v", stored.Node.StatusMapping, want)
	}
	return camp.CreateCampaign.ID, trig.ConfigureTrigger.ID
}

// stressSync runs a test sync of the trigger, waits for it to succeed and
// returns the campaign's contacts ordered by external ID.
func stressSync(t *testing.T, c *apptest.Client, data sandbox.Dataset, provider schematype.ProviderKey, campaign, trigger string) []stressContact {
	t.Helper()
	var started struct{ TestSync struct{ ID string } }
	c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trigger}, &started)
	deadline := time.Now().Add(time.Minute)
	for {
		var run struct {
			Node struct {
				Status   string
				Imported int
				Error    *string
			}
		}
		c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { status imported error } } }`,
			map[string]any{"id": started.TestSync.ID}, &run)
		switch run.Node.Status {
		case "SUCCEEDED":
		case "QUEUED", "RUNNING":
			if time.Now().After(deadline) {
				t.Fatalf("the test sync is still %s after a minute", run.Node.Status)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		default:
			t.Fatalf("the test sync ended %s: %v", run.Node.Status, run.Node.Error)
		}
		break
	}
	var out []stressContact
	after := any(nil)
	for {
		var page struct {
			Node struct {
				Contacts struct {
					Edges []struct {
						Node struct {
							ID, ExternalID string
							Attributes     map[string]any
						}
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		c.MustDo(t, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on Campaign {
			contacts(first: 100, after: $after) { edges { node { id externalID attributes } } pageInfo { hasNextPage endCursor } } } } }`,
			map[string]any{"id": campaign, "after": after}, &page)
		for _, e := range page.Node.Contacts.Edges {
			app, _ := e.Node.Attributes["applicationId"].(string)
			out = append(out, stressContact{ID: e.Node.ID, ExternalID: e.Node.ExternalID, ApplicationID: app})
		}
		if !page.Node.Contacts.PageInfo.HasNextPage {
			break
		}
		after = page.Node.Contacts.PageInfo.EndCursor
	}
	slices.SortFunc(out, func(a, b stressContact) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	for _, con := range out {
		if provider == schematype.ProviderHubSpot {
			break // contacts, not applications
		}
		i, ok := data.IndexOf(con.ExternalID)
		if want := atsfake.ApplicationID(data, i); !ok || con.ApplicationID != want {
			t.Fatalf("contact %s (candidate %s) has application %q, want %q", con.ID, con.ExternalID, con.ApplicationID, want)
		}
	}
	return out
}

// stressRecord records call result i for a contact, retrying with the
// same idempotency key while the server cannot be reached (it was killed
// and is being restarted). It returns the call result's ID and how many
// attempts failed.
func stressRecord(c *apptest.Client, contactID string, i int, mapping map[string]string, deadline time.Time) (string, int, error) {
	outcome := stressOutcomes[i%4]
	body, _ := json.Marshal(map[string]any{
		"query": `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { id outcome pushback { status mappedStatus } } }`,
		"variables": map[string]any{"in": map[string]any{
			"contactID": contactID, "outcome": outcome,
			"transcript":      fmt.Sprintf("Agent: Hello, this is call %d.\nCandidate: Hi.", i),
			"questionResults": []map[string]string{{"question": "Available from?", "answer": "next month"}},
			"calledAt":        time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
			"durationSeconds": 60 + i%120,
			"idempotencyKey":  fmt.Sprintf("stress-%04d", i),
		}},
	})
	failed := 0
	for {
		raw, status, err := stressPost(c, body)
		if err != nil {
			// The server is down: the same key again, until it is back.
			failed++
			if time.Now().After(deadline) {
				return "", failed, fmt.Errorf("still failing at the deadline: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var out struct {
			Data struct {
				RecordCallResult struct {
					ID       string
					Outcome  string
					Pushback *struct{ Status, MappedStatus string }
				}
			}
			Errors []apptest.Error
		}
		if err := json.Unmarshal(raw, &out); err != nil || status != http.StatusOK || len(out.Errors) > 0 {
			return "", failed, fmt.Errorf("HTTP %d: %s", status, raw)
		}
		r := out.Data.RecordCallResult
		if r.ID == "" || r.Outcome != outcome || r.Pushback == nil || r.Pushback.MappedStatus != mapping[outcome] {
			return "", failed, fmt.Errorf("recordCallResult answered %s", raw)
		}
		return r.ID, failed, nil
	}
}

// stressPost posts a GraphQL request; err is a transport failure.
func stressPost(c *apptest.Client, body []byte) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	return raw, resp.StatusCode, nil
}

// stressBuild builds the intake binary into a temporary directory.
func stressBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "intake")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/intake/intake")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func stressFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func stressKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func stressAPIKey(t *testing.T, bin string, env []string) string {
	t.Helper()
	cmd := exec.Command(bin, "apikey", "create", "--org", "stress")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("intake apikey create: %v\n%s", err, stderr.Bytes())
	}
	key := strings.TrimSpace(string(out))
	if !strings.HasPrefix(key, "ik_") {
		t.Fatalf("intake apikey create printed %q", out)
	}
	return key
}

// stressServer is a running `intake serve`.
type stressServer struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when it exited; err is then set
	err    error         // the start error, or how it exited
}

func stressStart(t *testing.T, bin string, env []string, addr, log string) *stressServer {
	t.Helper()
	p := stressStartE(bin, env, addr, log)
	if p.err != nil {
		t.Fatal(p.err)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stressStartE starts `intake serve` and waits until it is ready.
func stressStartE(bin string, env []string, addr, log string) *stressServer {
	p := &stressServer{log: log, exited: make(chan struct{})}
	f, err := os.Create(log)
	if err != nil {
		p.err = err
		close(p.exited)
		return p
	}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.err = err
		close(p.exited)
		return p
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-p.exited:
			p.err = fmt.Errorf("intake serve exited while starting: %v\n%s", p.err, stressTail(log))
			return p
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.err = fmt.Errorf("intake serve not ready after a minute\n%s", stressTail(log))
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server gracefully (SIGTERM), or kills it after 30s.
func (p *stressServer) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("intake serve did not stop within 30s of SIGTERM; killing it")
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func stressJobIDs(db *sql.DB, query string, args ...any) ([]int64, error) {
	rows, err := db.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// stressJobStates describes River jobs for a failure message.
func stressJobStates(db *sql.DB, ids []int64) string {
	rows, err := db.Query(`SELECT id, state, attempt, attempted_at, coalesce(array_to_string(attempted_by, ','), '') FROM river_job WHERE id = ANY($1) ORDER BY id LIMIT 5`, pq.Array(ids))
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id int64
		var state, by string
		var attempt int
		var at sql.NullTime
		if err := rows.Scan(&id, &state, &attempt, &at, &by); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "job %d %s (attempt %d, attempted %s ago by %s); ", id, state, attempt, time.Since(at.Time).Round(time.Second), by)
	}
	return b.String()
}

func stressCount(db *sql.DB, query string) int {
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		return -1
	}
	return n
}

func stressPushbackStatuses(db *sql.DB) string {
	rows, err := db.Query(`SELECT status, count(*), max(attempts), max(coalesce(last_error, '')) FROM pushbacks GROUP BY status`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var status, lastErr string
		var n, attempts int
		if err := rows.Scan(&status, &n, &attempts, &lastErr); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "%s: %d (max attempts %d, a last error: %q); ", status, n, attempts, lastErr)
	}
	return b.String()
}

// stressTail returns the end of a log file.
func stressTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func stressFirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
