package engine_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/sync/sandbox"
)

// crashSize is how many people the sandbox serves. The HubSpot talent pool
// search fetches every one of them, 200 a page, paced by the rate budget
// to the sandbox's Free account (4 searches a second, 100 requests per
// 10 s): a run of 40,000 takes at least 50 s, about 100 s on 2 loaded
// cores, so it is still mid-sync at every stop even if a graceful stop lets
// it work on for River's 5s soft phase; and the sandbox's hourly people
// still fit in 3650 days, HubSpot's largest daysSinceLastChange.
const crashSize = 40_000

// crashStop is how a serve process is stopped mid-sync.
type crashStop string

const (
	crashKill crashStop = "SIGKILL"
	crashTerm crashStop = "SIGTERM"
)

var (
	// crashHubSpot is the HubSpot fake's lines of `intake sandbox` (see
	// runSandbox in main.go).
	crashHubSpot = regexp.MustCompile(`(?m)^HUBSPOT\s+(http://127\.0\.0\.1:\d+/hubspot)\n\s+credentials: (\{[^\n]*\})\n`)
	// crashListening is serve's JSON log line once it accepts requests.
	crashListening = regexp.MustCompile(`"msg":"intake listening","addr":"(127\.0\.0\.1:\d+)"`)
)

// TestCrashSafety runs the real binary: `intake sandbox` and `intake serve`
// as child processes, a talent pool sync of every sandbox person, and the
// serve process stopped mid-sync (SIGKILL, or SIGTERM) and started again on
// the same database. The run must resume from its checkpoint and the
// campaign end with exactly the contacts an uninterrupted run gives.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the intake binary and kills real processes; skipped under -short")
	}
	bin := apptest.BuildIntake(t, t.TempDir())
	for _, tc := range []struct {
		name  string
		dia   string
		stops []crashStop
	}{
		// At most two stops per run: each one River counts as a failed
		// attempt backs the next attempt off (1s, 16s, then 81s). The
		// graceful stop is on PostgreSQL, where a run moves slowest, should
		// the stop let it work on for a while.
		{"postgres/a run stopped gracefully then killed mid-sync resumes and loses nothing", dialect.Postgres, []crashStop{crashTerm, crashKill}},
		{"sqlite/a run killed twice mid-sync resumes and loses nothing", dialect.SQLite, []crashStop{crashKill, crashKill}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			crashScenario(t, bin, tc.dia, tc.stops)
		})
	}
}

// crashRun is a sync run as the GraphQL API shows it.
type crashRun struct {
	Status       string
	Fetched      int
	Imported     int
	Duplicates   int
	InvalidPhone int
	FilteredOut  int
	Failed       int
	Error        *string
}

func (r crashRun) String() string {
	e := "<nil>"
	if r.Error != nil {
		e = strconv.Quote(*r.Error)
	}
	return fmt.Sprintf("%s fetched=%d imported=%d duplicates=%d invalidPhone=%d filteredOut=%d failed=%d error=%s",
		r.Status, r.Fetched, r.Imported, r.Duplicates, r.InvalidPhone, r.FilteredOut, r.Failed, e)
}

func (r crashRun) finished() bool {
	switch r.Status {
	case "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED":
		return true
	}
	return false
}

const crashRunQuery = `query($id: ID!) { node(id: $id) { ... on SyncRun {
	status fetched imported duplicates invalidPhone filteredOut failed error } } }`

// crashReadRun reads a run over GraphQL; a server that is down or an error
// answer is an error, not a failure.
func crashReadRun(cl *apptest.Client, runID string) (crashRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.DoTolerant(ctx, crashRunQuery, map[string]any{"id": runID})
	if err != nil {
		return crashRun{}, err
	}
	if len(resp.Errors) > 0 {
		return crashRun{}, fmt.Errorf("GraphQL errors: %+v", resp.Errors)
	}
	var out struct{ Node *crashRun }
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		return crashRun{}, err
	}
	if out.Node == nil {
		return crashRun{}, fmt.Errorf("run %s not found", runID)
	}
	return *out.Node, nil
}

