package screening_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/internal/screening"
)

func TestRedact(t *testing.T) {
	type addr struct{ Street, Email string }
	for _, tc := range []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{"nil", nil, map[string]any{}},
		{"sensitive keys", map[string]any{"PHONE": "x", "Mobil": "y", "mobile_2": "z", "telNr": "1", "Fax": "2", "email": "3", "E-Mail": "4", "mailbox": "5", "name": "Anna"},
			map[string]any{"Mobil": "y", "name": "Anna"}},
		{"phone values", map[string]any{"a": "+49 (30) 123-4567", "b": "030/1234567", "c": "0171.1234567", "d": "123456", "e": "12 34"},
			map[string]any{"d": "123456", "e": "12 34"}},
		{"email values", map[string]any{"a": "anna@example.com", "b": " anna.b+x@mail.example.org "},
			map[string]any{}},
		{"dates kept", map[string]any{"a": "2024-01-15", "b": "15.01.2024", "c": "2024/01/15"},
			map[string]any{"a": "2024-01-15", "b": "15.01.2024", "c": "2024/01/15"}},
		{"masked in text", map[string]any{"note": "Call +49 30 1234567 or write to anna@example.com."},
			map[string]any{"note": "Call [redacted] or write to [redacted]."}},
		{"nested", map[string]any{"n": map[string]any{"phone": "1", "x": []any{"0301234567", "ok", 3.0}}, "s": []string{"a@b.de", "keep"}},
			map[string]any{"n": map[string]any{"x": []any{"ok", 3.0}}, "s": []any{"keep"}}},
		{"typed values", map[string]any{"addr": addr{Street: "Main St", Email: "a@b.de"}, "m": map[string]string{"fax": "1", "k": "v"}},
			map[string]any{"addr": map[string]any{"Street": "Main St"}, "m": map[string]any{"k": "v"}}},
		{"other types", map[string]any{"n": 42, "b": true, "z": nil}, map[string]any{"n": 42, "b": true, "z": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := screening.Redact(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Redact(%v) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
	in := map[string]any{"phone": "1", "x": map[string]any{"email": "a"}}
	screening.Redact(in)
	if len(in) != 2 || len(in["x"].(map[string]any)) != 1 {
		t.Error("Redact modified its input")
	}
}

// stub serves the given contents in turn as the model's answer and
// records the ids of each request.
type stub struct {
	contents []string
	n        atomic.Int32
	asked    [][]string
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req struct {
		Messages []struct{ Content string }
	}
	_ = json.Unmarshal(b, &req)
	var ids []string
	for _, l := range strings.Split(req.Messages[1].Content, "\n") {
		var rec struct{ ID string }
		if json.Unmarshal([]byte(l), &rec) == nil && rec.ID != "" {
			ids = append(ids, rec.ID)
		}
	}
	s.asked = append(s.asked, ids)
	i := int(s.n.Add(1)) - 1
	content := s.contents[min(i, len(s.contents)-1)]
	finish := "stop"
	msg := map[string]any{"role": "assistant", "content": content}
	if strings.HasPrefix(content, "REFUSE") {
		msg = map[string]any{"role": "assistant", "content": nil, "refusal": "I can't help with that."}
	}
	resp := map[string]any{"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage": map[string]int{"prompt_tokens": 10, "completion_tokens": 5}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func TestJudgeValidatesAnswers(t *testing.T) {
	good := `{"decisions":[{"id":"a","decision":"match","reason":" Fits. "},{"id":"b","decision":"no_match","reason":"No."}]}`
	onlyB := `{"decisions":[{"id":"b","decision":"no_match","reason":"No."}]}`
	for _, tc := range []struct {
		name     string
		contents []string
		asked    [][]string
	}{
		{"good", []string{good}, [][]string{{"a", "b"}}},
		{"unknown id", []string{`{"decisions":[{"id":"a","decision":"match","reason":"x"},{"id":"zz","decision":"match","reason":"x"}]}`, good}, [][]string{{"a", "b"}, {"a", "b"}}},
		{"duplicate id", []string{`{"decisions":[{"id":"a","decision":"match","reason":"x"},{"id":"a","decision":"match","reason":"x"},{"id":"b","decision":"no_match","reason":"x"}]}`, good}, [][]string{{"a", "b"}, {"a", "b"}}},
		{"invalid decision", []string{`{"decisions":[{"id":"a","decision":"match","reason":"Fits."},{"id":"b","decision":"maybe","reason":"x"}]}`, onlyB}, [][]string{{"a", "b"}, {"b"}}},
		{"empty reason", []string{`{"decisions":[{"id":"a","decision":"match","reason":"Fits."},{"id":"b","decision":"no_match","reason":"  "}]}`, onlyB}, [][]string{{"a", "b"}, {"b"}}},
		{"wrong shape", []string{`{"results":[]}`, good}, [][]string{{"a", "b"}, {"a", "b"}}},
		{"trailing data", []string{good + " {}", good}, [][]string{{"a", "b"}, {"a", "b"}}},
		{"refusal", []string{"REFUSE", good}, [][]string{{"a", "b"}, {"a", "b"}}},
		{"empty content", []string{"", good}, [][]string{{"a", "b"}, {"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &stub{contents: tc.contents}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, err := screening.New(screening.Config{URL: srv.URL + "/v1", Model: "m", Concurrency: 1,
				Backoff: func(int) time.Duration { return time.Millisecond }})
			if err != nil {
				t.Fatal(err)
			}
			vs, u, err := c.Judge(context.Background(), "nurses", []screening.Record{{ID: "a"}, {ID: "b"}})
			if err != nil {
				t.Fatal(err)
			}
			want := []screening.Verdict{{ID: "a", Decision: screening.Match, Reason: "Fits."}, {ID: "b", Decision: screening.NoMatch, Reason: "No."}}
			if !reflect.DeepEqual(vs, want) {
				t.Errorf("verdicts %+v, want %+v", vs, want)
			}
			if !reflect.DeepEqual(s.asked, tc.asked) {
				t.Errorf("asked %v, want %v", s.asked, tc.asked)
			}
			if u.Requests != len(tc.asked) || u.PromptTokens != 10*len(tc.asked) || u.CompletionTokens != 5*len(tc.asked) {
				t.Errorf("usage %+v", u)
			}
		})
	}
}

func TestReasonCapped(t *testing.T) {
	long := strings.Repeat("é", 400)
	s := &stub{contents: []string{fmt.Sprintf(`{"decisions":[{"id":"a","decision":"unsure","reason":%q}]}`, long)}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := screening.New(screening.Config{URL: srv.URL + "/v1/", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	vs, _, err := c.Judge(context.Background(), "x", []screening.Record{{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(vs[0].Reason)); n != screening.MaxReasonLen || vs[0].Decision != screening.Unsure {
		t.Errorf("reason of %d characters, verdict %s", n, vs[0].Decision)
	}
}

func TestRequestShape(t *testing.T) {
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost || r.Header.Get("Authorization") != "" {
			t.Errorf("%s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	c, err := screening.New(screening.Config{URL: srv.URL + "/v1", Model: "m", MaxAttempts: 2, Concurrency: 1,
		Backoff: func(int) time.Duration { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	recs := []screening.Record{{ID: "x1", Attributes: map[string]any{"z": 1, "a": "<b>", "id": "other"}}}
	_, _, _ = c.Judge(context.Background(), " Nurses \n", recs)
	if len(bodies) != 2 || string(bodies[0]) != string(bodies[1]) {
		t.Fatalf("bodies differ or missing: %d", len(bodies))
	}
	var req struct {
		Model          string
		Temperature    *float64
		Messages       []struct{ Role, Content string }
		ResponseFormat struct {
			Type       string
			JSONSchema struct {
				Name   string
				Strict bool
				Schema map[string]any
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(bodies[0], &req); err != nil {
		t.Fatal(err)
	}
	if req.Model != "m" || req.Temperature == nil || *req.Temperature != 0 || len(req.Messages) != 2 ||
		req.Messages[0].Role != "system" || req.Messages[1].Role != "user" ||
		req.ResponseFormat.Type != "json_schema" || req.ResponseFormat.JSONSchema.Name != "screening" ||
		!req.ResponseFormat.JSONSchema.Strict || req.ResponseFormat.JSONSchema.Schema["type"] != "object" {
		t.Errorf("request %s", bodies[0])
	}
	wantUser := "Description:\nNurses\n\nRecords:\n{\"id\":\"x1\",\"a\":\"<b>\",\"z\":1}"
	if req.Messages[1].Content != wantUser {
		t.Errorf("user message %q, want %q", req.Messages[1].Content, wantUser)
	}
}
