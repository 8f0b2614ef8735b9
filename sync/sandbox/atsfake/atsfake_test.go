package atsfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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

// verify checks the test's traffic against the fake's contract. want
// lists a part of each violation the test provoked on purpose, in any
// order; every violation must be one of them.
func (b *bundle) verify(t *testing.T, want ...string) {
	t.Helper()
	if len(want) == 0 {
		b.fake.Contract.Verify(t)
		return
	}
	got := b.fake.Contract.Violations()
	left := slices.Clone(want)
	for _, v := range got {
		k := slices.IndexFunc(left, func(w string) bool { return strings.Contains(v, w) })
		if k < 0 {
			t.Errorf("contract: unexpected violation: %s", v)
			continue
		}
		left = slices.Delete(left, k, k+1)
	}
	for _, w := range left {
		t.Errorf("contract: no violation mentions %q; got %q", w, got)
	}
}

// request sends an authorised request (unless header authorises itself).
func (b *bundle) request(method, path string, header http.Header, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+atsfake.DefaultAPIKey)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}

func (b *bundle) do(t *testing.T, method, path string, header http.Header, body string) (int, response) {
	t.Helper()
	resp, err := b.request(method, path, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
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
	// Runs after the parallel subtests: the contract sees what they
	// provoke on purpose, and nothing else.
	t.Cleanup(func() {
		b.verify(t,
			"GET /nowhere is not a documented endpoint",
			"PUT /applications/app-100001/stage is not a documented endpoint",
			`page_size="0": below the minimum 1`,
			`created_after="yesterday": not a date-time`,
		)
	})
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
	b.verify(t)
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
	b.verify(t)
}

func TestWrites(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Size: 10}
	app := atsfake.ApplicationID(d, 3) // job-4
	key := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

	t.Run("every note is kept, whatever its headers, and empty ones are refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Compleet", Dataset: d})
		// No de-duplication is documented: an Idempotency-Key changes nothing.
		for k, want := range []string{"note-1", "note-2"} {
			if status, resp := b.do(t, "POST", "/candidates/100003/notes", key("n1"), `{"content":"called"}`); status != http.StatusCreated || resp.Data.ID != want {
				t.Fatalf("create note %d: %d %+v", k, status, resp)
			}
		}
		if status, _ := b.do(t, "POST", "/candidates/100003/notes", nil, `{"content":"  "}`); status != http.StatusBadRequest {
			t.Fatalf("empty note: %d", status)
		}
		if status, _ := b.do(t, "POST", "/candidates/100010/notes", nil, `{"content":"called"}`); status != http.StatusNotFound {
			t.Fatalf("note on an unknown candidate: %d", status)
		}
		if notes := b.fake.Notes("100003"); !slices.Equal(notes, []string{"called", "called"}) {
			t.Fatalf("notes = %q", notes)
		}
		if n, m := len(b.fake.Writes.Writes()), len(b.fake.Writes.Applied()); n != 4 || m != 2 {
			t.Fatalf("%d writes logged, %d applied; want 4 and 2", n, m)
		}
		b.verify(t)
	})

	t.Run("stage moves check the job's stages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d, StageMoves: true})
		if status, _ := b.do(t, "PUT", "/applications/"+app+"/stage", nil, `{"stage_id":"`+atsfake.StageID(0, "Rejected")+`"}`); status != http.StatusBadRequest {
			t.Fatalf("another job's stage: %d", status)
		}
		if status, _ := b.do(t, "PUT", "/applications/"+app+"/stage", nil, `{"stage_id":"`+atsfake.StageID(3, "Rejected")+`"}`); status != http.StatusOK {
			t.Fatalf("move: %d", status)
		}
		if stage, ok := b.fake.Stage(app); !ok || stage != "Rejected" {
			t.Fatalf("stage = %q, %v", stage, ok)
		}
		_, resp := b.get(t, "/applications?page_size=4")
		if got := resp.Data.Results[3]["current_stage_id"]; got != atsfake.StageID(3, "Rejected") {
			t.Fatalf("current_stage_id = %v", got)
		}
		if applied := b.fake.Writes.Applied(); len(applied) != 1 || applied[0].Method != "PUT" {
			t.Fatalf("applied writes = %+v", applied)
		}
		b.verify(t)
	})

	t.Run("a lost answer keeps the note and cuts the connection", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Compleet", Dataset: d})
		b.fake.Faults.Only(func(r *http.Request) bool { return r.Method == http.MethodPost })
		b.fake.Faults.Next(sandbox.LostAnswer)
		resp, err := b.request("POST", "/candidates/100003/notes", nil, `{"content":"called"}`)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("the client got an answer: %d", resp.StatusCode)
		}
		if notes := b.fake.Notes("100003"); !slices.Equal(notes, []string{"called"}) {
			t.Fatalf("notes = %q", notes)
		}
		if applied := b.fake.Writes.Applied(); len(applied) != 1 {
			t.Fatalf("%d writes applied, want 1", len(applied))
		}
		// The note is listed like any other.
		if _, resp := b.get(t, "/candidates/100003/notes"); len(resp.Data.Results) != 1 || resp.Data.Results[0]["content"] != "called" {
			t.Fatalf("notes listed: %+v", resp.Data.Results)
		}
		b.verify(t)
	})
}

