package service_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// newCanary returns a random value that appears nowhere unless it leaked.
func newCanary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 14)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "cnry" + hex.EncodeToString(b)
}

// encodings returns the forms in which secret would show up in a byte dump:
// verbatim, hex (how PostgreSQL prints bytea), and base64 in each of the
// three alignments it can have inside a longer value (only the groups made
// of the secret's own bytes, which do not depend on its neighbours).
func encodings(secret string) map[string]string {
	out := map[string]string{
		"plain": secret,
		"hex":   hex.EncodeToString([]byte(secret)),
		"HEX":   strings.ToUpper(hex.EncodeToString([]byte(secret))),
	}
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
		for k := range 3 {
			in := append(bytes.Repeat([]byte{0}, k), secret...)
			s := enc.e.EncodeToString(in)
			start := 0
			if k > 0 {
				start = 4 // the first group mixes neighbour bytes in
			}
			out[fmt.Sprintf("%s@%d", enc.name, k)] = s[start : 4*(len(in)/3)]
		}
	}
	return out
}

// leak returns the form in which secret occurs in haystack, or "".
func leak(haystack []byte, secret string) string {
	for form, needle := range encodings(secret) {
		if bytes.Contains(haystack, []byte(needle)) {
			return form
		}
	}
	return ""
}

// recorder posts GraphQL over HTTP and keeps every raw response body.
type recorder struct {
	app *apptest.App
	key string
	mu  sync.Mutex
	raw bytes.Buffer
}

func (r *recorder) keep(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw.Write(b)
	r.raw.WriteByte('\n')
}

func (r *recorder) do(t *testing.T, query string, vars map[string]any) apptest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, r.app.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.keep(raw)
	out := apptest.Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, not a GraphQL response: %s", resp.StatusCode, raw)
	}
	return out
}

// webhook posts a Talention (Standard Webhooks) event signed with key.
func (r *recorder) webhook(t *testing.T, integrationID string, key []byte) int {
	t.Helper()
	body := []byte(`{"type":"application.created","data":{"application_id":"app-1"}}`)
	id, ts := "msg_canary", strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, r.app.URL+"/webhooks/talention/"+integrationID, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r.keep(raw)
	return resp.StatusCode
}

const connectMutation = `mutation($input: ConnectIntegrationInput!) {
	connectIntegration(input: $input) { id name status lastError lastCheckedAt provider { key } }
}`

type integrationView struct {
	ID            string
	Name          string
	Status        string
	LastError     *string
	LastCheckedAt *string
	Provider      struct{ Key string }
}

func asMap(c connector.Credentials) map[string]any {
	m := map[string]any{}
	for k, v := range c {
		m[k] = v
	}
	return m
}

// databaseDump returns every byte the database holds: the SQLite files
// (database, WAL, shared memory), or each PostgreSQL table's rows as text.
func databaseDump(t *testing.T, db *dbtest.DB) []byte {
	t.Helper()
	var out bytes.Buffer
	if db.Dialect == dialect.SQLite {
		dir, base := filepath.Dir(db.Path), filepath.Base(db.Path)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var read []string
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), base) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out.Write(b)
			read = append(read, e.Name())
		}
		if !strings.Contains(strings.Join(read, " "), base+"-wal") {
			t.Fatalf("no WAL file next to %s (read %v): is the database in WAL mode?", base, read)
		}
		return out.Bytes()
	}
	conn, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(tables) < 5 {
		t.Fatalf("only %d tables in the public schema: %v", len(tables), tables)
	}
	for _, table := range tables {
		rows, err := conn.Query(fmt.Sprintf(`SELECT t::text FROM public.%q t`, table))
		if err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s: %s\n", table, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out.Bytes()
}

func TestCanaryScan(t *testing.T) {
	t.Parallel()
	secret := "cnry0123456789abcdef0123456789ab"
	for _, tc := range []struct {
		name     string
		haystack []byte
	}{
		{"plain", []byte(`{"apiKey":"` + secret + `"}`)},
		{"hex like bytea", []byte(`\x` + hex.EncodeToString([]byte(`{"k":"`+secret+`"}`)))},
		{"base64 aligned", []byte(base64.StdEncoding.EncodeToString([]byte(secret + "zz")))},
		{"base64 one byte in", []byte(base64.StdEncoding.EncodeToString([]byte("a" + secret + "z")))},
		{"base64 two bytes in", []byte(base64.StdEncoding.EncodeToString([]byte("ab" + secret)))},
		{"base64url", []byte(base64.RawURLEncoding.EncodeToString([]byte(`{"x":"` + secret + `"}`)))},
	} {
		t.Run("finds the secret "+tc.name, func(t *testing.T) {
			if leak(tc.haystack, secret) == "" {
				t.Fatalf("scan missed the secret in %s", tc.haystack)
			}
		})
	}
	t.Run("does not find what is not there", func(t *testing.T) {
		if form := leak([]byte(`{"apiKey":"cnry0123456789abcdef0123456789aX"}`), secret); form != "" {
			t.Fatalf("false positive (%s)", form)
		}
	})
}

