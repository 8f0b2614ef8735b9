package llmfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/llmfake"
)

const schema = `{"type":"json_schema","json_schema":{"name":"screening","strict":true,"schema":{"type":"object"}}}`

func body(model, messages, format string) string {
	s := `{"model":` + model + `,"messages":` + messages
	if format != "" {
		s += `,"response_format":` + format
	}
	return s + "}"
}

const userMsg = `[{"role":"system","content":"judge"},{"role":"user","content":"Description:\nExperienced nurse for Berlin\n\nRecords:\n{\"id\":\"1\",\"title\":\"Registered Nurse\"}\n{\"id\":\"2\",\"title\":\"Welder\",\"skills\":[\"welding\"]}\n{\"id\":\"3\"}\nnot json\n{\"id\":\"4\",\"x\":{\"y\":[\"lives in berlin\"]}}"}]`

func post(t *testing.T, url, key, b string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/chat/completions", strings.NewReader(b))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %q is not JSON", raw)
	}
	return resp, out
}

func start(t *testing.T, opts llmfake.Options) *llmfake.Server {
	t.Helper()
	s := llmfake.New(opts)
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestValidation(t *testing.T) {
	s := start(t, llmfake.Options{APIKey: "k"})
	m := `"fake-screening-1"`
	for _, tc := range []struct {
		name   string
		key    string
		body   string
		status int
		typ    string
		param  any
		code   any
	}{
		{"no key", "", body(m, userMsg, schema), 401, "invalid_request_error", nil, "invalid_api_key"},
		{"wrong key", "x", body(m, userMsg, schema), 401, "invalid_request_error", nil, "invalid_api_key"},
		{"bad json", "k", `{"model":`, 400, "invalid_request_error", nil, nil},
		{"no model", "k", `{"messages":` + userMsg + `}`, 400, "invalid_request_error", "model", nil},
		{"unknown model", "k", body(`"gpt-9"`, userMsg, schema), 404, "invalid_request_error", nil, "model_not_found"},
		{"no messages", "k", `{"model":` + m + `}`, 400, "invalid_request_error", "messages", "missing_required_parameter"},
		{"empty messages", "k", body(m, `[]`, schema), 400, "invalid_request_error", "messages", "empty_array"},
		{"unknown role", "k", body(m, `[{"role":"robot","content":"x"}]`, schema), 400, "invalid_request_error", "messages[0].role", "invalid_value"},
		{"text format", "k", body(m, userMsg, `{"type":"text"}`), 400, "invalid_request_error", "response_format.type", "invalid_value"},
		{"schema missing", "k", body(m, userMsg, `{"type":"json_schema"}`), 400, "invalid_request_error", "response_format.json_schema", "missing_required_parameter"},
		{"schema without schema", "k", body(m, userMsg, `{"type":"json_schema","json_schema":{"name":"n"}}`), 400, "invalid_request_error", "response_format.json_schema.schema", "missing_required_parameter"},
		{"ok", "k", body(m, userMsg, schema), 200, "", nil, nil},
		{"ok without format", "k", body(m, userMsg, ""), 200, "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := post(t, s.URL(), tc.key, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.status, out)
			}
			if tc.status == 200 {
				return
			}
			e, _ := out["error"].(map[string]any)
			if e == nil || e["message"] == "" || e["type"] != tc.typ || e["param"] != tc.param || e["code"] != tc.code {
				t.Errorf("error %v, want type %v param %v code %v", out, tc.typ, tc.param, tc.code)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := e[k]; !ok {
					t.Errorf("error lacks %q", k)
				}
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/chat/completions", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// content returns the decisions of an answer by id, with the finish
// reason.
func content(t *testing.T, out map[string]any) (map[string][2]string, string, error) {
	t.Helper()
	ch := out["choices"].([]any)[0].(map[string]any)
	c := ch["message"].(map[string]any)["content"].(string)
	var a struct {
		Decisions []struct{ ID, Decision, Reason string }
	}
	err := json.Unmarshal([]byte(c), &a)
	got := map[string][2]string{}
	for _, d := range a.Decisions {
		got[d.ID] = [2]string{d.Decision, d.Reason}
	}
	return got, ch["finish_reason"].(string), err
}

func TestKeywordRulesAndShape(t *testing.T) {
	s := start(t, llmfake.Options{})
	_, out := post(t, s.URL(), "", body(`"fake-screening-1"`, userMsg, schema))
	if out["object"] != "chat.completion" || !strings.HasPrefix(out["id"].(string), "chatcmpl-") || out["model"] != "fake-screening-1" {
		t.Errorf("answer %v", out)
	}
	u := out["usage"].(map[string]any)
	if u["prompt_tokens"].(float64) <= 0 || u["total_tokens"].(float64) != u["prompt_tokens"].(float64)+u["completion_tokens"].(float64) {
		t.Errorf("usage %v", u)
	}
	got, finish, err := content(t, out)
	if err != nil || finish != "stop" {
		t.Fatalf("content: %v, finish %s", err, finish)
	}
	want := map[string][2]string{
		"1": {"match", `Mentions "nurse", which the description asks for.`},
		"2": {"no_match", "Nothing in the record matches the description."},
		"3": {"unsure", "The record has no data to judge."},
		"4": {"match", `Mentions "berlin", which the description asks for.`},
	}
	if len(got) != len(want) {
		t.Fatalf("decisions %v", got)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("record %s: %v, want %v", id, got[id], w)
		}
	}
	recs := s.Received()
	if len(recs) != 4 || recs[0].ID != "1" || recs[0].Request != 1 || recs[0].Attributes["title"] != "Registered Nurse" {
		t.Errorf("received %+v", recs)
	}
	if kw := llmfake.Keywords("Wir suchen eine Pflegekraft und nurses with experience, bitte"); strings.Join(kw, ",") != "suchen,pflegekraft,nurses,experience" {
		t.Errorf("keywords %v", kw)
	}
}

func TestFaultQueue(t *testing.T) {
	s := start(t, llmfake.Options{Seed: 7})
	s.Faults.Next(sandbox.RateLimit, sandbox.ServerError, sandbox.Malformed, sandbox.Incomplete, sandbox.Truncated)
	b := body(`"fake-screening-1"`, userMsg, schema)

	resp, out := post(t, s.URL(), "", b)
	e := out["error"].(map[string]any)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || e["type"] != "requests" || e["code"] != "rate_limit_exceeded" {
		t.Errorf("rate limit: %d %v", resp.StatusCode, out)
	}
	resp, out = post(t, s.URL(), "", b)
	e = out["error"].(map[string]any)
	if resp.StatusCode != 500 || e["type"] != "server_error" || e["message"] != "The server had an error while processing your request." {
		t.Errorf("server error: %d %v", resp.StatusCode, out)
	}
	resp, out = post(t, s.URL(), "", b)
	if _, _, err := content(t, out); resp.StatusCode != 200 || err == nil {
		t.Errorf("malformed: %d, content parsed", resp.StatusCode)
	}
	_, out = post(t, s.URL(), "", b)
	if got, _, err := content(t, out); err != nil || len(got) != 3 {
		t.Errorf("incomplete: %v %v", got, err)
	}
	_, out = post(t, s.URL(), "", b)
	if _, finish, err := content(t, out); finish != "length" || err == nil {
		t.Errorf("length: finish %s, err %v", finish, err)
	}
	_, out = post(t, s.URL(), "", b)
	if got, finish, err := content(t, out); err != nil || finish != "stop" || len(got) != 4 {
		t.Errorf("after the queue: %v %s %v", got, finish, err)
	}
	inj := s.Faults.Injected()
	for _, f := range []sandbox.Fault{sandbox.RateLimit, sandbox.ServerError, sandbox.Malformed, sandbox.Incomplete, sandbox.Truncated} {
		if inj[f] != 1 {
			t.Errorf("%s injected %d times", f, inj[f])
		}
	}
	if s.Requests() != 6 {
		t.Errorf("requests %d", s.Requests())
	}
}

func TestFaultRatesDeterministic(t *testing.T) {
	run := func() []int {
		s := start(t, llmfake.Options{Seed: 42})
		s.Faults.SetRate(sandbox.ServerError, 0.5)
		var codes []int
		for range 12 {
			resp, _ := post(t, s.URL(), "", body(`"fake-screening-1"`, userMsg, schema))
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ: %v %v", a, b)
		}
		if a[i] == 500 {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("rate 0.5 gave %d of %d failures", fails, len(a))
	}
}

func TestStartLoopbackOnly(t *testing.T) {
	s := llmfake.New(llmfake.Options{})
	if err := s.Start("0.0.0.0:0"); err == nil {
		s.Close()
		t.Error("started on a non-loopback address")
	}
}