func TestNotes(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Size: 10}
	const candidate = "100003"
	path := "/candidates/" + candidate + "/notes"
	// write makes n notes on the candidate and returns their IDs, newest
	// first as the fake lists them.
	write := func(t *testing.T, b *bundle, n int) []string {
		t.Helper()
		var out []string
		for range n {
			status, resp := b.do(t, "POST", path, nil, `{"content":"a note"}`)
			if status != http.StatusCreated {
				t.Fatalf("create note: %d %+v", status, resp)
			}
			out = append(out, resp.Data.ID)
		}
		slices.Reverse(out)
		return out
	}
	// list pages through the notes with query and returns their IDs and
	// the size of each page.
	list := func(t *testing.T, b *bundle, query url.Values) (got []string, pages []int) {
		t.Helper()
		for {
			status, resp := b.get(t, path+"?"+query.Encode())
			if status != http.StatusOK || resp.Status != "success" {
				t.Fatalf("GET %s?%s: %d %+v", path, query.Encode(), status, resp)
			}
			got = append(got, ids(resp.Data.Results)...)
			pages = append(pages, len(resp.Data.Results))
			if resp.Data.Next == nil {
				return got, pages
			}
			if len(pages) > 100 {
				t.Fatal("the notes do not end")
			}
			query.Set("cursor", *resp.Data.Next)
		}
	}

	t.Run("pages of 50 by default, of at most 100, newest first", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d})
		want := write(t, b, 120)
		for _, tt := range []struct {
			pageSize string
			pages    []int
		}{
			{"", []int{50, 50, 20}},
			{"100", []int{100, 20}},
			{"7", append(slices.Repeat([]int{7}, 17), 1)},
			{"500", []int{100, 20}}, // above the maximum: served as the maximum
		} {
			q := url.Values{}
			if tt.pageSize != "" {
				q.Set("page_size", tt.pageSize)
			}
			got, pages := list(t, b, q)
			if !slices.Equal(got, want) || !slices.Equal(pages, tt.pages) {
				t.Fatalf("page_size %q: pages %v of %v, want pages %v of %v", tt.pageSize, pages, got, tt.pages, want)
			}
		}
		// The fake serves a page_size above the maximum; the contract,
		// which says what a client may send, refuses both of its pages.
		tooLarge := `page_size="500": above the documented maximum 100`
		b.verify(t, tooLarge, tooLarge)
	})

	t.Run("notes written while paging shift nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d, MaxPageSize: 3})
		want := write(t, b, 7)
		_, first := b.get(t, path)
		newer := write(t, b, 2)
		rest, _ := list(t, b, url.Values{"cursor": {*first.Data.Next}})
		if got := append(ids(first.Data.Results), rest...); !slices.Equal(got, want) {
			t.Fatalf("paged %v, want %v", got, want)
		}
		if got, _ := list(t, b, url.Values{}); !slices.Equal(got, append(newer, want...)) {
			t.Fatalf("listed %v afterwards", got)
		}
		b.verify(t)
	})

	t.Run("empty, unknown and bad requests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d, MaxPageSize: 2})
		write(t, b, 3)
		if status, resp := b.get(t, "/candidates/100004/notes"); status != http.StatusOK || len(resp.Data.Results) != 0 || resp.Data.Next != nil {
			t.Fatalf("a candidate without notes: %d %+v", status, resp)
		}
		_, first := b.get(t, path)
		for _, tt := range []struct {
			path    string
			status  int
			message string
		}{
			{"/candidates/100010/notes", http.StatusNotFound, "candidate not found"},
			{"/candidates/100004/notes?cursor=" + *first.Data.Next, http.StatusBadRequest, "invalid cursor"},
			{path + "?cursor=nope", http.StatusBadRequest, "invalid cursor"},
			{path + "?page_size=0", http.StatusBadRequest, "page_size"},
		} {
			if status, resp := b.get(t, tt.path); status != tt.status || resp.Status != "error" || !strings.Contains(resp.Message, tt.message) {
				t.Fatalf("GET %s: %d %+v, want %d with %q", tt.path, status, resp, tt.status, tt.message)
			}
		}
		b.verify(t, `page_size="0": below the minimum 1`)
	})
}

