package server_test

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// cfgUnknownIntegrationID is a well-formed integration ID that exists nowhere.
const cfgUnknownIntegrationID = "int_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"

// cfgProviders are the four providers, in catalogue order.
var cfgProviders = []schematype.ProviderKey{schematype.ProviderZvoove, schematype.ProviderTalention, schematype.ProviderCompleet, schematype.ProviderHubSpot}

// cfgSecretKey is the credential each provider authenticates with.
var cfgSecretKey = map[schematype.ProviderKey]string{
	schematype.ProviderZvoove:    "apiKey",
	schematype.ProviderTalention: "apiKey",
	schematype.ProviderCompleet:  "apiKey",
	schematype.ProviderHubSpot:   "accessToken",
}

type cfgIntegration struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Status        string  `json:"status"`
	LastCheckedAt *string `json:"lastCheckedAt"`
	LastError     *string `json:"lastError"`
	CreatedAt     string  `json:"createdAt"`
	Provider      struct {
		Key string `json:"key"`
	} `json:"provider"`
}

// norm returns in with its times at microsecond precision (cfgNormTime).
func (in cfgIntegration) norm() cfgIntegration {
	in.CreatedAt = cfgNormTime(in.CreatedAt)
	if in.LastCheckedAt != nil {
		ts := cfgNormTime(*in.LastCheckedAt)
		in.LastCheckedAt = &ts
	}
	return in
}

const cfgIntegrationFields = `id name status lastCheckedAt lastError createdAt provider { key }`

const cfgConnectMutation = `mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { ` + cfgIntegrationFields + ` } }`

// cfgCreds returns credentials that work against the app's fake of p, as a
// GraphQL Map.
func cfgCreds(app *apptest.App, p schematype.ProviderKey) map[string]any {
	out := map[string]any{}
	for k, v := range app.Fakes.Credentials(p) {
		out[k] = v
	}
	return out
}

// cfgConnectInput is connectIntegration's input.
func cfgConnectInput(p schematype.ProviderKey, name string, creds map[string]any) map[string]any {
	return map[string]any{"input": map[string]any{"provider": string(p), "name": name, "credentials": creds}}
}

// cfgConnect connects an integration with creds; the call must not fail
// (a failed check still answers, with status ERROR).
func cfgConnect(t *testing.T, c *apptest.Client, p schematype.ProviderKey, name string, creds map[string]any) cfgIntegration {
	t.Helper()
	var got struct{ ConnectIntegration cfgIntegration }
	c.MustDo(t, cfgConnectMutation, cfgConnectInput(p, name, creds), &got)
	if got.ConnectIntegration.ID == "" {
		t.Fatalf("connectIntegration returned no id")
	}
	return got.ConnectIntegration
}

// cfgConnectOK connects p to the app's fake and requires CONNECTED.
func cfgConnectOK(t *testing.T, app *apptest.App, c *apptest.Client, p schematype.ProviderKey) cfgIntegration {
	t.Helper()
	in := cfgConnect(t, c, p, string(p)+" sandbox", cfgCreds(app, p))
	if in.Status != "CONNECTED" {
		t.Fatalf("%s against its fake: status %s, lastError %v", p, in.Status, cfgDeref(in.LastError))
	}
	return in
}

// cfgIntegrations lists the organization's integrations with totalCount.
func cfgIntegrations(t *testing.T, c *apptest.Client) ([]cfgIntegration, int) {
	t.Helper()
	var got struct {
		Integrations struct {
			TotalCount int
			Edges      []struct{ Node cfgIntegration }
		}
	}
	c.MustDo(t, `{ integrations(first: 100) { totalCount edges { node { `+cfgIntegrationFields+` } } } }`, nil, &got)
	out := make([]cfgIntegration, len(got.Integrations.Edges))
	for i, e := range got.Integrations.Edges {
		out[i] = e.Node
	}
	return out, got.Integrations.TotalCount
}

// cfgWantIntegrationCount asserts how many integrations the organization has.
func cfgWantIntegrationCount(t *testing.T, c *apptest.Client, want int) {
	t.Helper()
	list, total := cfgIntegrations(t, c)
	if len(list) != want || total != want {
		t.Fatalf("%d integrations listed, totalCount %d; want %d", len(list), total, want)
	}
}

