package contract_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/intake/intake/sync/sandbox/contract"
)

var spec = contract.Spec{
	Provider: "TEST",
	Endpoints: []contract.Endpoint{
		{
			Method: http.MethodGet, Path: "/items",
			Query: []contract.Param{
				{Name: "PageSize", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(20)},
				{Name: "Ids", Type: contract.Integer, Required: true, Repeated: true},
				{Name: "Since", Type: contract.Date},
				{Name: "Active", Type: contract.Boolean},
			},
			Response: []string{"metadata.pageNumber", "data[].id"},
			Source:   "test",
		},
		{
			Method: http.MethodPost, Path: "/items/{id}/notes",
			JSONBody: true,
			Body:     []contract.Param{{Name: "content", Type: contract.String, Required: true}},
			Response: []string{"id"},
			Source:   "test",
		},
	},
	ErrorFields: []string{"status", "message"},
}

// answer serves a fixed body with a status.
func answer(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func check(t *testing.T, h http.Handler, method, target, body string) []string {
	t.Helper()
	c := contract.New(spec)
	srv := httptest.NewServer(c.Wrap(h))
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if c.Checked() != 1 {
		t.Fatalf("checked %d requests, want 1", c.Checked())
	}
	return c.Violations()
}

func TestChecker(t *testing.T) {
	okList := answer(200, `{"metadata":{"pageNumber":0},"data":[{"id":1},{"id":2}]}`)
	okNote := answer(201, `{"id":"n1"}`)
	for _, tc := range []struct {
		name                 string
		h                    http.Handler
		method, target, body string
		want                 []string // substrings, one per violation
	}{
		{"a documented request and answer", okList, "GET", "/items?Ids=1&Ids=2&PageSize=20&Since=2026-01-02&Active=true", "", nil},
		{"an undocumented endpoint", okList, "GET", "/things", "", []string{"not a documented endpoint"}},
		{"an undocumented parameter", okList, "GET", "/items?Ids=1&PageNumber=1", "", []string{`"PageNumber" is not documented`}},
		{"a missing required parameter", okList, "GET", "/items", "", []string{"Ids is missing"}},
		{"a page size above the maximum", okList, "GET", "/items?Ids=1&PageSize=21", "", []string{"above the documented maximum 20"}},
		{"a page size below the minimum", okList, "GET", "/items?Ids=1&PageSize=0", "", []string{"below the minimum 1"}},
		{"a parameter of the wrong type", okList, "GET", "/items?Ids=x&Since=2026-13-01&Active=yes", "", []string{"not an integer", "not a date", "not a boolean"}},
		{"a repeated single parameter", okList, "GET", "/items?Ids=1&PageSize=1&PageSize=2", "", []string{"appears 2 times"}},
		{"an answer without a documented field", answer(200, `{"data":[{"id":1},{"name":"x"}]}`), "GET", "/items?Ids=1", "", []string{"metadata.pageNumber", "data[].id: element 1: no field id"}},
		{"an error answer in the documented shape", answer(400, `{"status":"error","message":"bad"}`), "GET", "/items?Ids=1", "", nil},
		{"an error answer in another shape", answer(400, `{"error":"bad"}`), "GET", "/items?Ids=1", "", []string{"lacks status", "lacks message"}},
		{"a documented body", okNote, "POST", "/items/7/notes", `{"content":"hello"}`, nil},
		{"a body with an undocumented field", okNote, "POST", "/items/7/notes", `{"content":"hello","key":"k"}`, []string{`"key" is not documented`}},
		{"a body without its required field", okNote, "POST", "/items/7/notes", `{}`, []string{"content is missing"}},
		{"a body field of the wrong type", okNote, "POST", "/items/7/notes", `{"content":7}`, []string{"is not of type string"}},
		{"a body that is not JSON", okNote, "POST", "/items/7/notes", `content=x`, []string{"not a JSON object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.h, tc.method, tc.target, tc.body)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("violations %q lack %q", got, w)
				}
			}
		})
	}
}

// A handler that hijacks and closes the connection (a lost answer) is
// passed the connection, and nothing is checked of an answer never sent.
func TestCheckerLostAnswer(t *testing.T) {
	c := contract.New(spec)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(fmt.Sprint("hijack: ", err))
		}
		conn.Close()
	})
	srv := httptest.NewServer(c.Wrap(h))
	defer srv.Close()
	if _, err := http.Post(srv.URL+"/items/7/notes", "application/json", strings.NewReader(`{"content":"x"}`)); err == nil {
		t.Fatal("the request succeeded, want a cut connection")
	}
	if v := c.Violations(); len(v) != 0 {
		t.Fatalf("violations %q", v)
	}
}

type recordingTB struct{ errs []string }

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestVerifyFailsWhenNothingWasChecked(t *testing.T) {
	var tb recordingTB
	contract.New(spec).Verify(&tb)
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "no request was checked") {
		t.Fatalf("Verify reported %q", tb.errs)
	}
}