// TestContract checks that the contract lists exactly what the fake
// serves, that the fake's answers have every field it names, and that
// every fact states its source.
func TestContract(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Size: 10}
	for _, stageMoves := range []bool{false, true} {
		t.Run(fmt.Sprintf("stage moves %v", stageMoves), func(t *testing.T) {
			t.Parallel()
			b := setup(t, atsfake.Config{Provider: "Talention", Dataset: d, StageMoves: stageMoves})
			spec := b.fake.Contract.Spec()
			if spec.Provider != "Talention" || !slices.Equal(spec.ErrorFields, []string{"status", "message"}) {
				t.Fatalf("spec: provider %q, error fields %v", spec.Provider, spec.ErrorFields)
			}
			ids := strings.NewReplacer("/jobs/{id}", "/jobs/"+atsfake.JobID(0),
				"/candidates/{id}", "/candidates/"+d.ExternalID(0), "/applications/{id}", "/applications/"+atsfake.ApplicationID(d, 0))
			bodies := map[string]string{
				"POST /candidates/{id}/notes":  `{"content":"called"}`,
				"PUT /applications/{id}/stage": `{"stage_id":"` + atsfake.StageID(0, "Interview") + `"}`,
			}
			var served []string
			for _, e := range spec.Endpoints {
				op := e.Method + " " + e.Path
				served = append(served, op)
				if !strings.HasPrefix(e.Source, "ASSUMED: no public API documentation; modelled on the unified ATS shape (") {
					t.Errorf("%s: source %q", op, e.Source)
				}
				status, resp := b.do(t, e.Method, ids.Replace(e.Path), nil, bodies[op])
				if status/100 != 2 || resp.Status != "success" {
					t.Errorf("%s: %d %+v", op, status, resp)
				}
			}
			want := []string{"GET /jobs", "GET /jobs/{id}", "GET /applications", "GET /candidates/{id}",
				"GET /candidates/{id}/notes", "POST /candidates/{id}/notes"}
			if stageMoves {
				want = append(want, "PUT /applications/{id}/stage")
			}
			if !slices.Equal(served, want) {
				t.Errorf("the contract lists %v, want %v", served, want)
			}
			if !stageMoves {
				if status, _ := b.do(t, "PUT", "/applications/"+atsfake.ApplicationID(d, 0)+"/stage", nil, bodies["PUT /applications/{id}/stage"]); status != http.StatusNotFound {
					t.Errorf("PUT stage without stage moves: %d", status)
				}
				b.verify(t, "PUT /applications/app-100000/stage is not a documented endpoint")
				return
			}
			b.verify(t)
		})
	}
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
	fake := atsfake.New(atsfake.Config{Provider: "Talention", Dataset: sandbox.Dataset{Size: 1}})
	header, event := fake.ApplicationCreated("app-100000", time.Unix(1614265330, 0))
	if !bytes.Contains(event, []byte(`"application_id":"app-100000"`)) || header.Get("webhook-signature") == "" {
		t.Fatalf("webhook %s %v", event, header)
	}
}

// The fit fields: a candidate's title, locations and tags, an
// application's source, all from the data set.
func TestFitFields(t *testing.T) {
	t.Parallel()
	d := sandbox.Dataset{Seed: 9, Size: 60, Groups: 4}
	b := setup(t, atsfake.Config{Provider: "Compleet", Dataset: d})
	strs := func(v any) []string {
		out := []string{}
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}
	_, apps := b.get(t, "/applications?page_size=100")
	if len(apps.Data.Results) != d.Size {
		t.Fatalf("%d applications, want %d", len(apps.Data.Results), d.Size)
	}
	for i, a := range apps.Data.Results {
		p := d.Person(i)
		if got := str(a["source"]); got != p.Source {
			t.Fatalf("application %d: source %q, want %q", i, got, p.Source)
		}
		var c struct {
			Data map[string]any `json:"data"`
		}
		resp, err := b.request(http.MethodGet, "/candidates/"+p.ID, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var wantLoc []string
		if p.City != "" {
			wantLoc = []string{p.City}
		}
		if str(c.Data["title"]) != p.Profession || !slices.Equal(strs(c.Data["locations"]), append([]string{}, wantLoc...)) ||
			!slices.Equal(strs(c.Data["tags"]), append([]string{}, p.Tags...)) {
			t.Fatalf("candidate %d: title %v, locations %v, tags %v; want %q, %q, %q", i, c.Data["title"], c.Data["locations"], c.Data["tags"], p.Profession, wantLoc, p.Tags)
		}
	}
	b.verify(t)
}
