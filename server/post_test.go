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
		{Data: json.RawMessage(`{"plain":"abc","n":[1,{"k":"v"}]}`)},
		{Data: json.RawMessage(`{"only":"a > b"}`)},
		{Data: json.RawMessage(`{"only":"a & b"}`)},
		{Data: json.RawMessage("{\"only\":\"\u2029\"}")},
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

// FuzzHTMLEscape: htmlEscape writes what json.HTMLEscape writes, for any
// bytes (valid JSON or not, valid UTF-8 or not).
func FuzzHTMLEscape(f *testing.F) {
	for _, s := range []string{
		"", "plain", `{"a":"<b>&amp;</b>"}`, "\u2028\u2029", "a\u2028b\u2029c", "– € „quoted“ …",
		"\xe2", "\xe2\x80", "\xe2\x80\xa8", "\xe2\x80\xaa", "\xe2\xe2\x80\xa9", "<<>>&&", "\xe2\x80\xa8<",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want bytes.Buffer
		htmlEscape(&got, data)
		json.HTMLEscape(&want, data)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("htmlEscape(%q) = %q, json.HTMLEscape: %q", data, got.Bytes(), want.Bytes())
		}
	})
}

// BenchmarkHTMLEscape: an answer the size of a page of 50 contacts, with
// nothing to escape (the common case), with one ampersand, and with an
// en dash in every contact (a byte json.HTMLEscape must look at twice).
func BenchmarkHTMLEscape(b *testing.B) {
	contact := `{"cursor":"Y29udGFjdDowMUpFWjNHN0JDRjA","node":{"id":"01JEZ3G7BCF0QK2V0B6YJ8S7N4","phoneE164":"+4915112345678","phoneRaw":"0151 12345678","firstName":"Anna","lastName":"Schmidt","email":"anna.schmidt@example.com","externalID":"c-1001","attributes":{"source":"zvoove","position":"Pflegefachkraft (m/w/d)","tags":["Teilzeit","Nachtdienst"]},"createdAt":"2026-12-07T04:21:26Z"}}`
	plain := []byte(`{"node":{"contacts":{"edges":[` + strings.Repeat(contact+",", 49) + contact + `]}}}`)
	amp := bytes.Replace(plain, []byte("Teilzeit"), []byte("Teil & Zeit"), 1)
	dashes := bytes.ReplaceAll(plain, []byte("Teilzeit"), []byte("Teilzeit – 30 h"))
	for _, in := range []struct {
		name string
		data []byte
	}{{"plain", plain}, {"ampersand", amp}, {"dashes", dashes}} {
		b.Run(in.name+"/htmlEscape", func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				buf.Reset()
				htmlEscape(&buf, in.data)
			}
		})
		b.Run(in.name+"/json.HTMLEscape", func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				buf.Reset()
				json.HTMLEscape(&buf, in.data)
			}
		})
	}
}
