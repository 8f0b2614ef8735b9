package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/sandbox"
)

// The request limits do not depend on the database: these tests run on
// SQLite only.

// limStart runs the app with limits.
func limStart(t *testing.T, limits server.Limits, options ...func(*server.Config)) *apptest.App {
	t.Helper()
	return apptest.Start(t, dbtest.Open(t, dialect.SQLite), append([]func(*server.Config){
		func(c *server.Config) { c.Limits = limits },
	}, options...)...)
}

// limDo sends req with the key (none when "") and decodes the GraphQL
// response, failing the test when the body is not one.
func limDo(t *testing.T, req *http.Request, key string) (*http.Response, apptest.Response) {
	t.Helper()
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := apptest.Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, not a GraphQL response: %s", resp.StatusCode, raw)
	}
	return resp, out
}

// limPost posts body with a Content-Type (none when "") and extra headers.
func limPost(t *testing.T, app *apptest.App, key, contentType string, body io.Reader, header map[string]string) (*http.Response, apptest.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, app.URL+"/graphql", body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return limDo(t, req, key)
}

// limJSON posts a GraphQL request as JSON.
func limJSON(t *testing.T, app *apptest.App, key string, params map[string]any) apptest.Response {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	_, r := limPost(t, app, key, "application/json", bytes.NewReader(body), nil)
	return r
}

// limWantOK fails unless r succeeded.
func limWantOK(t *testing.T, r apptest.Response) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("HTTP %d, errors %+v", r.Status, r.Errors)
	}
}

// limWantRefused fails unless r is a VALIDATION_FAILED error (with field,
// unless "") whose message contains every part, and no data.
func limWantRefused(t *testing.T, r apptest.Response, field string, parts ...string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("want VALIDATION_FAILED, got success: %s", r.Data)
	}
	e := r.Errors[0]
	if e.Extensions.Code != "VALIDATION_FAILED" || e.Extensions.Field != field {
		t.Fatalf("want VALIDATION_FAILED field %q, got %s field %q (%q)", field, e.Extensions.Code, e.Extensions.Field, e.Message)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Fatalf("message %q does not say %q", e.Message, p)
		}
	}
	if d := string(r.Data); d != "" && d != "null" {
		t.Fatalf("a refused operation answered data %s", d)
	}
}

// limCampaignCount is how many campaigns the key's organization has.
func limCampaignCount(t *testing.T, c *apptest.Client) int {
	t.Helper()
	var got struct{ Campaigns struct{ TotalCount int } }
	c.MustDo(t, `{ campaigns { totalCount } }`, nil, &got)
	return got.Campaigns.TotalCount
}

