package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

type cfgRef struct {
	ID         string `json:"id"`
	ExternalID string `json:"externalID"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type cfgMapping struct {
	Success     string `json:"success"`
	Partial     string `json:"partial"`
	Failure     string `json:"failure"`
	NotAnswered string `json:"notAnswered"`
}

type cfgTrigger struct {
	ID                  string         `json:"id"`
	Enabled             bool           `json:"enabled"`
	SearchType          string         `json:"searchType"`
	SearchParams        map[string]any `json:"searchParams"`
	Description         string         `json:"description"`
	References          []cfgRef       `json:"references"`
	PushbackEnabled     bool           `json:"pushbackEnabled"`
	StatusMapping       *cfgMapping    `json:"statusMapping"`
	SyncIntervalSeconds int            `json:"syncIntervalSeconds"`
	LastSyncAt          *string        `json:"lastSyncAt"`
	NextSyncAt          *string        `json:"nextSyncAt"`
	CreatedAt           string         `json:"createdAt"`
	UpdatedAt           string         `json:"updatedAt"`
	LastRun             *struct {
		ID string `json:"id"`
	} `json:"lastRun"`
	Campaign struct {
		ID string `json:"id"`
	} `json:"campaign"`
	Integration struct {
		ID string `json:"id"`
	} `json:"integration"`
}

// config returns tr's configuration: tr without the state the sync engine
// changes on its own (lastSyncAt, nextSyncAt, lastRun and with them
// updatedAt), with createdAt at microsecond precision (cfgNormTime). The
// engine syncs enabled triggers in the background, so only this part can be
// compared across reads.
func (tr cfgTrigger) config() cfgTrigger {
	tr.CreatedAt = cfgNormTime(tr.CreatedAt)
	tr.UpdatedAt, tr.LastSyncAt, tr.NextSyncAt, tr.LastRun = "", nil, nil, nil
	return tr
}

// cfgConfigs is config of every trigger.
func cfgConfigs(trs []cfgTrigger) []cfgTrigger {
	out := make([]cfgTrigger, len(trs))
	for i, tr := range trs {
		out[i] = tr.config()
	}
	return out
}

// cfgTriggerOwnFields are a trigger's fields other than its ent edges.
const cfgTriggerOwnFields = `id enabled searchType searchParams description
	references { id externalID kind name } pushbackEnabled
	syncIntervalSeconds lastSyncAt nextSyncAt createdAt updatedAt lastRun { id }`

// cfgTriggerFields are every field of a trigger that configuration sets.
const cfgTriggerFields = cfgTriggerOwnFields + `
	statusMapping { success partial failure notAnswered } campaign { id } integration { id }`

// cfgConfigure asks configureTrigger's answer for the trigger's own fields
// only, and the tests read the edges (campaign, integration, statusMapping)
// back through Campaign.triggers: the edges of the answer itself are tested
// by one subtest, so that a failure there does not hide every other rule.
const cfgConfigure = `mutation($input: ConfigureTriggerInput!) { configureTrigger(input: $input) { ` + cfgTriggerOwnFields + ` } }`

const cfgConfigureFull = `mutation($input: ConfigureTriggerInput!) { configureTrigger(input: $input) { ` + cfgTriggerFields + ` } }`

// cfgTriggerInput is configureTrigger's variables: fields plus the two IDs.
func cfgTriggerInput(campaignID, integrationID string, fields map[string]any) map[string]any {
	in := map[string]any{"campaignID": campaignID, "integrationID": integrationID}
	maps.Copy(in, fields)
	return map[string]any{"input": in}
}

// cfgConfigureOK configures a trigger, which must succeed, and returns it
// as stored. What configureTrigger answered must equal what is stored.
func cfgConfigureOK(t *testing.T, c *apptest.Client, campaignID, integrationID string, fields map[string]any) cfgTrigger {
	t.Helper()
	var got struct{ ConfigureTrigger cfgTrigger }
	c.MustDo(t, cfgConfigure, cfgTriggerInput(campaignID, integrationID, fields), &got)
	answer := got.ConfigureTrigger
	if answer.ID == "" {
		t.Fatalf("configureTrigger returned %s", cfgJSON(answer))
	}
	for _, tr := range cfgTriggers(t, c, campaignID) {
		if tr.ID != answer.ID {
			continue
		}
		if tr.Campaign.ID != campaignID || tr.Integration.ID != integrationID {
			t.Fatalf("trigger %s belongs to campaign %s and integration %s, want %s and %s",
				tr.ID, tr.Campaign.ID, tr.Integration.ID, campaignID, integrationID)
		}
		answer.StatusMapping, answer.Campaign, answer.Integration = tr.StatusMapping, tr.Campaign, tr.Integration
		if !cfgEqualJSON(answer.config(), tr.config()) {
			t.Fatalf("stored trigger %s\nconfigureTrigger answered %s", cfgJSON(tr), cfgJSON(answer))
		}
		return tr
	}
	t.Fatalf("trigger %s is not among campaign %s's triggers", answer.ID, campaignID)
	return cfgTrigger{}
}

// cfgTriggers returns Campaign.triggers, read through the campaigns
// connection (not node, which has tests of its own).
func cfgTriggers(t *testing.T, c *apptest.Client, campaignID string) []cfgTrigger {
	t.Helper()
	var got struct {
		Campaigns struct {
			Edges []struct {
				Node struct{ Triggers []cfgTrigger }
			}
		}
	}
	c.MustDo(t, `query($id: ID!) { campaigns(where: {id: $id}) { edges { node { triggers { `+cfgTriggerFields+` } } } } }`,
		map[string]any{"id": campaignID}, &got)
	if len(got.Campaigns.Edges) != 1 {
		t.Fatalf("campaign %s: %d found", campaignID, len(got.Campaigns.Edges))
	}
	return got.Campaigns.Edges[0].Node.Triggers
}

// cfgPost is apptest.Client.Do for goroutines other than the test's: it
// returns errors instead of failing the test.
func cfgPost(c *apptest.Client, query string, vars map[string]any) (apptest.Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return apptest.Response{}, err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
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

// cfgMappingInput is a full status mapping.
func cfgMappingInput() map[string]any {
	return map[string]any{"success": "accepted", "partial": "interview", "failure": "rejected", "notAnswered": "unreachable"}
}

// cfgTriggerEnv is one organization with an integration of every kind.
type cfgTriggerEnv struct {
	app *apptest.App
	org string
	c   *apptest.Client
	// ints maps a name to an integration ID: zvoove, talention, compleet,
	// hubspot (CONNECTED), talentionError (ERROR), compleetOff (DISCONNECTED).
	ints map[string]string
}

func cfgNewTriggerEnv(t *testing.T, app *apptest.App) *cfgTriggerEnv {
	t.Helper()
	org := "org " + t.Name()
	c := app.Client(app.Key(t, org, schematype.RoleAdmin))
	env := &cfgTriggerEnv{app: app, org: org, c: c, ints: map[string]string{}}
	for name, p := range map[string]schematype.ProviderKey{
		"zvoove": schematype.ProviderZvoove, "talention": schematype.ProviderTalention, "compleet": schematype.ProviderCompleet, "hubspot": schematype.ProviderHubSpot,
	} {
		env.ints[name] = cfgConnectOK(t, app, c, p).ID
	}
	creds := cfgCreds(app, schematype.ProviderTalention)
	creds["apiKey"] = "wrong"
	bad := cfgConnect(t, c, schematype.ProviderTalention, "talention with a wrong key", creds)
	if bad.Status != "ERROR" {
		t.Fatalf("talention with a wrong key: %s", bad.Status)
	}
	env.ints["talentionError"] = bad.ID
	off := cfgConnectOK(t, app, c, schematype.ProviderCompleet)
	var got struct{ DisconnectIntegration cfgIntegration }
	c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { `+cfgIntegrationFields+` } }`, map[string]any{"id": off.ID}, &got)
	if got.DisconnectIntegration.Status != "DISCONNECTED" {
		t.Fatalf("disconnected compleet: %s", got.DisconnectIntegration.Status)
	}
	env.ints["compleetOff"] = off.ID
	return env
}