// cfgGetIntegration reads an integration back from the integrations
// connection.
func cfgGetIntegration(t *testing.T, c *apptest.Client, id string) cfgIntegration {
	t.Helper()
	var got struct {
		Integrations struct {
			Edges []struct{ Node cfgIntegration }
		}
	}
	c.MustDo(t, `query($id: ID!) { integrations(where: {id: $id}) { edges { node { `+cfgIntegrationFields+` } } } }`,
		map[string]any{"id": id}, &got)
	if len(got.Integrations.Edges) != 1 || got.Integrations.Edges[0].Node.ID != id {
		t.Fatalf("integration %s: %+v", id, got.Integrations.Edges)
	}
	return got.Integrations.Edges[0].Node
}

// cfgWantSameIntegration asserts that the stored integration equals want.
func cfgWantSameIntegration(t *testing.T, c *apptest.Client, want cfgIntegration) {
	t.Helper()
	got := cfgGetIntegration(t, c, want.ID)
	if !cfgEqualJSON(got.norm(), want.norm()) {
		t.Fatalf("stored integration %s, want %s", cfgJSON(got), cfgJSON(want))
	}
}

// cfgWantCheckedAt asserts that lastCheckedAt is an RFC 3339 time.
func cfgWantCheckedAt(t *testing.T, in cfgIntegration) {
	t.Helper()
	if in.LastCheckedAt == nil {
		t.Fatalf("integration %s: lastCheckedAt is null", in.ID)
	}
	ts, err := time.Parse(time.RFC3339Nano, *in.LastCheckedAt)
	if err != nil || ts.IsZero() {
		t.Fatalf("integration %s: lastCheckedAt %q: %v", in.ID, *in.LastCheckedAt, err)
	}
}

func cfgDeref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func cfgJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cfgEqualJSON(a, b any) bool { return cfgJSON(a) == cfgJSON(b) }

// cfgTestProviders checks the provider catalogue against docs/providers.md.
func cfgTestProviders(t *testing.T, app *apptest.App) {
	type field struct {
		Key, Label, Description, Type string
		Required                      bool
		Min, Max                      *int
	}
	type searchType struct {
		Key, Name, Description string
		IsDefault              bool
		Fields                 []field
	}
	type provider struct {
		Key, Name                                                 string
		SupportsPushback, SupportsStatusMapping, SupportsWebhooks bool
		SearchTypes                                               []searchType
		ReferenceKinds                                            []string
	}
	// docs/providers.md's capability table.
	want := map[string]struct {
		pushback, mapping, webhooks bool
		searchTypes                 []string
		kinds                       []string
	}{
		"ZVOOVE":    {false, false, false, []string{"new_applications", "talent_pool_research"}, []string{"OFFICE"}},
		"TALENTION": {true, true, true, []string{"new_applications"}, []string{"JOB"}},
		"COMPLEET":  {true, false, false, []string{"new_applications"}, []string{"JOB"}},
		"HUBSPOT":   {true, true, true, []string{"new_applications", "talent_pool_research"}, []string{"LIST", "SEGMENT"}},
	}
	var got struct{ Providers []provider }
	app.Client(app.Key(t, "catalogue", schematype.RoleViewer)).MustDo(t, `{ providers {
			key name supportsPushback supportsStatusMapping supportsWebhooks referenceKinds
			searchTypes { key name description isDefault fields { key label description type required min max } } } }`, nil, &got)

	var keys []string
	for _, p := range got.Providers {
		keys = append(keys, p.Key)
	}
	if !cfgSameSet(keys, []string{"ZVOOVE", "TALENTION", "COMPLEET", "HUBSPOT"}) {
		t.Fatalf("providers %v, want exactly ZVOOVE, TALENTION, COMPLEET, HUBSPOT", keys)
	}
	for _, p := range got.Providers {
		t.Run(p.Key, func(t *testing.T) {
			w := want[p.Key]
			if p.Name == "" {
				t.Errorf("no name")
			}
			if p.SupportsPushback != w.pushback || p.SupportsStatusMapping != w.mapping || p.SupportsWebhooks != w.webhooks {
				t.Errorf("pushback %v, status mapping %v, webhooks %v; want %v, %v, %v",
					p.SupportsPushback, p.SupportsStatusMapping, p.SupportsWebhooks, w.pushback, w.mapping, w.webhooks)
			}
			if len(p.ReferenceKinds) == 0 {
				t.Errorf("no reference kinds")
			}
			for _, k := range p.ReferenceKinds {
				if !slices.Contains(w.kinds, k) {
					t.Errorf("reference kind %s, want only %v", k, w.kinds)
				}
			}
			if !slices.Contains(p.ReferenceKinds, w.kinds[0]) {
				t.Errorf("reference kinds %v lack %s", p.ReferenceKinds, w.kinds[0])
			}
			var stKeys, defaults []string
			for _, st := range p.SearchTypes {
				stKeys = append(stKeys, st.Key)
				if st.IsDefault {
					defaults = append(defaults, st.Key)
				}
				if st.Name == "" || st.Description == "" {
					t.Errorf("search type %s: name %q, description %q", st.Key, st.Name, st.Description)
				}
			}
			if !cfgSameSet(stKeys, w.searchTypes) {
				t.Errorf("search types %v, want %v", stKeys, w.searchTypes)
			}
			if !slices.Equal(defaults, []string{"new_applications"}) {
				t.Errorf("default search types %v, want exactly new_applications", defaults)
			}
			for _, st := range p.SearchTypes {
				switch st.Key {
				case "new_applications":
					if st.Name != "Default - New Applications" {
						t.Errorf("new_applications is named %q", st.Name)
					}
					for _, f := range st.Fields {
						if f.Required {
							t.Errorf("new_applications requires %s", f.Key)
						}
					}
				case "talent_pool_research":
					if st.Name != "Talent Pool Research" {
						t.Errorf("talent_pool_research is named %q", st.Name)
					}
					if len(st.Fields) != 1 {
						t.Fatalf("talent_pool_research fields %+v, want daysSinceLastChange only", st.Fields)
					}
					f := st.Fields[0]
					if f.Key != "daysSinceLastChange" || f.Type != "INT" || !f.Required ||
						f.Min == nil || *f.Min != 1 || f.Max == nil || *f.Max != 3650 || f.Label == "" || f.Description == "" {
						t.Errorf("daysSinceLastChange = %s, want a required INT 1..3650 with label and description", cfgJSON(f))
					}
				}
			}
		})
	}
}