func TestOperationLimits(t *testing.T) {
	t.Parallel()
	app := limStart(t, server.Limits{Complexity: 1000, Depth: 6, Aliases: 3})
	key := app.Key(t, "acme", schematype.RoleAdmin)
	c := app.Client(key)

	t.Run("first and last up to 100 pass", func(t *testing.T) {
		t.Parallel()
		limWantOK(t, c.Do(t, `{ campaigns(first: 100) { totalCount } }`, nil))
		limWantOK(t, c.Do(t, `query($n: Int) { campaigns(last: $n) { totalCount } }`, map[string]any{"n": 100}))
		limWantOK(t, c.Do(t, `query($n: Int) { campaigns(first: $n) { totalCount } }`, nil))
	})

	t.Run("first or last over 100 is VALIDATION_FAILED naming the argument and the field", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name, query string
			vars        map[string]any
			field, path string
			says        string
		}{
			{"literal", `{ campaigns(first: 101) { totalCount } }`, nil, "first", "campaigns", "got 101"},
			{"variable", `query($n: Int) { campaigns(last: $n) { totalCount } }`, map[string]any{"n": 101}, "last", "campaigns", "101 (from $n)"},
			{"negative", `{ integrations(first: -1) { totalCount } }`, nil, "first", "integrations", "got -1"},
			{"nested, under an alias", `{ c: campaigns(first: 1) { edges { node { contacts(first: 500) { totalCount } } } } }`, nil,
				"first", "c.edges.node.contacts", "got 500"},
			{"in a fragment", `query($n: Int) { ...F } fragment F on Query { campaigns(first: $n) { totalCount } }`, map[string]any{"n": 1000},
				"first", "campaigns", "1000 (from $n)"},
			{"on a page that is not a connection", `{ availableReferences(integrationID: "int_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", first: 101) { nextCursor } }`, nil,
				"first", "availableReferences", "got 101"},
		}
		for _, tc := range cases {
			r := c.Do(t, tc.query, tc.vars)
			limWantRefused(t, r, tc.field, "must be between 0 and 100", tc.says)
			var path []string
			for _, p := range r.Errors[0].Path {
				path = append(path, fmt.Sprint(p))
			}
			if strings.Join(path, ".") != tc.path {
				t.Fatalf("%s: path %v, want %s", tc.name, r.Errors[0].Path, tc.path)
			}
		}
	})

	t.Run("complexity weighs paginated fields by their page size", func(t *testing.T) {
		t.Parallel()
		// campaigns costs 1 + 9 × (edges 1 + node 1 + contacts (1 + 100 × totalCount 1)).
		limWantOK(t, c.Do(t, `{ campaigns(first: 9) { edges { node { contacts(first: 100) { totalCount } } } } }`, nil))
		for _, q := range []string{
			`{ campaigns(first: 100) { edges { node { contacts(first: 100) { totalCount } } } } }`,
			`{ campaigns { edges { node { contacts { totalCount } } } } }`, // unbounded pages count as 100
		} {
			limWantRefused(t, c.Do(t, q, nil), "", "complexity 10301", "limit of 1000")
		}
		// Fragments cost what they select wherever they are spread.
		limWantRefused(t, c.Do(t, `{ campaigns(first: 100) { ...E } } fragment E on CampaignConnection { edges { node { contacts { totalCount } } } }`, nil),
			"", "complexity 10301")
	})

	t.Run("depth", func(t *testing.T) {
		t.Parallel()
		limWantOK(t, c.Do(t, `{ campaigns(first: 1) { edges { node { triggers { campaign { id } } } } } }`, nil))
		limWantRefused(t, c.Do(t, `{ campaigns(first: 1) { edges { node { triggers { campaign { triggers { id } } } } } } }`, nil),
			"", "7 fields deep", "limit of 6")
		limWantRefused(t, c.Do(t, `{ campaigns(first: 1) { edges { ...E } } } fragment E on CampaignEdge { node { triggers { campaign { triggers { id } } } } }`, nil),
			"", "7 fields deep")
	})

	t.Run("introspection is not limited: it reads the schema in memory", func(t *testing.T) {
		t.Parallel()
		limWantOK(t, c.Do(t, `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }`, nil))
	})

	t.Run("aliases", func(t *testing.T) {
		t.Parallel()
		limWantOK(t, c.Do(t, `{ a: viewer { role } b: viewer { role } c: viewer { role } viewer { role } }`, nil))
		limWantRefused(t, c.Do(t, `{ a: viewer { role } b: viewer { role } c: viewer { role } d: viewer { role } }`, nil),
			"", "4 aliases", "limit of 3")
		limWantRefused(t, c.Do(t, `{ a: viewer { role } b: viewer { ...V } } fragment V on Viewer { r: role o: organization { id } }`, nil),
			"", "4 aliases")
	})

	t.Run("a document with two operations runs neither", func(t *testing.T) {
		t.Parallel()
		k := app.Key(t, "two operations", schematype.RoleAdmin)
		doc := `query A { viewer { role } } mutation B { createCampaign(input: {name: "two operations"}) { id } }`
		limWantRefused(t, limJSON(t, app, k, map[string]any{"query": doc, "operationName": "B"}), "", "one operation", "contains 2")
		limWantRefused(t, limJSON(t, app, k, map[string]any{"query": doc, "operationName": "A"}), "", "one operation")
		if r := limJSON(t, app, k, map[string]any{"query": doc}); len(r.Errors) == 0 {
			t.Fatalf("two operations without operationName ran: %s", r.Data)
		}
		if n := limCampaignCount(t, app.Client(k)); n != 0 {
			t.Fatalf("%d campaigns created", n)
		}
	})
}

