package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// TestRateBudget checks over HTTP, on both databases, an integration's
// rate limit and budget: the limit is validated and kept, a sync against a
// HubSpot fake that enforces its limits is paced so the fake refuses
// nothing, the run says while it waits for the budget, rateBudget reports
// what was spent, and without its own limit the integration follows what
// the account's answers say.
func TestRateBudget(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			data := syncNow(107, 1000) // five searches of 200
			fk := apptest.StartSyncFakes(t, data, nil)
			// The account allows 3 requests per 2 s; the integration is
			// set to spend 2 per 5 s. A request waits for the one two
			// before it to have ended 5 s ago: 5 s less the time the run
			// took to import a page and fetch the next, which on a busy
			// machine can exceed a second, so a tighter interval would
			// leave waits shorter than ratebudget.Noticeable.
			fk.HubSpot.SetLimits(&hubspotfake.Limits{Requests: 3, Interval: 2 * time.Second})
			e := syncNewEnv(t, app)

			const connect = `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) {
				id status rateLimit { requests intervalSeconds searchesPerSecond daily } } }`
			in := func(rl map[string]any) map[string]any {
				return map[string]any{"in": map[string]any{"provider": "HUBSPOT", "name": "rated", "credentials": fk.Credentials(schematype.ProviderHubSpot), "rateLimit": rl}}
			}
			for _, bad := range []struct {
				rl    map[string]any
				field string
			}{
				{map[string]any{"requests": 0, "intervalSeconds": 10}, "input.rateLimit.requests"},
				{map[string]any{"requests": 10, "intervalSeconds": 0}, "input.rateLimit.intervalSeconds"},
				{map[string]any{"requests": 10, "intervalSeconds": 10, "daily": -1}, "input.rateLimit.daily"},
			} {
				if r := e.c.Do(t, connect, in(bad.rl)); r.Code() != "VALIDATION_FAILED" || r.Field() != bad.field {
					t.Errorf("rateLimit %v: %s on %q, want VALIDATION_FAILED on %s", bad.rl, r.Code(), r.Field(), bad.field)
				}
			}
			var conn struct {
				ConnectIntegration struct {
					ID, Status string
					RateLimit  *struct{ Requests, IntervalSeconds, SearchesPerSecond, Daily int }
				}
			}
			e.c.MustDo(t, connect, in(map[string]any{"requests": 2, "intervalSeconds": 5}), &conn)
			integ := conn.ConnectIntegration
			if integ.Status != "CONNECTED" || integ.RateLimit == nil || integ.RateLimit.Requests != 2 || integ.RateLimit.IntervalSeconds != 5 {
				t.Fatalf("connected %+v", integ)
			}

			type budget struct {
				LimitPerMinute, UsedLastMinute int
				ThrottledSecondsLastHour       float64
				DailyRemaining                 *int
			}
			readBudget := func() budget {
				var got struct {
					Node struct{ RateBudget budget }
				}
				e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Integration { rateBudget {
					limitPerMinute usedLastMinute throttledSecondsLastHour dailyRemaining } } } }`, map[string]any{"id": integ.ID}, &got)
				return got.Node.RateBudget
			}

			// A sync of six requests at 2 per 5 s waits, and says so.
			camp := e.newCampaign(t, "paced")
			run := e.testSync(t, e.trigger(t, camp, integ.ID, nil))
			// Its subscribers are told too: SyncProgress.waitingForBudget.
			ws := app.Connect(t, apptest.TransportWS, e.key)
			ws.Subscribe("progress", `subscription($id: ID!) { syncProgress(runID: $id) { waitingForBudget done } }`, map[string]any{"id": run.ID})
			told := make(chan [2]bool, 1) // told it waits; the last message says it no longer does
			go func() {
				var saw, last bool
				defer func() { told <- [2]bool{saw, last} }()
				for {
					m, err := ws.Read(30 * time.Second)
					if err != nil || m.Type != "next" {
						return
					}
					var d struct {
						Data struct {
							SyncProgress struct{ WaitingForBudget, Done bool }
						}
					}
					if json.Unmarshal(m.Payload, &d) != nil {
						return
					}
					saw = saw || d.Data.SyncProgress.WaitingForBudget
					if d.Data.SyncProgress.Done {
						last = !d.Data.SyncProgress.WaitingForBudget
						return
					}
				}
			}()
			waited := false
			syncEventually(t, "the paced run to end", func() (bool, string) {
				var got struct {
					Node struct {
						Status                string
						Fetched               int
						WaitingForBudgetSince *time.Time
					}
				}
				e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { status fetched waitingForBudgetSince } } }`, map[string]any{"id": run.ID}, &got)
				waited = waited || got.Node.WaitingForBudgetSince != nil
				return got.Node.Status != "QUEUED" && got.Node.Status != "RUNNING", got.Node.Status
			})
			if end := e.run(t, run.ID); end.Status != "SUCCEEDED" || end.Fetched != data.Size {
				t.Fatalf("the paced run ended %s", end)
			}
			if !waited {
				t.Error("the run never said it was waiting for the rate budget")
			}
			if got := <-told; !got[0] || !got[1] {
				t.Errorf("syncProgress: told it waits %v, and at the end that it no longer does %v; want both", got[0], got[1])
			}
			if st := fk.HubSpot.LimitStats(); st.Refused != 0 || st.Served < 6 {
				t.Errorf("the fake served %d and refused %d requests, want none refused", st.Served, st.Refused)
			}
			b := readBudget()
			if b.LimitPerMinute != 24 || b.UsedLastMinute < 6 || b.ThrottledSecondsLastHour <= 0 || b.DailyRemaining != nil {
				t.Errorf("rateBudget %+v, want 24 a minute, at least 6 used, some throttling, no daily limit", b)
			}

			// Back to the provider's default: the account's own answers
			// (3 per 2 s) rule, with HubSpot's daily limit.
			var set struct {
				SetIntegrationRateLimit struct{ RateLimit *struct{ Requests int } }
			}
			e.c.MustDo(t, `mutation($id: ID!) { setIntegrationRateLimit(id: $id, rateLimit: null) { rateLimit { requests } } }`, map[string]any{"id": integ.ID}, &set)
			if set.SetIntegrationRateLimit.RateLimit != nil {
				t.Errorf("rateLimit %+v after setting null", set.SetIntegrationRateLimit.RateLimit)
			}
			if b := readBudget(); b.LimitPerMinute != 90 || b.DailyRemaining == nil || *b.DailyRemaining > 250000-6 {
				t.Errorf("rateBudget %+v, want the account's 90 a minute and HubSpot's daily limit less what was spent", b)
			}
			for _, bad := range []struct {
				vars  map[string]any
				code  string
				field string
			}{
				{map[string]any{"id": integ.ID, "rl": map[string]any{"requests": 5, "intervalSeconds": 100000}}, "VALIDATION_FAILED", "rateLimit.intervalSeconds"},
				{map[string]any{"id": "int_01M95XZCQEW10DGM0DCSGBQZ6A", "rl": nil}, "NOT_FOUND", "id"},
			} {
				r := e.c.Do(t, `mutation($id: ID!, $rl: RateLimitInput) { setIntegrationRateLimit(id: $id, rateLimit: $rl) { id } }`, bad.vars)
				if r.Code() != bad.code || r.Field() != bad.field {
					t.Errorf("%v: %s on %q, want %s on %s", bad.vars, r.Code(), r.Field(), bad.code, bad.field)
				}
			}
		})
	}
}