// cfgBaseline is a valid configuration of each integration, with as many
// settings as the provider allows, so a refused change has much to spoil.
// Baselines are disabled: the refused inputs enable, and the engine leaves
// disabled triggers alone.
var cfgBaseline = map[string]map[string]any{
	"zvoove": {
		"enabled": false, "searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": 30},
		"description": "baseline", "references": []any{map[string]any{"externalID": "1", "kind": "OFFICE", "name": "Berlin Mitte"}},
		"syncIntervalSeconds": 600,
	},
	"talention": {
		"enabled": false, "description": "baseline",
		"references":      []any{map[string]any{"externalID": "job-1", "kind": "JOB", "name": "Pflegefachkraft (m/w/d)"}},
		"pushbackEnabled": true, "statusMapping": cfgMappingInput(), "syncIntervalSeconds": 600,
	},
	"compleet": {
		"enabled": false, "description": "baseline",
		"references":      []any{map[string]any{"externalID": "job-2", "kind": "JOB", "name": "Lagerhelfer (m/w/d)"}},
		"pushbackEnabled": true, "syncIntervalSeconds": 600,
	},
	"hubspot": {
		"enabled": false, "searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": 7},
		"description": "baseline", "references": []any{map[string]any{"externalID": "1", "kind": "LIST", "name": "Warehouse applicants"}},
		"pushbackEnabled": true, "statusMapping": cfgMappingInput(), "syncIntervalSeconds": 600,
	},
	"talentionError": {"enabled": false, "description": "baseline", "syncIntervalSeconds": 600},
	"compleetOff":    {"enabled": false, "description": "baseline", "syncIntervalSeconds": 600},
}