// crashEventually polls cond until it holds, failing the test with the last
// state cond described when timeout passes.
func crashEventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashPrediction is what a sync of the whole data set must end with,
// computed from the Dataset `intake sandbox` serves (main.go: Seed 1, Step
// 1h, anchored at now, which moves dates only).
type crashPrediction struct {
	numbers                            map[string]bool // the unique valid E.164 numbers
	duplicates, missing, invalidPhones int
}

func crashPredict(size int) crashPrediction {
	data := sandbox.Dataset{Seed: 1, Size: size, Step: time.Hour}
	p := crashPrediction{numbers: map[string]bool{}}
	for i := range size {
		switch data.Kind(i) {
		case sandbox.PhoneValid:
			e164 := data.Person(i).E164
			if p.numbers[e164] {
				p.duplicates++ // not expected: the data set promises unique numbers
			}
			p.numbers[e164] = true
		case sandbox.PhoneDuplicate:
			p.duplicates++
		case sandbox.PhoneMissing:
			p.missing++
		case sandbox.PhoneInvalid:
			p.invalidPhones++
		}
	}
	return p
}

// crashDB reads the database the serve processes share, directly.
type crashDB struct {
	db  *sql.DB
	dia string
}

// ph is the i-th placeholder of the dialect.
func (d crashDB) ph(i int) string {
	if d.dia == dialect.Postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// job describes the River job of a run, for failure messages.
func (d crashDB) job(runID string) string {
	var state string
	var attempt int
	err := d.db.QueryRow(`SELECT j.state, j.attempt FROM river_job j JOIN sync_runs r ON r.job_id = j.id WHERE r.id = `+d.ph(1), runID).
		Scan(&state, &attempt)
	if err != nil {
		return "its River job: " + err.Error()
	}
	return fmt.Sprintf("its River job is %s (attempt %d)", state, attempt)
}

func (d crashDB) leaseOwner(t *testing.T, runID string) string {
	t.Helper()
	var owner sql.NullString
	if err := d.db.QueryRow(`SELECT lease_owner FROM sync_runs WHERE id = `+d.ph(1), runID).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	return owner.String
}

// crashSnapshot is a run's checkpoint and the rows its pages wrote.
type crashSnapshot struct {
	status, owner                       string
	fetched, imported, contacts, issues int
}

// snapshot reads a run's checkpoint and counts the campaign's contacts and
// the run's issues in one statement, so in one snapshot of the database.
func (d crashDB) snapshot(t *testing.T, runID, campaignID string) crashSnapshot {
	t.Helper()
	var s crashSnapshot
	var owner sql.NullString
	err := d.db.QueryRow(`SELECT status, lease_owner, fetched, imported,
		(SELECT count(*) FROM contacts WHERE campaign_id = `+d.ph(1)+`),
		(SELECT count(*) FROM import_issues WHERE run_id = `+d.ph(2)+`)
		FROM sync_runs WHERE id = `+d.ph(3), campaignID, runID, runID).
		Scan(&s.status, &owner, &s.fetched, &s.imported, &s.contacts, &s.issues)
	if err != nil {
		t.Fatal(err)
	}
	s.owner = owner.String
	return s
}

func (d crashDB) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (d crashDB) strings(t *testing.T, query string, args ...any) []string {
	t.Helper()
	rows, err := d.db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// crashFirst returns at most n of s, for messages.
func crashFirst(s []string, n int) []string { return s[:min(n, len(s))] }

func crashScenario(t *testing.T, bin, dia string, stops []crashStop) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	vars := map[string]string{
		"INTAKE_DATA_DIR":         dataDir,
		"INTAKE_ENCRYPTION_KEY":   base64.StdEncoding.EncodeToString(key),
		"INTAKE_LOG_FORMAT":       "json",
		"INTAKE_LOG_LEVEL":        "info",
		"INTAKE_ADDR":             "127.0.0.1:0", // the port is read from the "intake listening" log line
		"INTAKE_SYNC_LEASE":       "3s",
		"INTAKE_JOB_RESCUE_AFTER": "4s",
		"INTAKE_SYNC_WORKERS":     "2",
		// The sandbox fakes listen on loopback, which the default refuses.
		"INTAKE_EGRESS_ALLOW": "127.0.0.1/32",
	}
	var dbURL string
	if dia == dialect.Postgres {
		dbURL = dbtest.Empty(t, dia).URL
		vars["DATABASE_URL"] = dbURL
	}
	env := apptest.ChildEnv(vars)

	// The sandbox fakes, in their own process for the whole test.
	sb := apptest.StartChild(t, "intake sandbox", bin, apptest.ChildEnv(map[string]string{
		"INTAKE_SANDBOX_ADDR": "127.0.0.1:0", "INTAKE_LOG_LEVEL": "info",
	}), "sandbox", "--size", strconv.Itoa(crashSize))
	m := sb.WaitOutput(t, false, crashHubSpot, 30*time.Second)
	var creds map[string]string
	if err := json.Unmarshal([]byte(m[2]), &creds); err != nil {
		t.Fatalf("sandbox credentials %s: %v", m[2], err)
	}
	if creds["baseURL"] != m[1] || creds["accessToken"] == "" {
		t.Fatalf("sandbox HubSpot credentials %v do not point at %s", creds, m[1])
	}

	apiKey := strings.TrimSpace(apptest.RunIntake(t, bin, env, "apikey", "create", "--org", "crash-safety"))
	if !strings.HasPrefix(apiKey, "ik_") || strings.ContainsAny(apiKey, " \n") {
		t.Fatalf("apikey create printed %q, not one key", apiKey)
	}

	serves := 0
	startServe := func() (*apptest.Child, *apptest.Client) {
		serves++
		c := apptest.StartChild(t, fmt.Sprintf("intake serve #%d", serves), bin, env, "serve")
		m := c.WaitOutput(t, true, crashListening, time.Minute)
		return c, &apptest.Client{URL: "http://" + m[1], Key: apiKey}
	}
	serve, cl := startServe()

	st, err := store.Open(context.Background(), dbURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db := crashDB{db: st.DB, dia: st.Dialect}

	// Connect HubSpot, create a campaign and a trigger whose talent pool
	// research reaches back past the oldest person, and start a run.
	var integ struct{ ConnectIntegration struct{ ID, Status string } }
	cl.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": "HUBSPOT", "name": "HubSpot sandbox", "credentials": creds}}, &integ)
	if integ.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("integration status %s, want CONNECTED", integ.ConnectIntegration.Status)
	}
	var camp struct{ CreateCampaign struct{ ID string } }
	cl.MustDo(t, `mutation($in: CreateCampaignInput!) { createCampaign(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Crash safety", "phoneRegion": "DE"}}, &camp)
	days := crashSize/24 + 2 // person 0 was last changed (crashSize-1)h - 6h ago
	if days > 3650 {
		t.Fatalf("crashSize %d needs daysSinceLastChange %d, above HubSpot's maximum 3650", crashSize, days)
	}
	var trig struct{ ConfigureTrigger struct{ ID string } }
	cl.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"campaignID": camp.CreateCampaign.ID, "integrationID": integ.ConnectIntegration.ID, "enabled": true,
			"searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": days},
			"syncIntervalSeconds": 86400,
		}}, &trig)
	var started struct{ TestSync struct{ ID, Status string } }
	cl.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id status } }`,
		map[string]any{"id": trig.ConfigureTrigger.ID}, &started)
	runID := started.TestSync.ID
	if runID == "" {
		t.Fatal("testSync returned no run")
	}

	// Stop the serve process mid-sync, each time after the run made
	// progress under the current process, and start another.
	// Stop the serve process mid-sync, each time after it took the run's
	// lease and moved the run on, and start another. Progress is measured
	// from when this process took over: a page the previous process
	// committed just as it was killed may land after the kill.
	prevOwner := ""
	for i, stop := range stops {
		what := fmt.Sprintf("run %s RUNNING with imported > 0, leased to %s and moved on under it, before %s #%d",
			runID, serve.Name, stop, i+1)
		base := -1
		crashEventually(t, 2*time.Minute, what, func() (bool, string) {
			r, err := crashReadRun(cl, runID)
			if err != nil {
				return false, err.Error()
			}
			if r.finished() {
				t.Fatalf("%s: the run ended first (%s); crashSize is too small to interrupt it", what, r)
			}
			owner := db.leaseOwner(t, runID)
			if owner == "" || owner == prevOwner {
				return false, fmt.Sprintf("%s; lease owner %q (the stopped process was %q)", r, owner, prevOwner)
			}
			if base < 0 {
				base = r.Fetched
			}
			state := fmt.Sprintf("%s; lease owner %q since fetched=%d", r, owner, base)
			return r.Status == "RUNNING" && r.Imported > 0 && r.Fetched > base, state
		})
		switch stop {
		case crashKill:
			serve.Kill(t)
		case crashTerm:
			if code := serve.Terminate(t, time.Minute); code != 0 {
				t.Fatalf("%s exited with %d after SIGTERM, want 0", serve.Name, code)
			}
		}

		// Nothing runs now: what is committed is what a restart finds. One
		// statement, so one snapshot even if a last commit lands meanwhile.
		snap := db.snapshot(t, runID, camp.CreateCampaign.ID)
		if snap.status != "RUNNING" || snap.fetched >= crashSize {
			t.Fatalf("after %s #%d the run is %s with fetched=%d of %d: it was not interrupted mid-sync (raise crashSize)",
				stop, i+1, snap.status, snap.fetched, crashSize)
		}
		if snap.contacts != snap.imported || snap.issues != snap.fetched-snap.imported {
			t.Fatalf("after %s #%d: %d contacts and %d import issues, but the checkpoint says imported=%d fetched=%d: "+
				"a page's rows and its checkpoint were not committed together", stop, i+1, snap.contacts, snap.issues, snap.imported, snap.fetched)
		}
		t.Logf("%s #%d of %s (lease owner %s) at fetched=%d imported=%d", stop, i+1, serve.Name, snap.owner, snap.fetched, snap.imported)
		prevOwner = snap.owner
		serve, cl = startServe()
	}

	var final crashRun
	// The rest of the run at the account's pace, with room for a loaded
	// machine.
	crashEventually(t, 4*time.Minute, fmt.Sprintf("run %s ends under %s", runID, serve.Name), func() (bool, string) {
		r, err := crashReadRun(cl, runID)
		if err != nil {
			return false, err.Error()
		}
		final = r
		return r.finished(), r.String() + "; " + db.job(runID)
	})
	t.Logf("run %s ended: %s", runID, final)
	want := crashPredict(crashSize)
	wantImported := len(want.numbers)

	t.Run("the run succeeded", func(t *testing.T) {
		if final.Status != "SUCCEEDED" || final.Error != nil {
			t.Fatalf("run: %s, want SUCCEEDED without error", final)
		}
	})
	t.Run("every person was fetched exactly once", func(t *testing.T) {
		if final.Fetched != crashSize {
			t.Fatalf("fetched=%d, want %d", final.Fetched, crashSize)
		}
	})
	t.Run("the counters add up and match the data set", func(t *testing.T) {
		sum := final.Imported + final.Duplicates + final.InvalidPhone + final.FilteredOut + final.Failed
		if sum != final.Fetched {
			t.Errorf("imported+duplicates+invalidPhone+filteredOut+failed = %d, fetched = %d", sum, final.Fetched)
		}
		if final.Imported != wantImported || final.Duplicates != want.duplicates ||
			final.InvalidPhone != want.missing+want.invalidPhones || final.FilteredOut != 0 || final.Failed != 0 {
			t.Errorf("run: %s; the data set predicts imported=%d duplicates=%d invalidPhone=%d filteredOut=0 failed=0",
				final, wantImported, want.duplicates, want.missing+want.invalidPhones)
		}
	})
	t.Run("the campaign has exactly the unique valid numbers of the data set", func(t *testing.T) {
		var got struct {
			Node struct{ Contacts struct{ TotalCount int } }
		}
		cl.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts { totalCount } } } }`,
			map[string]any{"id": camp.CreateCampaign.ID}, &got)
		if n := got.Node.Contacts.TotalCount; n != wantImported || n != final.Imported {
			t.Errorf("contacts totalCount=%d, run imported=%d, data set predicts %d", n, final.Imported, wantImported)
		}
		var missing, extra []string
		have := map[string]bool{}
		for _, e164 := range db.strings(t, `SELECT phone_e164 FROM contacts WHERE campaign_id = `+db.ph(1), camp.CreateCampaign.ID) {
			have[e164] = true
			if !want.numbers[e164] {
				extra = append(extra, e164)
			}
		}
		for e164 := range want.numbers {
			if !have[e164] {
				missing = append(missing, e164)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%d predicted numbers missing (e.g. %q), %d unexpected (e.g. %q)", len(missing), crashFirst(missing, 5), len(extra), crashFirst(extra, 5))
		}
	})
	t.Run("every record not imported left one import issue with the right code", func(t *testing.T) {
		var got struct {
			Node struct{ Issues struct{ TotalCount int } }
		}
		cl.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { issues { totalCount } } } }`,
			map[string]any{"id": runID}, &got)
		if n := got.Node.Issues.TotalCount; n != final.Fetched-final.Imported {
			t.Errorf("issues totalCount=%d, want fetched-imported = %d", n, final.Fetched-final.Imported)
		}
		for code, n := range map[string]int{
			"DUPLICATE": want.duplicates, "MISSING_PHONE": want.missing, "INVALID_PHONE": want.invalidPhones,
			"FILTERED_OUT": 0, "INVALID_RECORD": 0,
		} {
			if got := db.count(t, `SELECT count(*) FROM import_issues WHERE run_id = `+db.ph(1)+` AND code = `+db.ph(2), runID, code); got != n {
				t.Errorf("%d %s issues, the data set predicts %d", got, code, n)
			}
		}
	})
	t.Run("every person ends as exactly one contact or one import issue", func(t *testing.T) {
		seen := map[string]int{}
		for _, id := range db.strings(t, `SELECT external_id FROM contacts WHERE campaign_id = `+db.ph(1)+
			` UNION ALL SELECT external_id FROM import_issues WHERE run_id = `+db.ph(2), camp.CreateCampaign.ID, runID) {
			seen[id]++
		}
		data := sandbox.Dataset{Seed: 1, Size: crashSize, Step: time.Hour}
		var bad []string
		for i := range crashSize {
			if n := seen[data.ExternalID(i)]; n != 1 {
				bad = append(bad, fmt.Sprintf("%s×%d", data.ExternalID(i), n))
			}
			delete(seen, data.ExternalID(i))
		}
		for id, n := range seen {
			bad = append(bad, fmt.Sprintf("unknown %s×%d", id, n))
		}
		if len(bad) > 0 {
			t.Errorf("%d people do not end as exactly one contact or issue, e.g. %q", len(bad), crashFirst(bad, 10))
		}
	})
	t.Run("no E.164 number appears twice", func(t *testing.T) {
		if dups := db.strings(t, `SELECT phone_e164 FROM contacts GROUP BY phone_e164 HAVING count(*) > 1`); len(dups) > 0 {
			t.Errorf("%d numbers appear more than once, e.g. %q", len(dups), crashFirst(dups, 10))
		}
	})
}