func TestIntrospectionAndSuggestions(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("introspection %v", on), func(t *testing.T) {
			t.Parallel()
			app := limStart(t, server.Limits{}, func(c *server.Config) { c.Introspection = on })
			c := app.Client(app.Key(t, "acme", schematype.RoleViewer))

			r := c.Do(t, `{ __schema { queryType { name } } }`, nil)
			if got := len(r.Errors) == 0 && strings.Contains(string(r.Data), `"Query"`); got != on {
				t.Fatalf("__schema answered %s, errors %+v", r.Data, r.Errors)
			}
			r = c.Do(t, `{ campaignz { totalCount } }`, nil)
			if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, `"campaignz"`) {
				t.Fatalf("an unknown field answered %s, errors %+v", r.Data, r.Errors)
			}
			if got := strings.Contains(r.Errors[0].Message, "Did you mean"); got != on {
				t.Fatalf("suggestions %v with introspection %v: %q", got, on, r.Errors[0].Message)
			}
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	app := limStart(t, server.Limits{Timeout: timeout})
	key := app.Key(t, "acme", schematype.RoleAdmin)
	c := app.Client(key)

	creds := map[string]any{}
	for k, v := range app.Fakes.Credentials(schematype.ProviderTalention) {
		creds[k] = v
	}
	var connected struct{ ConnectIntegration struct{ ID, Status string } }
	c.MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": "TALENTION", "name": "slow", "credentials": creds}}, &connected)
	in := connected.ConnectIntegration
	if in.Status != "CONNECTED" {
		t.Fatalf("talention fake: status %s", in.Status)
	}
	faults := app.Fakes.Talention.Faults
	faults.SetSlowDelay(time.Minute)
	faults.Next(sandbox.Slow)
	start := time.Now()
	r := c.Do(t, `query($id: ID!) { availableReferences(integrationID: $id) { items { externalID } } }`, map[string]any{"id": in.ID})
	took := time.Since(start)
	if r.Code() != "TIMEOUT" || !strings.Contains(r.Errors[0].Message, "limit of 500ms") {
		t.Fatalf("a request stuck on a slow provider answered %s, errors %+v", r.Data, r.Errors)
	}
	if took < timeout || took > 10*timeout {
		t.Fatalf("the request ended after %s, want about %s", took, timeout)
	}
	if n := faults.Injected()[sandbox.Slow]; n != 1 {
		t.Fatalf("%d slow responses injected, want 1", n)
	}

	t.Run("websockets are not bound by it", func(t *testing.T) {
		ws := app.Connect(t, apptest.TransportWS, key)
		time.Sleep(2 * timeout)
		ws.Subscribe("1", `{ campaigns { totalCount } }`, nil)
		if d := ws.NextData("1"); len(d.Errors) > 0 || !strings.Contains(string(d.Data), "totalCount") {
			t.Fatalf("a query over a socket older than the timeout answered %s, errors %+v", d.Data, d.Errors)
		}
	})
}

// limPadded is a query of at least n bytes: a comment pads it.
func limPadded(query string, n int) string {
	return query + "\n#" + strings.Repeat("x", max(0, n-len(query))) + "\n"
}