// cfgTestTriggerValidation refuses every invalid configuration, naming its
// field, on a campaign without triggers and on one whose trigger exists.
func cfgTestTriggerValidation(t *testing.T, env *cfgTriggerEnv) {
	ref := func(id, kind string) map[string]any {
		return map[string]any{"externalID": id, "kind": kind, "name": "ref " + id}
	}
	mapping := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	long := apptest.Strings("s", 101)
	talentPool := func(days any) map[string]any {
		return map[string]any{"enabled": true, "searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": days}}
	}
	withPushback := func(m map[string]any) map[string]any {
		return map[string]any{"enabled": true, "pushbackEnabled": true, "statusMapping": m}
	}
	const days = "input.searchParams.daysSinceLastChange"
	cases := []struct {
		name  string
		integ string
		input map[string]any
		field string
	}{
		{"unknown search type", "zvoove", map[string]any{"enabled": true, "searchType": "everything"}, "input.searchType"},
		{"empty search type", "hubspot", map[string]any{"enabled": true, "searchType": ""}, "input.searchType"},
		{"talent pool on a provider without it", "talention", map[string]any{"enabled": true, "searchType": "talent_pool_research"}, "input.searchType"},
		{"talent pool without params", "zvoove", map[string]any{"enabled": true, "searchType": "talent_pool_research"}, days},
		{"talent pool with empty params", "hubspot", map[string]any{"enabled": true, "searchType": "talent_pool_research", "searchParams": map[string]any{}}, days},
		{"talent pool with null days", "zvoove", talentPool(nil), days},
		{"days 0", "zvoove", talentPool(0), days},
		{"days -1", "hubspot", talentPool(-1), days},
		{"days 3651", "zvoove", talentPool(3651), days},
		{"days 3651 hubspot", "hubspot", talentPool(3651), days},
		{"days 1.5", "zvoove", talentPool(1.5), days},
		{"days as a string", "zvoove", talentPool("7"), days},
		{"days as a string hubspot", "hubspot", talentPool("7"), days},
		{"days as a boolean", "zvoove", talentPool(true), days},
		{"days huge", "hubspot", talentPool(1e12), days},
		{"unknown param of new applications", "zvoove", map[string]any{"enabled": true, "searchParams": map[string]any{"foo": 1}}, "input.searchParams.foo"},
		{"unknown param next to a valid one", "zvoove", map[string]any{"enabled": true, "searchType": "talent_pool_research",
			"searchParams": map[string]any{"daysSinceLastChange": 7, "extra": "x"}}, "input.searchParams.extra"},
		{"unknown param on talention", "talention", map[string]any{"enabled": true, "searchParams": map[string]any{"daysSinceLastChange": 7}}, days},
		{"description of 2001 characters", "compleet", map[string]any{"enabled": true, "description": apptest.Strings("d", 2001)}, "input.description"},
		// PostgreSQL cannot store NUL: refused as invalid, not failing inside.
		{"description with a NUL character", "compleet", map[string]any{"enabled": true, "description": "jobs\x00 in Berlin"}, "input.description"},
		{"status name with a NUL character", "talention", withPushback(mapping("success", "a\x00", "partial", "b", "failure", "c", "notAnswered", "d")), "input.statusMapping.success"},
		{"office on talention", "talention", map[string]any{"enabled": true, "references": []any{ref("1", "OFFICE")}}, "input.references[0].kind"},
		{"job on zvoove", "zvoove", map[string]any{"enabled": true, "references": []any{ref("1", "JOB")}}, "input.references[0].kind"},
		{"job on hubspot", "hubspot", map[string]any{"enabled": true, "references": []any{ref("1", "JOB")}}, "input.references[0].kind"},
		{"list on compleet, second reference", "compleet", map[string]any{"enabled": true, "references": []any{ref("job-1", "JOB"), ref("1", "LIST")}}, "input.references[1].kind"},
		{"empty externalID", "talention", map[string]any{"enabled": true, "references": []any{ref("", "JOB")}}, "input.references[0].externalID"},
		{"blank externalID", "zvoove", map[string]any{"enabled": true, "references": []any{ref("   ", "OFFICE")}}, "input.references[0].externalID"},
		{"duplicate reference", "talention", map[string]any{"enabled": true, "references": []any{ref("job-1", "JOB"), ref("job-1", "JOB")}}, "input.references[1]"},
		{"duplicate reference hubspot", "hubspot", map[string]any{"enabled": true, "references": []any{ref("2", "LIST"), ref("2", "LIST")}}, "input.references[1]"},
		{"pushback on zvoove", "zvoove", map[string]any{"enabled": true, "pushbackEnabled": true}, "input.pushbackEnabled"},
		{"pushback on zvoove, disabled trigger", "zvoove", map[string]any{"enabled": false, "pushbackEnabled": true}, "input.pushbackEnabled"},
		{"mapping 1 of 4", "talention", withPushback(mapping("success", "a")), "input.statusMapping.partial"},
		{"mapping 2 of 4", "talention", withPushback(mapping("success", "a", "failure", "c")), "input.statusMapping.partial"},
		{"mapping 3 of 4", "talention", withPushback(mapping("success", "a", "partial", "b", "failure", "c")), "input.statusMapping.notAnswered"},
		{"mapping 3 of 4 without success", "hubspot", withPushback(mapping("partial", "b", "failure", "c", "notAnswered", "d")), "input.statusMapping.success"},
		{"mapping 1 of 4 hubspot", "hubspot", withPushback(mapping("notAnswered", "d")), "input.statusMapping.success"},
		{"mapping with one empty string", "talention", withPushback(mapping("success", "a", "partial", "", "failure", "c", "notAnswered", "d")), "input.statusMapping.partial"},
		{"mapping with one blank", "talention", withPushback(mapping("success", "a", "partial", "b", "failure", "  ", "notAnswered", "d")), "input.statusMapping.failure"},
		{"status name of 101 characters", "talention", withPushback(mapping("success", long, "partial", "b", "failure", "c", "notAnswered", "d")), "input.statusMapping.success"},
		{"last status name of 101 characters", "hubspot", withPushback(mapping("success", "a", "partial", "b", "failure", "c", "notAnswered", long)), "input.statusMapping.notAnswered"},
		{"mapping on compleet", "compleet", withPushback(cfgMappingInput()), "input.statusMapping"},
		{"mapping with pushback off", "talention", map[string]any{"enabled": true, "pushbackEnabled": false, "statusMapping": cfgMappingInput()}, "input.statusMapping"},
		{"mapping without pushback", "hubspot", map[string]any{"enabled": true, "statusMapping": cfgMappingInput()}, "input.statusMapping"},
		{"interval 59", "zvoove", map[string]any{"enabled": true, "syncIntervalSeconds": 59}, "input.syncIntervalSeconds"},
		{"interval 0", "talention", map[string]any{"enabled": true, "syncIntervalSeconds": 0}, "input.syncIntervalSeconds"},
		{"interval -900", "hubspot", map[string]any{"enabled": true, "syncIntervalSeconds": -900}, "input.syncIntervalSeconds"},
		{"enabling on an ERROR integration", "talentionError", map[string]any{"enabled": true}, "input.enabled"},
		{"enabling on a DISCONNECTED integration", "compleetOff", map[string]any{"enabled": true}, "input.enabled"},
	}

	c := env.c
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			integ := env.ints[tc.integ]

			// On a campaign without triggers, none is created.
			fresh := cfgCreateCampaign(t, c, "fresh "+tc.name)
			r := c.Do(t, cfgConfigure, cfgTriggerInput(fresh.ID, integ, tc.input))
			cfgWantError(t, r, "VALIDATION_FAILED", tc.field)
			if trs := cfgTriggers(t, c, fresh.ID); len(trs) != 0 {
				t.Fatalf("a refused configuration created %s", cfgJSON(trs))
			}

			// On a campaign whose trigger exists, nothing of it changes.
			base := cfgCreateCampaign(t, c, "baseline "+tc.name)
			cfgConfigureOK(t, c, base.ID, integ, cfgBaseline[tc.integ])
			before := cfgTriggers(t, c, base.ID)
			r = c.Do(t, cfgConfigure, cfgTriggerInput(base.ID, integ, tc.input))
			cfgWantError(t, r, "VALIDATION_FAILED", tc.field)
			if after := cfgTriggers(t, c, base.ID); !cfgEqualJSON(cfgConfigs(after), cfgConfigs(before)) {
				t.Fatalf("a refused configuration changed the trigger\nbefore %s\nafter  %s", cfgJSON(before), cfgJSON(after))
			}
		})
	}
}