// TestCredentialsNeverLeak connects integrations whose credentials hold a
// canary, uses them (checks, a live browse, webhooks) and refuses bad ones;
// then the canary must be nowhere: not in the database files or rows, not
// in the logs, not in any response.
func TestCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		canary := newCanary(t)
		gql := &recorder{app: app, key: app.Key(t, "canary-org", schematype.RoleAdmin)}
		suffix := canary[len(canary)-6:]
		names := map[string]string{
			"TALENTION": "Canary Talention " + suffix,
			"HUBSPOT":   "Canary HubSpot " + suffix,
			"COMPLEET":  "Canary Compleet " + suffix,
			"ZVOOVE":    "Canary zvoove " + suffix,
		}

		connect := func(t *testing.T, provider, name string, creds map[string]any) apptest.Response {
			t.Helper()
			return gql.do(t, connectMutation, map[string]any{"input": map[string]any{
				"provider": provider, "name": name, "credentials": creds,
			}})
		}
		connected := map[string]integrationView{}
		mustConnect := func(t *testing.T, provider string, creds map[string]any, wantStatus string) {
			t.Helper()
			var got struct{ ConnectIntegration integrationView }
			connect(t, provider, names[provider], creds).Decode(t, &got)
			in := got.ConnectIntegration
			if in.Status != wantStatus || in.Name != names[provider] || in.Provider.Key != provider {
				t.Fatalf("connect %s = %+v, want status %s", provider, in, wantStatus)
			}
			if wantStatus == "ERROR" && (in.LastError == nil || *in.LastError == "") {
				t.Fatalf("connect %s: status ERROR without lastError", provider)
			}
			connected[provider] = in
		}

		// Talention accepts the fake's apiKey; the canary is the webhook secret.
		tal := asMap(app.Fakes.Credentials(schematype.ProviderTalention))
		tal["webhookSecret"] = canary + "-tal-webhook"
		mustConnect(t, "TALENTION", tal, "CONNECTED")
		// The others hold a canary the fake refuses: stored with status ERROR.
		hub := asMap(app.Fakes.Credentials(schematype.ProviderHubSpot))
		hub["accessToken"] = canary + "-hub-token"
		hub["webhookSecret"] = canary + "-hub-secret"
		mustConnect(t, "HUBSPOT", hub, "ERROR")
		cmp := asMap(app.Fakes.Credentials(schematype.ProviderCompleet))
		cmp["apiKey"] = canary + "-cmp-key"
		mustConnect(t, "COMPLEET", cmp, "ERROR")
		zv := asMap(app.Fakes.Zvoove.OAuthCredentials(app.Fakes.BaseURL(schematype.ProviderZvoove)))
		zv["clientSecret"] = canary + "-zv-secret"
		mustConnect(t, "ZVOOVE", zv, "ERROR")

		t.Run("refused connects name the key, not the value, and store nothing", func(t *testing.T) {
			withExtra := asMap(app.Fakes.Credentials(schematype.ProviderTalention))
			withExtra["password"] = canary + "-unknown-key"
			spaced := asMap(app.Fakes.Credentials(schematype.ProviderCompleet))
			spaced["apiKey"] = "has a space " + canary
			badWhsec := asMap(app.Fakes.Credentials(schematype.ProviderTalention))
			badWhsec["webhookSecret"] = "whsec_!" + canary
			nested := asMap(app.Fakes.Credentials(schematype.ProviderHubSpot))
			nested["accessToken"] = map[string]any{"value": canary + "-nested"}
			for _, tc := range []struct {
				provider string
				creds    any
				field    string
			}{
				{"TALENTION", withExtra, "input.credentials.password"},
				{"COMPLEET", spaced, "input.credentials.apiKey"},
				{"TALENTION", badWhsec, "input.credentials.webhookSecret"},
				{"HUBSPOT", nested, "input.credentials.accessToken"},
			} {
				r := gql.do(t, connectMutation, map[string]any{"input": map[string]any{
					"provider": tc.provider, "name": "Refused " + suffix, "credentials": tc.creds,
				}})
				if r.Code() != "VALIDATION_FAILED" || r.Field() != tc.field {
					t.Errorf("%s %s: code %q field %q, errors %+v; want VALIDATION_FAILED %s",
						tc.provider, tc.field, r.Code(), r.Field(), r.Errors, tc.field)
				}
			}
			// Credentials that are not even a map are refused by the schema.
			r := gql.do(t, connectMutation, map[string]any{"input": map[string]any{
				"provider": "TALENTION", "name": "Refused " + suffix, "credentials": canary + "-not-a-map",
			}})
			if len(r.Errors) == 0 {
				t.Errorf("credentials given as a string were accepted: %s", r.Data)
			}
			var list struct {
				Integrations struct {
					TotalCount int
					Edges      []struct{ Node integrationView }
				}
			}
			gql.do(t, `{ integrations(first: 50) { totalCount edges { node { id name status } } } }`, nil).Decode(t, &list)
			if list.Integrations.TotalCount != len(names) {
				t.Errorf("%d integrations after refused connects, want %d: %+v", list.Integrations.TotalCount, len(names), list.Integrations.Edges)
			}
			for _, e := range list.Integrations.Edges {
				if strings.HasPrefix(e.Node.Name, "Refused") {
					t.Errorf("a refused connect was stored: %+v", e.Node)
				}
			}
		})

		t.Run("checks keep the status and the credentials work", func(t *testing.T) {
			for provider, in := range connected {
				var got struct{ CheckIntegration integrationView }
				gql.do(t, `mutation($id: ID!) { checkIntegration(id: $id) { id name status lastError lastCheckedAt provider { key } } }`,
					map[string]any{"id": in.ID}).Decode(t, &got)
				if got.CheckIntegration.Status != in.Status {
					t.Errorf("check %s: status %s, want %s", provider, got.CheckIntegration.Status, in.Status)
				}
			}
			var refs struct {
				AvailableReferences struct {
					Items []struct{ ExternalID, Kind, Name string }
				}
			}
			gql.do(t, `query($id: ID!) { availableReferences(integrationID: $id, first: 5) { items { externalID kind name } nextCursor } }`,
				map[string]any{"id": connected["TALENTION"].ID}).Decode(t, &refs)
			if len(refs.AvailableReferences.Items) == 0 {
				t.Errorf("no references browsed through the stored Talention credentials")
			}
			if code := gql.webhook(t, connected["TALENTION"].ID, []byte(canary+"-tal-webhook")); code != http.StatusAccepted {
				t.Errorf("webhook signed with the stored secret: HTTP %d, want 202", code)
			}
			if code := gql.webhook(t, connected["TALENTION"].ID, []byte("not-the-secret")); code != http.StatusUnauthorized {
				t.Errorf("webhook signed with another secret: HTTP %d, want 401", code)
			}
		})

		t.Run("the credentials are stored sealed", func(t *testing.T) {
			sys := viewer.SystemContext(context.Background())
			for provider, in := range connected {
				row, err := db.Store.Client.Integration.Get(sys, pulid.ID(in.ID))
				if err != nil {
					t.Fatal(err)
				}
				if len(row.Credentials) == 0 {
					t.Errorf("%s: no credentials stored", provider)
				}
				if form := leak(row.Credentials, canary); form != "" {
					t.Errorf("%s: stored credentials hold the canary (%s)", provider, form)
				}
			}
			if _, err := app.Svc.OpenConnector(db.Store.Client.Integration.GetX(sys, pulid.ID(connected["TALENTION"].ID))); err != nil {
				t.Errorf("stored Talention credentials do not open: %v", err)
			}
		})

		// Collect what every response said, including a final listing.
		gql.do(t, `{ integrations(first: 50) { edges { node { id name status lastError lastCheckedAt provider { key } } } } }`, nil)

		t.Run("no response contains the canary", func(t *testing.T) {
			gql.mu.Lock()
			responses := append([]byte(nil), gql.raw.Bytes()...)
			gql.mu.Unlock()
			if !bytes.Contains(responses, []byte(names["TALENTION"])) {
				t.Fatalf("positive control: the responses do not contain the integration name %q", names["TALENTION"])
			}
			if form := leak(responses, canary); form != "" {
				t.Fatalf("a response contains the canary (%s):\n%s", form, responses)
			}
		})

		t.Run("the logs never contain the canary", func(t *testing.T) {
			logs := app.Logs()
			if !strings.Contains(logs, "integration check failed") {
				t.Fatalf("positive control: the failed checks were not logged:\n%s", logs)
			}
			if form := leak([]byte(logs), canary); form != "" {
				t.Fatalf("the logs contain the canary (%s):\n%s", form, logs)
			}
		})

		t.Run("the database never holds the canary", func(t *testing.T) {
			dump := databaseDump(t, db)
			for _, name := range names {
				if !bytes.Contains(dump, []byte(name)) {
					t.Fatalf("positive control: the %s dump does not contain the plaintext integration name %q", db.Dialect, name)
				}
			}
			if form := leak(dump, canary); form != "" {
				i := bytes.Index(dump, []byte(encodings(canary)[form]))
				lo, hi := max(0, i-200), min(len(dump), i+200)
				t.Fatalf("the %s database holds the canary (%s): ...%q...", db.Dialect, form, dump[lo:hi])
			}
			// The fake's real API key is a credential too.
			if form := leak(dump, tal["apiKey"].(string)); form != "" {
				t.Fatalf("the %s database holds the Talention apiKey (%s)", db.Dialect, form)
			}
		})
	})
}
