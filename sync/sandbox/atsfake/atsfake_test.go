package atsfake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

type bundle struct {
	fake *atsfake.Server
	data sandbox.Dataset
	url  string
}

func setup(t *testing.T, cfg atsfake.Config) *bundle {
	t.Helper()
	fake := atsfake.New(cfg)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	return &bundle{fake: fake, data: cfg.Dataset, url: srv.URL}
}

// response is a decoded answer of the fake.
type response struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    struct {
		Next    *string          `json:"next"`
		Results []map[string]any `json:"results"`
		ID      string           `json:"id"`
	} `json:"data"`
}

func (b *bundle) do(t *testing.T, method, path string, header http.Header, body string) (int, response) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+atsfake.DefaultAPIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decoding: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func (b *bundle) get(t *testing.T, path string) (int, response) {
	t.Helper()
	return b.do(t, http.MethodGet, path, nil, "")
}

func ids(results []map[string]any) []string {
	var out []string
	for _, r := range results {
		out = append(out, r["id"].(string))
	}
	return out
}

func TestAuthAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, atsfake.Config{Provider: "Talention", Dataset: sandbox.Dataset{Size: 10}})
	for _, tt := range []struct {
		name, method, path, auth string
		status                   int
		message                  string
	}{
		{"a wrong API key is refused", "GET", "/jobs", "Bearer nope", 401, "invalid or missing API key"},
		{"a missing API key is refused", "GET", "/jobs", "Basic eDp5", 401, "invalid or missing API key"},
		{"an unknown path is a 404 in the error shape", "GET", "/nowhere", "", 404, "not an endpoint"},
		{"stage moves need Config.StageMoves", "PUT", "/applications/app-100001/stage", "", 404, "not an endpoint"},
		{"an unknown job is a 404", "GET", "/jobs/job-6", "", 404, "job not found"},
		{"an unknown candidate is a 404", "GET", "/candidates/100010", "", 404, "candidate not found"},
		{"a bad page size is a 400", "GET", "/applications?page_size=0", "", 400, "page_size"},
		{"a bad cursor is a 400", "GET", "/applications?cursor=nope", "", 400, "invalid cursor"},
		{"a jobs cursor is no applications cursor", "GET", "/applications?cursor=am9iczox", "", 400, "invalid cursor"},
		{"a bad date is a 400", "GET", "/applications?created_after=yesterday", "", 400, "created_after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, resp := b.do(t, tt.method, tt.path, http.Header{"Authorization": {tt.auth}}, "")
			if status != tt.status || resp.Status != "error" || !strings.Contains(resp.Message, tt.message) {
				t.Fatalf("got %d %+v, want %d with a message containing %q", status, resp, tt.status, tt.message)
			}
		})
	}
}

func TestMillionPeopleArePagedLazily(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Seed: 3, Size: 1_000_000, Groups: 7}
	b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d})

	q := url.Values{"created_after": {d.CreatedAt(999_980).Format(time.RFC3339)}, "job_id": {atsfake.JobID(2), atsfake.JobID(5), "job-99"}, "page_size": {"2"}}
	var got []string
	for path := "/applications?" + q.Encode(); ; {
		status, resp := b.get(t, path)
		if status != http.StatusOK || resp.Status != "success" {
			t.Fatalf("GET %s: %d %+v", path, status, resp)
		}
		got = append(got, ids(resp.Data.Results)...)
		if resp.Data.Next == nil {
			break
		}
		q.Set("cursor", *resp.Data.Next)
		path = "/applications?" + q.Encode()
	}
	var want []string
	for i := 999_980; i < d.Size; i++ {
		if i%7 == 2 || i%7 == 5 {
			want = append(want, atsfake.ApplicationID(d, i))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("applications = %v, want %v", got, want)
	}

	status, resp := b.get(t, "/candidates/"+d.ExternalID(999_999))
	if status != http.StatusOK || resp.Data.ID != d.ExternalID(999_999) {
		t.Fatalf("last candidate: %d %+v", status, resp)
	}
}

func TestJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, atsfake.Config{Provider: "Talention", Dataset: sandbox.Dataset{Size: 10, Groups: 25}})
	status, resp := b.get(t, "/jobs?name_contains=ELEKTRIKER&page_size=2")
	if status != http.StatusOK || strings.Join(ids(resp.Data.Results), ",") != "job-4,job-14" || resp.Data.Next == nil {
		t.Fatalf("first page: %d %+v", status, resp)
	}
	status, resp = b.get(t, "/jobs?name_contains=ELEKTRIKER&page_size=2&cursor="+*resp.Data.Next)
	if status != http.StatusOK || strings.Join(ids(resp.Data.Results), ",") != "job-24" || resp.Data.Next != nil {
		t.Fatalf("second page: %d %+v", status, resp)
	}
	if _, resp := b.get(t, "/jobs?created_after=2030-01-01T00:00:00Z"); len(resp.Data.Results) != 0 {
		t.Fatalf("jobs created after 2030: %v", ids(resp.Data.Results))
	}
}

func TestWrites(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Size: 10}
	app := atsfake.ApplicationID(d, 3) // job-4
	key := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

	t.Run("notes are kept once per key and validated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Compleet", Dataset: d})
		for range 2 {
			if status, resp := b.do(t, "POST", "/candidates/100003/notes", key("n1"), `{"content":"called"}`); status != http.StatusCreated || resp.Data.ID != "note-1" {
				t.Fatalf("create note: %d %+v", status, resp)
			}
		}
		if status, _ := b.do(t, "POST", "/candidates/100003/notes", key("n2"), `{"content":"  "}`); status != http.StatusBadRequest {
			t.Fatalf("empty note: %d", status)
		}
		if notes := b.fake.Notes("100003"); len(notes) != 1 || notes[0] != "called" {
			t.Fatalf("notes = %q", notes)
		}
		if eff := b.fake.Writes.Effects(); len(eff) != 1 || eff["n1"] != 1 {
			t.Fatalf("effects = %v", eff)
		}
	})

	t.Run("stage moves check the job's stages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d, StageMoves: true})
		if status, _ := b.do(t, "PUT", "/applications/"+app+"/stage", key("s1"), `{"stage_id":"`+atsfake.StageID(0, "Rejected")+`"}`); status != http.StatusBadRequest {
			t.Fatalf("another job's stage: %d", status)
		}
		if status, _ := b.do(t, "PUT", "/applications/"+app+"/stage", key("s2"), `{"stage_id":"`+atsfake.StageID(3, "Rejected")+`"}`); status != http.StatusOK {
			t.Fatalf("move: %d", status)
		}
		if stage, ok := b.fake.Stage(app); !ok || stage != "Rejected" {
			t.Fatalf("stage = %q, %v", stage, ok)
		}
		_, resp := b.get(t, "/applications?page_size=4")
		if got := resp.Data.Results[3]["current_stage_id"]; got != atsfake.StageID(3, "Rejected") {
			t.Fatalf("current_stage_id = %v", got)
		}
		if eff := b.fake.Writes.Effects(); len(eff) != 1 || eff["s2"] != 1 {
			t.Fatalf("effects = %v", eff)
		}
	})
}

func TestSignWebhook(t *testing.T) {
	t.Parallel()
	// A Standard Webhooks test vector (svix): secret, id, timestamp, body and signature.
	body := []byte(`{"test": 2432232314}`)
	h := atsfake.SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	if got, want := h.Get("webhook-signature"), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	if h.Get("webhook-timestamp") != "1614265330" || h.Get("webhook-id") != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Fatalf("headers = %v", h)
	}
	b := setup(t, atsfake.Config{Provider: "Talention", Dataset: sandbox.Dataset{Size: 1}})
	header, event := b.fake.ApplicationCreated("app-100000", time.Unix(1614265330, 0))
	if !bytes.Contains(event, []byte(`"application_id":"app-100000"`)) || header.Get("webhook-signature") == "" {
		t.Fatalf("webhook %s %v", event, header)
	}
}