func TestConfigTriggers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := cfgStart(t, db)
		env := cfgNewTriggerEnv(t, app)
		c := env.c

		t.Run("every rule refuses its input with its field and saves nothing", func(t *testing.T) {
			t.Parallel()
			cfgTestTriggerValidation(t, env)
		})

		t.Run("baselines are valid configurations", func(t *testing.T) {
			t.Parallel()
			for name, in := range cfgBaseline {
				cmp := cfgCreateCampaign(t, c, "baseline "+name)
				cfgConfigureOK(t, c, cmp.ID, env.ints[name], in)
			}
		})

		t.Run("configureTrigger answers with the campaign, integration and status mapping", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "full answer")
			var got struct{ ConfigureTrigger cfgTrigger }
			c.MustDo(t, cfgConfigureFull, cfgTriggerInput(cmp.ID, env.ints["hubspot"], cfgBaseline["hubspot"]), &got)
			tr := got.ConfigureTrigger
			want := cfgMapping{Success: "accepted", Partial: "interview", Failure: "rejected", NotAnswered: "unreachable"}
			if tr.Campaign.ID != cmp.ID || tr.Integration.ID != env.ints["hubspot"] || tr.StatusMapping == nil || *tr.StatusMapping != want {
				t.Fatalf("configureTrigger answered %s", cfgJSON(tr))
			}
			stored := cfgTriggers(t, c, cmp.ID)
			if len(stored) != 1 || !cfgEqualJSON(stored[0].config(), tr.config()) {
				t.Fatalf("stored %s\nanswered %s", cfgJSON(stored), cfgJSON(tr))
			}
			// Replacing answers the same way.
			c.MustDo(t, cfgConfigureFull, cfgTriggerInput(cmp.ID, env.ints["hubspot"], map[string]any{"enabled": false}), &got)
			if again := got.ConfigureTrigger; again.ID != tr.ID || again.Campaign.ID != cmp.ID || again.Integration.ID != env.ints["hubspot"] || again.StatusMapping != nil {
				t.Fatalf("replacing answered %s", cfgJSON(again))
			}
		})

		t.Run("defaults", func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"zvoove", "talention", "compleet", "hubspot"} {
				cmp := cfgCreateCampaign(t, c, "defaults "+name)
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{"enabled": true})
				if !tr.Enabled || tr.SearchType != "new_applications" || len(tr.SearchParams) != 0 || tr.SearchParams == nil ||
					tr.Description != "" || len(tr.References) != 0 || tr.PushbackEnabled || tr.StatusMapping != nil ||
					tr.SyncIntervalSeconds != 900 {
					t.Fatalf("%s defaults: %s", name, cfgJSON(tr))
				}
			}
		})

		t.Run("a new trigger has no lastRun", func(t *testing.T) {
			t.Parallel()
			// Disabled, so the engine does not start a run in the meantime.
			cmp := cfgCreateCampaign(t, c, "no run")
			var got struct{ ConfigureTrigger cfgTrigger }
			c.MustDo(t, cfgConfigure, cfgTriggerInput(cmp.ID, env.ints["compleet"], map[string]any{"enabled": false}), &got)
			if got.ConfigureTrigger.ID == "" || got.ConfigureTrigger.LastRun != nil || got.ConfigureTrigger.LastSyncAt != nil {
				t.Fatalf("configureTrigger answered %s", cfgJSON(got.ConfigureTrigger))
			}
			trs := cfgTriggers(t, c, cmp.ID)
			if len(trs) != 1 || trs[0].LastRun != nil || trs[0].LastSyncAt != nil {
				t.Fatalf("stored %s", cfgJSON(trs))
			}
		})

		t.Run("talent pool research keeps daysSinceLastChange within 1 and 3650", func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"zvoove", "hubspot"} {
				for _, days := range []int{1, 3650, 30} {
					cmp := cfgCreateCampaign(t, c, fmt.Sprintf("%s %d days", name, days))
					tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{
						"enabled": true, "searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": days}})
					if tr.SearchType != "talent_pool_research" || !cfgEqualJSON(tr.SearchParams, map[string]any{"daysSinceLastChange": days}) {
						t.Fatalf("%s with %d days: %s", name, days, cfgJSON(tr))
					}
				}
			}
		})

		t.Run("a description of 2000 characters is saved", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "description")
			d := apptest.Strings("d", 2000)
			tr := cfgConfigureOK(t, c, cmp.ID, env.ints["compleet"], map[string]any{"enabled": true, "description": d})
			if tr.Description != d {
				t.Fatalf("description of %d characters saved as %d", len(d), len(tr.Description))
			}
		})

		t.Run("references are saved", func(t *testing.T) {
			t.Parallel()
			for name, refs := range map[string][]cfgRef{
				"zvoove":    {{ExternalID: "1", Kind: "OFFICE", Name: "Berlin Mitte"}, {ExternalID: "3", Kind: "OFFICE", Name: "München Schwabing"}},
				"talention": {{ExternalID: "job-1", Kind: "JOB", Name: "Pflegefachkraft (m/w/d)"}, {ExternalID: "job-4", Kind: "JOB", Name: "Elektriker (m/w/d)"}},
				"compleet":  {{ExternalID: "job-2", Kind: "JOB", Name: "Lagerhelfer (m/w/d)"}},
				"hubspot":   {{ExternalID: "1", Kind: "LIST", Name: "Warehouse applicants"}, {ExternalID: "5", Kind: "LIST", Name: "Event staff"}},
			} {
				var in []any
				for _, r := range refs {
					in = append(in, map[string]any{"externalID": r.ExternalID, "kind": r.Kind, "name": r.Name})
				}
				cmp := cfgCreateCampaign(t, c, "references "+name)
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{"enabled": true, "references": in})
				if got := cfgRefKeys(tr.References); !cfgSameSet(got, cfgRefKeys(refs)) {
					t.Fatalf("%s references %v, want %v", name, got, cfgRefKeys(refs))
				}
				for _, r := range tr.References {
					if r.ID == "" {
						t.Fatalf("%s: a reference without id: %s", name, cfgJSON(tr.References))
					}
				}
			}
		})

		t.Run("status mapping with all four set is saved with pushback on talention and hubspot", func(t *testing.T) {
			t.Parallel()
			want := cfgMapping{Success: "accepted", Partial: "interview", Failure: "rejected", NotAnswered: "unreachable"}
			for _, name := range []string{"talention", "hubspot"} {
				cmp := cfgCreateCampaign(t, c, "mapping "+name)
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{"enabled": true, "pushbackEnabled": true, "statusMapping": cfgMappingInput()})
				if !tr.PushbackEnabled || tr.StatusMapping == nil || *tr.StatusMapping != want {
					t.Fatalf("%s: %s", name, cfgJSON(tr))
				}
			}
		})

		t.Run("status names of 100 characters are saved", func(t *testing.T) {
			t.Parallel()
			n := apptest.Strings("s", 100)
			cmp := cfgCreateCampaign(t, c, "long names")
			tr := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true,
				"statusMapping": map[string]any{"success": n, "partial": n, "failure": n, "notAnswered": n}})
			if tr.StatusMapping == nil || *tr.StatusMapping != (cfgMapping{n, n, n, n}) {
				t.Fatalf("100-character names: %s", cfgJSON(tr.StatusMapping))
			}
		})

		t.Run("a mapping left empty saves no mapping", func(t *testing.T) {
			t.Parallel()
			for i, m := range []map[string]any{
				{"success": "", "partial": "", "failure": "", "notAnswered": ""},
				{},
			} {
				cmp := cfgCreateCampaign(t, c, fmt.Sprintf("empty mapping %d", i))
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true, "statusMapping": m})
				if !tr.PushbackEnabled || tr.StatusMapping != nil {
					t.Fatalf("mapping %v: %s", m, cfgJSON(tr))
				}
			}
		})

		t.Run("syncIntervalSeconds is at least 60 and defaults to 900", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "interval")
			tr := cfgConfigureOK(t, c, cmp.ID, env.ints["zvoove"], map[string]any{"enabled": true, "syncIntervalSeconds": 60})
			if tr.SyncIntervalSeconds != 60 {
				t.Fatalf("interval 60 saved as %d", tr.SyncIntervalSeconds)
			}
			other := cfgCreateCampaign(t, c, "interval default")
			if tr := cfgConfigureOK(t, c, other.ID, env.ints["zvoove"], map[string]any{"enabled": false}); tr.SyncIntervalSeconds != 900 {
				t.Fatalf("default interval %d", tr.SyncIntervalSeconds)
			}
		})

		t.Run("a disabled trigger may be configured on ERROR and DISCONNECTED integrations", func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"talentionError", "compleetOff"} {
				cmp := cfgCreateCampaign(t, c, "disabled "+name)
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{"enabled": false, "description": "later",
					"references": []any{map[string]any{"externalID": "job-3", "kind": "JOB", "name": "Staplerfahrer (m/w/d)"}}})
				if tr.Enabled || tr.Description != "later" || len(tr.References) != 1 {
					t.Fatalf("%s: %s", name, cfgJSON(tr))
				}
			}
		})

		t.Run("only one trigger of a campaign pushes back", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "one pushback")
			first := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true, "statusMapping": cfgMappingInput()})
			before := cfgTriggers(t, c, cmp.ID)

			for _, name := range []string{"compleet", "hubspot"} {
				r := c.Do(t, cfgConfigure, cfgTriggerInput(cmp.ID, env.ints[name], map[string]any{"enabled": true, "pushbackEnabled": true}))
				cfgWantError(t, r, "VALIDATION_FAILED", "input.pushbackEnabled")
				if after := cfgTriggers(t, c, cmp.ID); !cfgEqualJSON(cfgConfigs(after), cfgConfigs(before)) {
					t.Fatalf("after a refused second pushback (%s)\nbefore %s\nafter  %s", name, cfgJSON(before), cfgJSON(after))
				}
			}

			// Without pushback the second integration is welcome.
			second := cfgConfigureOK(t, c, cmp.ID, env.ints["compleet"], map[string]any{"enabled": true})
			// The first may configure itself again with pushback on.
			again := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true})
			if again.ID != first.ID || !again.PushbackEnabled {
				t.Fatalf("reconfigured first trigger: %s", cfgJSON(again))
			}
			// Once the first lets go, the second may take it.
			cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": false})
			taken := cfgConfigureOK(t, c, cmp.ID, env.ints["compleet"], map[string]any{"enabled": true, "pushbackEnabled": true})
			if taken.ID != second.ID || !taken.PushbackEnabled {
				t.Fatalf("second trigger taking pushback: %s", cfgJSON(taken))
			}
			var pushing []string
			for _, tr := range cfgTriggers(t, c, cmp.ID) {
				if tr.PushbackEnabled {
					pushing = append(pushing, tr.ID)
				}
			}
			if !slices.Equal(pushing, []string{second.ID}) {
				t.Fatalf("triggers pushing back: %v, want [%s]", pushing, second.ID)
			}
			// Another campaign is not affected by this one's pushback.
			other := cfgCreateCampaign(t, c, "another campaign")
			cfgConfigureOK(t, c, other.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true})
		})

		t.Run("configuring the same campaign and integration again replaces the trigger", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "replace")
			first := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{
				"enabled": true, "description": "one", "pushbackEnabled": true, "statusMapping": cfgMappingInput(), "syncIntervalSeconds": 120,
				"references": []any{
					map[string]any{"externalID": "job-1", "kind": "JOB", "name": "one"},
					map[string]any{"externalID": "job-2", "kind": "JOB", "name": "two"},
				},
			})
			second := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{
				"enabled": false, "description": "two", "pushbackEnabled": true, "syncIntervalSeconds": 300,
				"references": []any{map[string]any{"externalID": "job-3", "kind": "JOB", "name": "three"}},
			})
			if second.ID != first.ID {
				t.Fatalf("a second configuration made trigger %s next to %s", second.ID, first.ID)
			}
			if second.Enabled || second.Description != "two" || second.SyncIntervalSeconds != 300 || second.StatusMapping != nil || !second.PushbackEnabled ||
				!slices.Equal(cfgRefKeys(second.References), []string{"JOB/job-3/three"}) {
				t.Fatalf("replaced trigger: %s", cfgJSON(second))
			}
			if trs := cfgTriggers(t, c, cmp.ID); len(trs) != 1 {
				t.Fatalf("campaign has %d triggers after replacing: %s", len(trs), cfgJSON(trs))
			}

			// Search types and their params are replaced too.
			zv := cfgConfigureOK(t, c, cmp.ID, env.ints["zvoove"], map[string]any{
				"enabled": true, "searchType": "talent_pool_research", "searchParams": map[string]any{"daysSinceLastChange": 14}})
			zv2 := cfgConfigureOK(t, c, cmp.ID, env.ints["zvoove"], map[string]any{"enabled": true})
			if zv2.ID != zv.ID || zv2.SearchType != "new_applications" || len(zv2.SearchParams) != 0 {
				t.Fatalf("replaced zvoove trigger: %s", cfgJSON(zv2))
			}
			if trs := cfgTriggers(t, c, cmp.ID); len(trs) != 2 {
				t.Fatalf("campaign has %d triggers, want 2: %s", len(trs), cfgJSON(trs))
			}
		})

		t.Run("Campaign.triggers lists the campaign's triggers", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "listed")
			other := cfgCreateCampaign(t, c, "not listed")
			cfgConfigureOK(t, c, other.ID, env.ints["zvoove"], map[string]any{"enabled": true})
			want := map[string]string{} // trigger -> integration
			for _, name := range []string{"zvoove", "talention", "compleet", "hubspot", "talentionError"} {
				tr := cfgConfigureOK(t, c, cmp.ID, env.ints[name], map[string]any{"enabled": name != "talentionError"})
				want[tr.ID] = env.ints[name]
			}
			got := map[string]string{}
			for _, tr := range cfgTriggers(t, c, cmp.ID) {
				if tr.Campaign.ID != cmp.ID {
					t.Fatalf("listed trigger %s", cfgJSON(tr))
				}
				got[tr.ID] = tr.Integration.ID
			}
			if !maps.Equal(got, want) {
				t.Fatalf("Campaign.triggers = %v, want %v", got, want)
			}
		})

		t.Run("unknown, malformed or foreign campaigns and integrations are NOT_FOUND", func(t *testing.T) {
			t.Parallel()
			mine := cfgCreateCampaign(t, c, "not found")
			other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
			foreignCmp := cfgCreateCampaign(t, other, "theirs")
			foreignInt := cfgConnectOK(t, app, other, schematype.ProviderTalention)
			tal := env.ints["talention"]
			for _, ids := range [][2]string{
				{cfgUnknownCampaignID, tal},
				{"nope", tal},
				{"", tal},
				{tal, tal},
				{foreignCmp.ID, tal},
				{mine.ID, cfgUnknownIntegrationID},
				{mine.ID, "nope"},
				{mine.ID, mine.ID},
				{mine.ID, foreignInt.ID},
				{foreignCmp.ID, foreignInt.ID},
			} {
				r := c.Do(t, cfgConfigure, cfgTriggerInput(ids[0], ids[1], map[string]any{"enabled": true}))
				cfgWantError(t, r, "NOT_FOUND", cfgAnyField)
			}
			if trs := cfgTriggers(t, c, mine.ID); len(trs) != 0 {
				t.Fatalf("triggers created: %s", cfgJSON(trs))
			}
			if trs := cfgTriggers(t, other, foreignCmp.ID); len(trs) != 0 {
				t.Fatalf("triggers created in the other organization: %s", cfgJSON(trs))
			}
		})

		t.Run("a VIEWER key cannot configure a trigger", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "read only")
			reader := app.Client(app.Key(t, env.org, schematype.RoleViewer))
			r := reader.Do(t, cfgConfigure, cfgTriggerInput(cmp.ID, env.ints["zvoove"], map[string]any{"enabled": true}))
			cfgWantError(t, r, "FORBIDDEN", cfgAnyField)
			if trs := cfgTriggers(t, c, cmp.ID); len(trs) != 0 {
				t.Fatalf("triggers created: %s", cfgJSON(trs))
			}
		})

		t.Run("deleting a campaign deletes its triggers", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "deleted")
			tr := cfgConfigureOK(t, c, cmp.ID, env.ints["talention"], map[string]any{"enabled": true, "pushbackEnabled": true,
				"statusMapping": cfgMappingInput(), "references": []any{map[string]any{"externalID": "job-1", "kind": "JOB", "name": "x"}}})
			var got struct{ DeleteCampaign string }
			c.MustDo(t, `mutation($id: ID!) { deleteCampaign(id: $id) }`, map[string]any{"id": cmp.ID}, &got)
			n, err := app.DB.Store.Client.Trigger.Query().Where(trigger.ID(pulid.ID(tr.ID))).Count(viewer.SystemContext(context.Background()))
			if err != nil || n != 0 {
				t.Fatalf("after deleting its campaign, %d rows of trigger %s (err %v)", n, tr.ID, err)
			}
			r := c.Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tr.ID})
			cfgWantError(t, r, "NOT_FOUND", cfgAnyField)
		})

		t.Run("node resolves a trigger by id", func(t *testing.T) {
			t.Parallel()
			cmp := cfgCreateCampaign(t, c, "node")
			tr := cfgConfigureOK(t, c, cmp.ID, env.ints["hubspot"], cfgBaseline["hubspot"])
			var got struct{ Node *cfgTrigger }
			c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { `+cfgTriggerFields+` } } }`, map[string]any{"id": tr.ID}, &got)
			if got.Node == nil || !cfgEqualJSON(got.Node.config(), tr.config()) {
				t.Fatalf("node(%s) = %s, want %s", tr.ID, cfgJSON(got.Node), cfgJSON(tr))
			}
		})
	})
}

// cfgRefKeys describes references as kind/externalID/name.
func cfgRefKeys(refs []cfgRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Kind + "/" + r.ExternalID + "/" + r.Name
	}
	return out
}

func TestConfigPushbackRace(t *testing.T) {
	t.Parallel()
	const rounds = 6
	providers := []schematype.ProviderKey{
		schematype.ProviderTalention, schematype.ProviderCompleet, schematype.ProviderHubSpot, schematype.ProviderTalention,
		schematype.ProviderCompleet, schematype.ProviderHubSpot, schematype.ProviderTalention, schematype.ProviderCompleet,
	}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := cfgStart(t, db)
		c := cfgAdmin(t, app)
		ints := make([]string, len(providers))
		for i, p := range providers {
			ints[i] = cfgConnectOK(t, app, c, p).ID
		}
		for round := range rounds {
			// Even rounds race to create the triggers; odd rounds race to
			// turn pushback on in triggers that exist.
			existing := round%2 == 1
			cmp := cfgCreateCampaign(t, c, fmt.Sprintf("race %d", round))
			if existing {
				for _, id := range ints {
					cfgConfigureOK(t, c, cmp.ID, id, map[string]any{"enabled": true, "description": "before"})
				}
			}
			before := map[string]cfgTrigger{} // integration -> trigger
			for _, tr := range cfgTriggers(t, c, cmp.ID) {
				before[tr.Integration.ID] = tr
			}

			results := make([]apptest.Response, len(ints))
			errs := make([]error, len(ints))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, id := range ints {
				wg.Go(func() {
					<-start
					results[i], errs[i] = cfgPost(c, cfgConfigure, cfgTriggerInput(cmp.ID, id, map[string]any{
						"enabled": true, "pushbackEnabled": true, "description": "raced"}))
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			var won cfgTrigger
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("round %d, request %d: %v", round, i, errs[i])
				}
				if len(r.Errors) == 0 {
					if winner >= 0 {
						t.Fatalf("round %d: requests %d and %d both enabled pushback", round, winner, i)
					}
					winner = i
					var got struct{ ConfigureTrigger cfgTrigger }
					r.Decode(t, &got)
					won = got.ConfigureTrigger
					continue
				}
				ok := r.Code() == "VALIDATION_FAILED" && r.Field() == "input.pushbackEnabled" || r.Code() == "CONFLICT"
				if !ok {
					t.Errorf("round %d, request %d: %s field %q (%s), want VALIDATION_FAILED input.pushbackEnabled or CONFLICT",
						round, i, r.Code(), r.Field(), r.Errors[0].Message)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no request enabled pushback", round)
			}
			if !won.PushbackEnabled || won.Description != "raced" {
				t.Fatalf("round %d: the winner got %s", round, cfgJSON(won))
			}

			after := cfgTriggers(t, c, cmp.ID)
			wantCount := 1
			if existing {
				wantCount = len(ints)
			}
			if len(after) != wantCount {
				t.Fatalf("round %d: %d triggers, want %d: %s", round, len(after), wantCount, cfgJSON(after))
			}
			for _, tr := range after {
				if tr.Integration.ID == ints[winner] {
					if tr.ID != won.ID || !tr.PushbackEnabled {
						t.Fatalf("round %d: winner stored as %s", round, cfgJSON(tr))
					}
					continue
				}
				if !cfgEqualJSON(tr.config(), before[tr.Integration.ID].config()) {
					t.Errorf("round %d: a refused request changed trigger %s\nbefore %s\nafter  %s",
						round, tr.ID, cfgJSON(before[tr.Integration.ID]), cfgJSON(tr))
				}
			}
			// The database itself, past the API: one row with pushback.
			n, err := app.DB.Store.Client.Trigger.Query().
				Where(trigger.CampaignID(pulid.ID(cmp.ID)), trigger.PushbackEnabled(true)).
				Count(viewer.SystemContext(context.Background()))
			if err != nil || n != 1 {
				t.Fatalf("round %d: %d triggers with pushback in the database (err %v)", round, n, err)
			}
		}
	})
}