func TestBodyAndMessageLimits(t *testing.T) {
	t.Parallel()
	const limit = 4096
	app := limStart(t, server.Limits{BodyBytes: limit, MessageBytes: limit})
	key := app.Key(t, "acme", schematype.RoleAdmin)

	t.Run("a body up to the limit is served", func(t *testing.T) {
		t.Parallel()
		limWantOK(t, limJSON(t, app, key, map[string]any{"query": limPadded(`{ viewer { role } }`, limit-100)}))
	})

	t.Run("a larger body is refused with 413", func(t *testing.T) {
		t.Parallel()
		body, _ := json.Marshal(map[string]any{"query": limPadded(`mutation { createCampaign(input: {name: "large"}) { id } }`, limit)})
		for name, r := range map[string]io.Reader{
			"with Content-Length": bytes.NewReader(body),
			"chunked":             io.MultiReader(bytes.NewReader(body)), // no length: sent chunked
		} {
			_, got := limPost(t, app, key, "application/json", r, nil)
			if got.Status != http.StatusRequestEntityTooLarge || got.Code() != "PAYLOAD_TOO_LARGE" ||
				!strings.Contains(got.Errors[0].Message, "4096 bytes") {
				t.Fatalf("%s: HTTP %d, errors %+v", name, got.Status, got.Errors)
			}
		}
		if n := limCampaignCount(t, app.Client(key)); n != 0 {
			t.Fatalf("%d campaigns created", n)
		}
	})

	t.Run("a websocket message up to the limit is served", func(t *testing.T) {
		t.Parallel()
		ws := app.Connect(t, apptest.TransportWS, key)
		ws.Subscribe("1", limPadded(`{ viewer { role } }`, limit-200), nil)
		if d := ws.NextData("1"); len(d.Errors) > 0 {
			t.Fatalf("errors %+v", d.Errors)
		}
	})

	t.Run("a larger websocket message closes the socket with 1009", func(t *testing.T) {
		t.Parallel()
		ws := app.Connect(t, apptest.TransportWS, key)
		ws.Subscribe("1", limPadded(`{ viewer { role } }`, limit), nil)
		if code := ws.CloseCode(10 * time.Second); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d, want %d", code, websocket.CloseMessageTooBig)
		}
	})
}

