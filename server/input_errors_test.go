package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// Input the server cannot read is the client's error, named at its field,
// never an internal error: a body that is not a GraphQL request is
// BAD_REQUEST, and a value its scalar refuses is VALIDATION_FAILED on the
// argument's input path. Neither is logged as a failure of Intake, and the
// answer does not repeat what was sent.
func TestInputErrorsNameTheirField(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t, dbtest.Open(t, dialect.SQLite))
	key := app.Key(t, "acme", schematype.RoleAdmin)
	c := app.Client(key)

	for _, body := range []string{`[1, 2]`, `"secret-0171 2345678"`, `{"query": 42}`, `{`} {
		req, err := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out apptest.Response
		raw := new(bytes.Buffer)
		raw.ReadFrom(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(raw.Bytes(), &out); err != nil {
			t.Fatalf("body %s: HTTP %d, not a GraphQL response: %s", body, resp.StatusCode, raw)
		}
		if resp.StatusCode != http.StatusBadRequest || out.Code() != "BAD_REQUEST" {
			t.Errorf("body %s: HTTP %d %s, want 400 BAD_REQUEST", body, resp.StatusCode, raw)
		}
		if strings.Contains(raw.String(), "secret") {
			t.Errorf("body %s: the answer repeats the body: %s", body, raw)
		}
	}

	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"Time literal", `{ auditEvents(since: "yesterday") { pageInfo { hasNextPage } } }`, nil, "since"},
		{"Time variable", `query($s: Time) { auditEvents(until: $s) { pageInfo { hasNextPage } } }`, map[string]any{"s": "tomorrow"}, "until"},
		{"Cursor", `{ auditEvents(after: "not-a-cursor") { pageInfo { hasNextPage } } }`, nil, "after"},
		{"Cursor of a connection", `{ campaigns(after: "garbage") { totalCount } }`, nil, "after"},
		{"Map inside an input object", `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"provider": "HUBSPOT", "name": "CRM", "credentials": "s"}}, "input.credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Do(t, tc.query, tc.vars)
			if r.Code() != "VALIDATION_FAILED" || r.Field() != tc.field {
				t.Fatalf("answered %d %+v, want VALIDATION_FAILED on %s", r.Status, r.Errors, tc.field)
			}
			if !strings.HasPrefix(r.Errors[0].Message, tc.field+" ") {
				t.Errorf("message %q does not name %s", r.Errors[0].Message, tc.field)
			}
		})
	}

	if logs := app.Logs(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("input errors were logged as failures of Intake:\n%s", logs)
	}
}
