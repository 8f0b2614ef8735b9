package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestPostTransportAnswersAsGqlgens sends the same requests over
// postTransport and gqlgen's transport.POST: status, Content-Type and
// body must be the same.
func TestPostTransportAnswersAsGqlgens(t *testing.T) {
	ours := testserver.New()
	ours.AddTransport(postTransport{})
	theirs := testserver.New()
	theirs.AddTransport(transport.POST{})

	const graphQLResponse = "application/graphql-response+json"
	for _, tc := range []struct {
		name, body, accept string
	}{
		{"a query", `{"query":"{ name }"}`, ""},
		{"a query, graphql-response accepted", `{"query":"{ name }"}`, graphQLResponse},
		{"graphql-http's Accept", `{"query":"{ name }"}`, graphQLResponse + ", application/json;q=0.9"},
		{"any type", `{"query":"{ name }"}`, "*/*"},
		{"an unknown type only", `{"query":"{ name }"}`, "text/html"},
		{"a syntax error", `{"query":"{ name"}`, ""},
		{"a syntax error, graphql-response", `{"query":"{ name"}`, graphQLResponse},
		{"an unknown field", `{"query":"{ nope }"}`, ""},
		{"an unknown field, graphql-response", `{"query":"{ nope }"}`, graphQLResponse},
		{"a variable of the wrong type", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`, ""},
		{"a body that is not JSON", `{"query":`, ""},
		{"a body that is not JSON, graphql-response", `not json`, graphQLResponse},
		{"a mutation the schema refuses", `{"query":"mutation { name }"}`, ""},
		{"no query", `{}`, graphQLResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send := func(h http.Handler) (int, string, string) {
				r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
				r.Header.Set("Content-Type", "application/json")
				if tc.accept != "" {
					r.Header.Set("Accept", tc.accept)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code, w.Header().Get("Content-Type"), w.Body.String()
			}
			code, ct, body := send(ours)
			wantCode, wantCT, wantBody := send(theirs)
			if code != wantCode || ct != wantCT || body != wantBody {
				t.Errorf("postTransport: %d %q %s\ntransport.POST: %d %q %s", code, ct, body, wantCode, wantCT, wantBody)
			}
		})
	}
}

// TestWriteResponse: the bytes json.Marshal writes, without its pass over
// the data.
func TestWriteResponse(t *testing.T) {
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"a":"<script>&amp;\u2028\u2029 \"x\"","b":[1,2.5,null,true],"c":{}}`)},
		{Data: json.RawMessage(`{"name":"é ☎ \\u0041"}`), Extensions: map[string]any{"cost": 3}},
		{Errors: gqlerror.List{{Message: "refused <b>", Path: ast.Path{ast.PathName("a"), ast.PathIndex(0)}, Extensions: map[string]any{"code": "FORBIDDEN"}}}, Data: json.RawMessage(`{"a":null}`)},
		{Errors: gqlerror.List{{Message: "no data"}}},
		{},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		writeResponse(&got, resp)
		if got.String() != string(want) {
			t.Errorf("writeResponse:\n %s\njson.Marshal:\n %s", got.String(), want)
		}
	}
	var got bytes.Buffer
	writeResponse(io.Writer(&got), nil)
	if got.String() != "null" {
		t.Errorf("nil response: %s", got.String())
	}
}