func TestMutationsOverGET(t *testing.T) {
	t.Parallel()
	app := limStart(t, server.Limits{})
	key := app.Key(t, "acme", schematype.RoleAdmin)
	get := func(query string) apptest.Response {
		req, err := http.NewRequest(http.MethodGet, app.URL+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, r := limDo(t, req, key)
		return r
	}

	limWantOK(t, get(`{ viewer { role } }`))
	r := get(`mutation { createCampaign(input: {name: "over GET"}) { id } }`)
	if r.Status != http.StatusNotAcceptable || len(r.Errors) == 0 {
		t.Fatalf("a mutation over GET answered HTTP %d %s, errors %+v", r.Status, r.Data, r.Errors)
	}
	if n := limCampaignCount(t, app.Client(key)); n != 0 {
		t.Fatalf("%d campaigns created", n)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	app := limStart(t, server.Limits{})
	key := app.Key(t, "acme", schematype.RoleAdmin)
	const mutation = `mutation { createCampaign(input: {name: "forged"}) { id } }`
	jsonBody, _ := json.Marshal(map[string]any{"query": mutation})
	t.Cleanup(func() { // after every subtest
		if n := limCampaignCount(t, app.Client(key)); n != 0 {
			t.Errorf("%d campaigns created", n)
		}
	})

	// What a cross-site <form> or fetch without a preflight can send.
	simple := map[string]func() (string, io.Reader){
		"text/plain": func() (string, io.Reader) { return "text/plain", bytes.NewReader(jsonBody) },
		"form": func() (string, io.Reader) {
			return "application/x-www-form-urlencoded", strings.NewReader(url.Values{"query": {mutation}}.Encode())
		},
		"multipart": func() (string, io.Reader) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			_ = mw.WriteField("operations", string(jsonBody))
			_ = mw.Close()
			return mw.FormDataContentType(), &b
		},
		"no Content-Type": func() (string, io.Reader) { return "", bytes.NewReader(jsonBody) },
	}
	for name, req := range simple {
		t.Run(name+" is refused", func(t *testing.T) {
			t.Parallel()
			ct, body := req()
			_, r := limPost(t, app, key, ct, body, nil)
			if r.Status != http.StatusBadRequest || r.Code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "cross-site request forgery") {
				t.Fatalf("HTTP %d, errors %+v", r.Status, r.Errors)
			}
		})
		t.Run(name+" with "+server.PreflightHeader+" goes on to authentication and GraphQL", func(t *testing.T) {
			t.Parallel()
			ct, body := req()
			_, r := limPost(t, app, "", ct, body, map[string]string{server.PreflightHeader: "1"})
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("without a key: HTTP %d, errors %+v", r.Status, r.Errors)
			}
			// The GraphQL handler serves JSON only.
			ct, body = req()
			_, r = limPost(t, app, key, ct, body, map[string]string{server.PreflightHeader: "1"})
			if r.Status != http.StatusBadRequest || len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "forgery") {
				t.Fatalf("with a key: HTTP %d, errors %+v", r.Status, r.Errors)
			}
		})
	}
	t.Run("JSON is served", func(t *testing.T) {
		t.Parallel()
		_, r := limPost(t, app, key, "application/json; charset=utf-8", strings.NewReader(`{"query": "{ viewer { role } }"}`), nil)
		limWantOK(t, r)
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	app := limStart(t, server.Limits{RatePerSecond: 1, RateBurst: 3})
	viewerQuery, _ := json.Marshal(map[string]any{"query": `{ viewer { role } }`})
	post := func(key string) (*http.Response, apptest.Response) {
		return limPost(t, app, key, "application/json", bytes.NewReader(viewerQuery), nil)
	}

	t.Run("HTTP: a burst, then 429 RATE_LIMITED with Retry-After, per key", func(t *testing.T) {
		t.Parallel()
		a, b := app.Key(t, "acme", schematype.RoleAdmin), app.Key(t, "acme", schematype.RoleAdmin)
		for i := range 3 {
			if _, r := post(a); r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Fatalf("request %d of the burst: HTTP %d, errors %+v", i+1, r.Status, r.Errors)
			}
		}
		resp, r := post(a)
		if r.Status != http.StatusTooManyRequests || r.Code() != "RATE_LIMITED" || r.Errors[0].Extensions.RetryAfter != 1 ||
			resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("over the burst: HTTP %d, Retry-After %q, errors %+v", r.Status, resp.Header.Get("Retry-After"), r.Errors)
		}
		if _, r := post(b); r.Status != http.StatusOK {
			t.Fatalf("another key of the organization: HTTP %d, errors %+v", r.Status, r.Errors)
		}
		time.Sleep(time.Second) // Retry-After
		if _, r := post(a); r.Status != http.StatusOK {
			t.Fatalf("after Retry-After: HTTP %d, errors %+v", r.Status, r.Errors)
		}
	})

	t.Run("websocket: each subscription takes a token", func(t *testing.T) {
		t.Parallel()
		var created struct{ CreateCampaign struct{ ID string } }
		app.Client(app.Key(t, "ws", schematype.RoleAdmin)).MustDo(t, `mutation { createCampaign(input: {name: "ws"}) { id } }`, nil, &created)
		ws := app.Connect(t, apptest.TransportWS, app.Key(t, "ws", schematype.RoleViewer))
		for i := 1; i <= 4; i++ {
			ws.Subscribe(fmt.Sprint(i), `subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`,
				map[string]any{"id": created.CreateCampaign.ID})
		}
		// Operations start concurrently: one of the four, whichever comes
		// last, is refused and completed; the other three run, silent as
		// long as nothing happens to the campaign.
		m := ws.Next()
		var d apptest.Data
		_ = json.Unmarshal(m.Payload, &d)
		if m.Type != "next" || len(d.Errors) != 1 || d.Errors[0].Extensions.Code != "RATE_LIMITED" || d.Errors[0].Extensions.RetryAfter != 1 {
			t.Fatalf("want one subscription refused, got %s %s %s", m.Type, m.ID, m.Payload)
		}
		if c := ws.Next(); c.Type != "complete" || c.ID != m.ID {
			t.Fatalf("want complete %s, got %s %s %s", m.ID, c.Type, c.ID, c.Payload)
		}
		m, err := ws.Read(500 * time.Millisecond)
		var timeout net.Error
		if !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Fatalf("the other subscriptions did not run on: %s %s %s (%v)", m.Type, m.ID, m.Payload, err)
		}
	})
}