func TestConfigIntegrations(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := cfgStart(t, db)

		t.Run("providers", func(t *testing.T) {
			t.Parallel()
			cfgTestProviders(t, app)
		})

		t.Run("availableReferences", func(t *testing.T) {
			t.Parallel()
			cfgTestAvailableReferences(t, app)
		})

		t.Run("connect to each provider is CONNECTED", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			cases := []struct {
				name     string
				provider schematype.ProviderKey
				creds    map[string]any
			}{
				{"zvoove reference key", schematype.ProviderZvoove, cfgCreds(app, schematype.ProviderZvoove)},
				{"zvoove client credentials", schematype.ProviderZvoove, func() map[string]any {
					out := map[string]any{}
					for k, v := range app.Fakes.Zvoove.OAuthCredentials(app.Fakes.BaseURL(schematype.ProviderZvoove)) {
						out[k] = v
					}
					return out
				}()},
				{"talention", schematype.ProviderTalention, cfgCreds(app, schematype.ProviderTalention)},
				{"compleet", schematype.ProviderCompleet, cfgCreds(app, schematype.ProviderCompleet)},
				{"hubspot", schematype.ProviderHubSpot, cfgCreds(app, schematype.ProviderHubSpot)},
			}
			for i, tc := range cases {
				in := cfgConnect(t, c, tc.provider, tc.name, tc.creds)
				if in.Status != "CONNECTED" || in.LastError != nil || in.Name != tc.name || in.Provider.Key != string(tc.provider) || in.CreatedAt == "" {
					t.Fatalf("%s: %s", tc.name, cfgJSON(in))
				}
				cfgWantCheckedAt(t, in)
				cfgWantSameIntegration(t, c, in)
				cfgWantIntegrationCount(t, c, i+1)
			}
		})

		t.Run("a wrong secret is stored as ERROR naming the provider and the HTTP status", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			for i, p := range cfgProviders {
				creds := cfgCreds(app, p)
				wrong := "wrong-secret-" + strings.ToLower(string(p))
				creds[cfgSecretKey[p]] = wrong
				in := cfgConnect(t, c, p, "wrong "+string(p), creds)
				if in.Status != "ERROR" || in.LastError == nil {
					t.Fatalf("%s with a wrong %s: %s", p, cfgSecretKey[p], cfgJSON(in))
				}
				msg := *in.LastError
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(string(p))) || !strings.Contains(msg, "401") {
					t.Errorf("%s: lastError %q names neither the provider nor HTTP 401", p, msg)
				}
				if strings.Contains(msg, wrong) {
					t.Errorf("%s: lastError %q repeats the secret", p, msg)
				}
				cfgWantCheckedAt(t, in)
				cfgWantSameIntegration(t, c, in)
				cfgWantIntegrationCount(t, c, i+1)
			}
		})

		t.Run("refused credentials name the key and store nothing", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			without := func(p schematype.ProviderKey, key string) map[string]any {
				m := cfgCreds(app, p)
				if _, ok := m[key]; !ok {
					t.Fatalf("%s credentials have no %s", p, key)
				}
				delete(m, key)
				return m
			}
			with := func(p schematype.ProviderKey, key string, v any) map[string]any {
				m := cfgCreds(app, p)
				m[key] = v
				return m
			}
			cases := []struct {
				name     string
				provider schematype.ProviderKey
				creds    map[string]any
				field    string
			}{
				{"unknown key zvoove", schematype.ProviderZvoove, with(schematype.ProviderZvoove, "password", "x"), "input.credentials.password"},
				{"unknown key talention", schematype.ProviderTalention, with(schematype.ProviderTalention, "apiSecret", "x"), "input.credentials.apiSecret"},
				{"unknown key compleet", schematype.ProviderCompleet, with(schematype.ProviderCompleet, "token", "x"), "input.credentials.token"},
				{"another provider's key on hubspot", schematype.ProviderHubSpot, with(schematype.ProviderHubSpot, "apiKey", "x"), "input.credentials.apiKey"},
				{"missing mandantID", schematype.ProviderZvoove, without(schematype.ProviderZvoove, "mandantID"), "input.credentials.mandantID"},
				{"missing baseURL zvoove", schematype.ProviderZvoove, without(schematype.ProviderZvoove, "baseURL"), "input.credentials.baseURL"},
				{"missing apiKey zvoove", schematype.ProviderZvoove, without(schematype.ProviderZvoove, "apiKey"), "input.credentials.apiKey"},
				{"missing apiKey talention", schematype.ProviderTalention, without(schematype.ProviderTalention, "apiKey"), "input.credentials.apiKey"},
				{"empty apiKey talention", schematype.ProviderTalention, with(schematype.ProviderTalention, "apiKey", ""), "input.credentials.apiKey"},
				{"missing baseURL compleet", schematype.ProviderCompleet, without(schematype.ProviderCompleet, "baseURL"), "input.credentials.baseURL"},
				{"missing accessToken", schematype.ProviderHubSpot, without(schematype.ProviderHubSpot, "accessToken"), "input.credentials.accessToken"},
				{"no credentials at all", schematype.ProviderTalention, map[string]any{}, cfgAnyField},
				{"number", schematype.ProviderZvoove, with(schematype.ProviderZvoove, "apiKey", 123), "input.credentials.apiKey"},
				{"boolean", schematype.ProviderTalention, with(schematype.ProviderTalention, "apiKey", true), "input.credentials.apiKey"},
				{"object", schematype.ProviderHubSpot, with(schematype.ProviderHubSpot, "accessToken", map[string]any{"a": "b"}), "input.credentials.accessToken"},
				{"list", schematype.ProviderCompleet, with(schematype.ProviderCompleet, "baseURL", []any{"http://127.0.0.1"}), "input.credentials.baseURL"},
				{"null", schematype.ProviderCompleet, with(schematype.ProviderCompleet, "apiKey", nil), "input.credentials.apiKey"},
				{"baseURL not a URL", schematype.ProviderTalention, with(schematype.ProviderTalention, "baseURL", "not a url"), "input.credentials.baseURL"},
				{"baseURL relative", schematype.ProviderZvoove, with(schematype.ProviderZvoove, "baseURL", "/zvoove"), "input.credentials.baseURL"},
				{"baseURL ftp", schematype.ProviderCompleet, with(schematype.ProviderCompleet, "baseURL", "ftp://127.0.0.1/compleet"), "input.credentials.baseURL"},
				{"baseURL with userinfo", schematype.ProviderTalention, with(schematype.ProviderTalention, "baseURL", "http://user:pw@127.0.0.1/talention"), "input.credentials.baseURL"},
				{"baseURL with query", schematype.ProviderHubSpot, with(schematype.ProviderHubSpot, "baseURL", app.Fakes.BaseURL(schematype.ProviderHubSpot)+"?x=1"), "input.credentials.baseURL"},
			}
			for _, tc := range cases {
				r := c.Do(t, cfgConnectMutation, cfgConnectInput(tc.provider, tc.name, tc.creds))
				if len(r.Errors) == 0 {
					t.Fatalf("%s: accepted: %s", tc.name, r.Data)
				}
				if r.Code() != "VALIDATION_FAILED" || (tc.field != cfgAnyField && r.Field() != tc.field) ||
					(tc.field == cfgAnyField && !strings.HasPrefix(r.Field(), "input.credentials.")) {
					t.Errorf("%s: %s field %q (%s), want VALIDATION_FAILED field %q", tc.name, r.Code(), r.Field(), r.Errors[0].Message, tc.field)
				}
				cfgWantIntegrationCount(t, c, 0)
			}
			// Blank names are refused like blank campaign names.
			r := c.Do(t, cfgConnectMutation, cfgConnectInput(schematype.ProviderTalention, "  ", cfgCreds(app, schematype.ProviderTalention)))
			cfgWantError(t, r, "VALIDATION_FAILED", "input.name")
			cfgWantIntegrationCount(t, c, 0)
		})

		t.Run("checkIntegration checks the credentials again", func(t *testing.T) {
			t.Parallel()
			// A Talention fake of this subtest's own, on loopback, so that
			// the faults injected into it touch no other subtest.
			fake := atsfake.New(atsfake.Config{Provider: "Talention", Dataset: sandbox.Dataset{Seed: 1, Size: 50}, StageMoves: true})
			srv := httptest.NewServer(fake.Handler())
			t.Cleanup(srv.Close)
			c := cfgAdmin(t, app)
			creds := map[string]any{}
			for k, v := range fake.Credentials(srv.URL) {
				creds[k] = v
			}
			in := cfgConnect(t, c, schematype.ProviderTalention, "own fake", creds)
			if in.Status != "CONNECTED" {
				t.Fatalf("connecting to the own fake: %s", cfgJSON(in))
			}
			const check = `mutation($id: ID!) { checkIntegration(id: $id) { ` + cfgIntegrationFields + ` } }`
			var got struct{ CheckIntegration cfgIntegration }

			fake.Faults.SetRate(sandbox.ServerError, 1)
			c.MustDo(t, check, map[string]any{"id": in.ID}, &got)
			failed := got.CheckIntegration
			if failed.ID != in.ID || failed.Status != "ERROR" || failed.LastError == nil ||
				!strings.Contains(strings.ToLower(*failed.LastError), "talention") || !strings.Contains(*failed.LastError, "500") {
				t.Fatalf("check while the system fails: %s", cfgJSON(failed))
			}
			cfgWantCheckedAt(t, failed)
			cfgWantSameIntegration(t, c, failed)

			fake.Faults.SetRate(sandbox.ServerError, 0)
			c.MustDo(t, check, map[string]any{"id": in.ID}, &got)
			healed := got.CheckIntegration
			if healed.Status != "CONNECTED" || healed.LastError != nil {
				t.Fatalf("check after the system recovered: %s", cfgJSON(healed))
			}
			cfgWantCheckedAt(t, healed)
			cfgWantSameIntegration(t, c, healed)
			cfgWantIntegrationCount(t, c, 1)
		})

		t.Run("checkIntegration of a wrong secret stays ERROR", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			creds := cfgCreds(app, schematype.ProviderHubSpot)
			creds["accessToken"] = "wrong-token"
			in := cfgConnect(t, c, schematype.ProviderHubSpot, "wrong", creds)
			var got struct{ CheckIntegration cfgIntegration }
			c.MustDo(t, `mutation($id: ID!) { checkIntegration(id: $id) { `+cfgIntegrationFields+` } }`, map[string]any{"id": in.ID}, &got)
			if got.CheckIntegration.Status != "ERROR" || got.CheckIntegration.LastError == nil || !strings.Contains(*got.CheckIntegration.LastError, "401") {
				t.Fatalf("re-check of a wrong token: %s", cfgJSON(got.CheckIntegration))
			}
		})

		t.Run("disconnect makes it DISCONNECTED and refuses checks", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			in := cfgConnectOK(t, app, c, schematype.ProviderHubSpot)
			var got struct{ DisconnectIntegration cfgIntegration }
			c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { `+cfgIntegrationFields+` } }`, map[string]any{"id": in.ID}, &got)
			off := got.DisconnectIntegration
			if off.ID != in.ID || off.Status != "DISCONNECTED" || off.LastError != nil || off.Provider.Key != "HUBSPOT" {
				t.Fatalf("disconnected: %s", cfgJSON(off))
			}
			cfgWantSameIntegration(t, c, off)

			r := c.Do(t, `mutation($id: ID!) { checkIntegration(id: $id) { status } }`, map[string]any{"id": in.ID})
			cfgWantError(t, r, "VALIDATION_FAILED", "id")
			cfgWantSameIntegration(t, c, off)

			r = c.Do(t, `query($id: ID!) { availableReferences(integrationID: $id) { items { externalID } } }`, map[string]any{"id": in.ID})
			cfgWantError(t, r, "VALIDATION_FAILED", "integrationID")
			cfgWantSameIntegration(t, c, off)
			cfgWantIntegrationCount(t, c, 1)
		})

		t.Run("check and disconnect of an unknown, malformed or foreign id are NOT_FOUND", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
			foreign := cfgConnectOK(t, app, other, schematype.ProviderCompleet)
			for _, m := range []string{"checkIntegration", "disconnectIntegration"} {
				for _, id := range []string{cfgUnknownIntegrationID, "nope", cfgUnknownCampaignID, foreign.ID} {
					r := c.Do(t, `mutation($id: ID!) { `+m+`(id: $id) { status } }`, map[string]any{"id": id})
					cfgWantError(t, r, "NOT_FOUND", cfgAnyField)
				}
			}
			got := cfgGetIntegration(t, other, foreign.ID)
			if got.Status != "CONNECTED" || !cfgEqualJSON(got.norm(), foreign.norm()) {
				t.Fatalf("the other organization's integration changed: %s", cfgJSON(got))
			}
		})

		t.Run("the times connectIntegration returns are the times read back", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			in := cfgConnectOK(t, app, c, schematype.ProviderCompleet)
			stored := cfgGetIntegration(t, c, in.ID)
			if stored.CreatedAt != in.CreatedAt || cfgDeref(stored.LastCheckedAt) != cfgDeref(in.LastCheckedAt) {
				t.Fatalf("connectIntegration answered createdAt %s lastCheckedAt %s; read back %s %s",
					in.CreatedAt, cfgDeref(in.LastCheckedAt), stored.CreatedAt, cfgDeref(stored.LastCheckedAt))
			}
		})

		t.Run("node resolves an integration by id", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			in := cfgConnectOK(t, app, c, schematype.ProviderZvoove)
			var got struct{ Node *cfgIntegration }
			c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Integration { `+cfgIntegrationFields+` } } }`, map[string]any{"id": in.ID}, &got)
			if got.Node == nil || !cfgEqualJSON(got.Node.norm(), in.norm()) {
				t.Fatalf("node(%s) = %+v, want %s", in.ID, got.Node, cfgJSON(in))
			}
		})

		t.Run("the Integration type has no credentials field", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			var got struct {
				Type *struct {
					Fields []struct{ Name string }
				} `json:"__type"`
				Schema struct {
					Types []struct {
						Name   string
						Fields []struct{ Name string }
					}
				} `json:"__schema"`
			}
			c.MustDo(t, `{ __type(name: "Integration") { fields { name } } __schema { types { name fields { name } } } }`, nil, &got)
			if got.Type == nil {
				t.Fatalf("no Integration type")
			}
			var names []string
			for _, f := range got.Type.Fields {
				names = append(names, f.Name)
			}
			for _, f := range []string{"id", "provider", "name", "status", "lastCheckedAt", "lastError", "createdAt"} {
				if !slices.Contains(names, f) {
					t.Errorf("Integration lacks %s (fields %v)", f, names)
				}
			}
			// No output type anywhere exposes anything credential-like.
			// Intake's own API keys are managed over GraphQL: their
			// metadata is listed, and a new key is answered once, by
			// createAPIKey; no integration credential is among them.
			ownKeys := []string{"Query.apiKeys", "Mutation.createAPIKey", "Mutation.revokeAPIKey", "CreateAPIKeyPayload.apiKey"}
			for _, ty := range got.Schema.Types {
				if strings.HasPrefix(ty.Name, "__") {
					continue
				}
				for _, f := range ty.Fields {
					if slices.Contains(ownKeys, ty.Name+"."+f.Name) {
						continue
					}
					l := strings.ToLower(f.Name)
					for _, bad := range []string{"credential", "secret", "apikey", "accesstoken", "password"} {
						if strings.Contains(l, bad) {
							t.Errorf("%s.%s is exposed", ty.Name, f.Name)
						}
					}
				}
			}
		})

		t.Run("no response and no log line contains a secret", func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			secrets := map[string]bool{}
			for _, p := range cfgProviders {
				for k, v := range cfgCreds(app, p) {
					if k != "baseURL" && k != "mandantID" {
						secrets[v.(string)] = true
					}
				}
			}
			oauth := app.Fakes.Zvoove.OAuthCredentials(app.Fakes.BaseURL(schematype.ProviderZvoove))
			secrets[oauth["clientSecret"]] = true
			const wrong = "wrong-secret-c0ffee-4711"
			secrets[wrong] = true

			var responses []apptest.Response
			do := func(q string, vars map[string]any) apptest.Response {
				r := c.Do(t, q, vars)
				responses = append(responses, r)
				return r
			}
			var ids []string
			for _, p := range cfgProviders {
				r := do(cfgConnectMutation, cfgConnectInput(p, "ok", cfgCreds(app, p)))
				var ok struct{ ConnectIntegration cfgIntegration }
				r.Decode(t, &ok)
				ids = append(ids, ok.ConnectIntegration.ID)

				creds := cfgCreds(app, p)
				creds[cfgSecretKey[p]] = wrong
				do(cfgConnectMutation, cfgConnectInput(p, "wrong", creds))
				creds = cfgCreds(app, p)
				creds["unknownKey"] = wrong
				do(cfgConnectMutation, cfgConnectInput(p, "unknown key", creds))
				creds = cfgCreds(app, p)
				creds["baseURL"] = "http://" + wrong + ":" + wrong + "@127.0.0.1/"
				do(cfgConnectMutation, cfgConnectInput(p, "bad url", creds))
			}
			oc := map[string]any{}
			for k, v := range oauth {
				oc[k] = v
			}
			do(cfgConnectMutation, cfgConnectInput(schematype.ProviderZvoove, "oauth", oc))
			oc["clientSecret"] = wrong
			do(cfgConnectMutation, cfgConnectInput(schematype.ProviderZvoove, "oauth wrong", oc))
			for _, id := range ids {
				do(`mutation($id: ID!) { checkIntegration(id: $id) { id status lastError } }`, map[string]any{"id": id})
				do(`query($id: ID!) { availableReferences(integrationID: $id, first: 5) { items { externalID name } } }`, map[string]any{"id": id})
			}
			do(`{ integrations(first: 100) { edges { node { id name status lastError lastCheckedAt provider { key } } } } }`, nil)
			for _, id := range ids {
				do(`mutation($id: ID!) { disconnectIntegration(id: $id) { id status lastError } }`, map[string]any{"id": id})
			}

			for _, r := range responses {
				body := cfgJSON(r)
				for s := range maps.Keys(secrets) {
					if strings.Contains(body, s) {
						t.Errorf("a response contains the secret %q: %s", s, body)
					}
				}
			}
			logs := app.Logs()
			for s := range maps.Keys(secrets) {
				if strings.Contains(logs, s) {
					t.Errorf("the log contains the secret %q", s)
				}
			}
		})
	})
}

// cfgRefOption is a ReferenceOption.
type cfgRefOption struct {
	ExternalID string `json:"externalID"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// cfgTestAvailableReferences browses every fake's references.
func cfgTestAvailableReferences(t *testing.T, app *apptest.App) {
	const groups = 5 // apptest's data set has sandbox.Dataset's default groups
	all := map[schematype.ProviderKey][]cfgRefOption{}
	for g := range groups {
		id := zvoovefake.OfficeID(g)
		all[schematype.ProviderZvoove] = append(all[schematype.ProviderZvoove], cfgRefOption{strconv.Itoa(id), "OFFICE", zvoovefake.OfficeName(id)})
		all[schematype.ProviderTalention] = append(all[schematype.ProviderTalention], cfgRefOption{atsfake.JobID(g), "JOB", atsfake.JobName(g)})
		all[schematype.ProviderCompleet] = append(all[schematype.ProviderCompleet], cfgRefOption{atsfake.JobID(g), "JOB", atsfake.JobName(g)})
		all[schematype.ProviderHubSpot] = append(all[schematype.ProviderHubSpot], cfgRefOption{hubspotfake.ListID(g), "LIST", hubspotfake.ListName(g)})
	}
	search := map[schematype.ProviderKey]string{
		schematype.ProviderZvoove:    "hamburg",
		schematype.ProviderTalention: "LAGER",
		schematype.ProviderCompleet:  "elektr",
		schematype.ProviderHubSpot:   "staff",
	}
	const q = `query($id: ID!, $search: String, $first: Int, $after: String) {
		availableReferences(integrationID: $id, search: $search, first: $first, after: $after) { items { externalID kind name } nextCursor } }`
	type page struct {
		AvailableReferences struct {
			Items      []cfgRefOption
			NextCursor *string
		}
	}
	sorted := func(in []cfgRefOption) []cfgRefOption {
		out := slices.Clone(in)
		slices.SortFunc(out, func(a, b cfgRefOption) int { return strings.Compare(a.ExternalID, b.ExternalID) })
		return out
	}

	for _, p := range cfgProviders {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			c := cfgAdmin(t, app)
			in := cfgConnectOK(t, app, c, p)

			t.Run("lists the system's references", func(t *testing.T) {
				var got page
				c.MustDo(t, q, map[string]any{"id": in.ID, "first": 100}, &got)
				if !slices.Equal(sorted(got.AvailableReferences.Items), sorted(all[p])) || got.AvailableReferences.NextCursor != nil {
					t.Fatalf("got %s next %v, want %s", cfgJSON(got.AvailableReferences.Items), cfgDeref(got.AvailableReferences.NextCursor), cfgJSON(all[p]))
				}
				// Without first, a default page size applies.
				c.MustDo(t, q, map[string]any{"id": in.ID}, &got)
				if !slices.Equal(sorted(got.AvailableReferences.Items), sorted(all[p])) {
					t.Fatalf("without first: %s", cfgJSON(got.AvailableReferences.Items))
				}
			})

			t.Run("search filters by name", func(t *testing.T) {
				var want []cfgRefOption
				for _, r := range all[p] {
					if strings.Contains(strings.ToLower(r.Name), strings.ToLower(search[p])) {
						want = append(want, r)
					}
				}
				if len(want) == 0 || len(want) == len(all[p]) {
					t.Fatalf("search %q selects %d of %d: pick another", search[p], len(want), len(all[p]))
				}
				var got page
				c.MustDo(t, q, map[string]any{"id": in.ID, "search": search[p], "first": 100}, &got)
				if !slices.Equal(sorted(got.AvailableReferences.Items), sorted(want)) {
					t.Fatalf("search %q: %s, want %s", search[p], cfgJSON(got.AvailableReferences.Items), cfgJSON(want))
				}
				c.MustDo(t, q, map[string]any{"id": in.ID, "search": "no such reference anywhere", "first": 100}, &got)
				if len(got.AvailableReferences.Items) != 0 || got.AvailableReferences.NextCursor != nil {
					t.Fatalf("search without match: %s", cfgJSON(got.AvailableReferences))
				}
			})

			t.Run("pages follow nextCursor to the end", func(t *testing.T) {
				var seen []cfgRefOption
				var after any
				for n := 0; ; n++ {
					if n > 2*groups {
						t.Fatalf("no last page after %d pages (seen %s)", n, cfgJSON(seen))
					}
					var got page
					c.MustDo(t, q, map[string]any{"id": in.ID, "first": 2, "after": after}, &got)
					items := got.AvailableReferences.Items
					if len(items) > 2 {
						t.Fatalf("first 2 returned %d items", len(items))
					}
					seen = append(seen, items...)
					if got.AvailableReferences.NextCursor == nil {
						break
					}
					if len(items) == 0 {
						t.Fatalf("an empty page with a next cursor")
					}
					after = *got.AvailableReferences.NextCursor
				}
				if !slices.Equal(sorted(seen), sorted(all[p])) {
					t.Fatalf("pages gave %s, want %s", cfgJSON(seen), cfgJSON(all[p]))
				}
			})

			t.Run("a cursor the server never issued is a client error", func(t *testing.T) {
				for _, after := range []string{"garbage", "-1"} {
					r := c.Do(t, q, map[string]any{"id": in.ID, "first": 2, "after": after})
					if len(r.Errors) == 0 {
						t.Fatalf("after %q accepted: %s", after, r.Data)
					}
					switch p {
					case schematype.ProviderZvoove, schematype.ProviderHubSpot:
						// Intake reads these cursors itself (page numbers,
						// offsets): a malformed one is the client's mistake.
						cfgWantError(t, r, "VALIDATION_FAILED", "after")
					default:
						// Opaque cursors of the external system: it refuses them.
						if r.Code() != "VALIDATION_FAILED" && r.Code() != "INTEGRATION_ERROR" {
							t.Fatalf("after %q: %s (%s)", after, r.Code(), r.Errors[0].Message)
						}
					}
				}
			})

			t.Run("first must be between 1 and 100", func(t *testing.T) {
				for _, first := range []int{0, -1, 101, 1000} {
					r := c.Do(t, q, map[string]any{"id": in.ID, "first": first})
					cfgWantError(t, r, "VALIDATION_FAILED", "first")
				}
				for _, first := range []int{1, 100} {
					var got page
					c.MustDo(t, q, map[string]any{"id": in.ID, "first": first}, &got)
					if len(got.AvailableReferences.Items) == 0 || len(got.AvailableReferences.Items) > first {
						t.Fatalf("first %d: %d items", first, len(got.AvailableReferences.Items))
					}
				}
			})
		})
	}

	t.Run("an unknown, malformed or foreign integration is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		c := cfgAdmin(t, app)
		other := app.Client(app.Key(t, "other "+t.Name(), schematype.RoleAdmin))
		foreign := cfgConnectOK(t, app, other, schematype.ProviderTalention)
		for _, id := range []string{cfgUnknownIntegrationID, "nope", cfgUnknownCampaignID, foreign.ID} {
			cfgWantError(t, c.Do(t, q, map[string]any{"id": id}), "NOT_FOUND", cfgAnyField)
		}
	})
}
