package zvoove_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/zvoove"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// Endpoints a fuzz input can answer for.
const (
	fuzzDepartments = iota
	fuzzCandidates
	fuzzChangelog
	fuzzDetail
	fuzzToken
	fuzzErrorBody // departments answering 400 with the body
	fuzzEndpoints
)

type fuzzInput struct {
	endpoint uint8
	body     []byte
}

// FuzzResponses answers one endpoint with arbitrary bytes and runs every
// operation of the connector: none may panic, loop forever or return a
// record without ID and without Problem, and every error names zvoove.
func FuzzResponses(f *testing.F) {
	seeds := map[uint8][]string{
		fuzzDepartments: {`[{"id":1,"name":"Berlin Mitte","name2":"","description":"","active":true},{"id":"2","name":"","name2":"Hamburg","active":null}]`, `[]`, `[{"id":-1}]`, `{"id":1}`},
		fuzzCandidates:  {`[{"candidateId":100001,"name":"Anna Weber","status":"Applicant","officeId":2,"entryDate":"2026-01-01T01:00:00Z"},{"candidateId":"100002","entryDate":"2026-01-01"},{"name":"no id"},{"candidateId":1.5}]`, `[null,{}]`},
		fuzzChangelog:   {`{"metadata":{"pageNumber":1,"pageSize":20,"totalPages":3,"totalRecords":41},"data":[{"id":1,"candidateId":100000,"status":"Updated","lastEditDate":"2026-01-01T06:00:00"},{"id":2,"candidateId":100001,"status":"Deleted"},{"id":3}]}`, `{"metadata":{"totalPages":1000000000},"data":[]}`, `{"data":[1,"x",null]}`},
		fuzzDetail:      {`{"id":100001,"candidateGuid":"g","officeId":2,"firstName":"A","lastName":"B","email":"a@b","address":{"phone1":"030 1234567","phone2":null}}`, `{"address":"none"}`, `null`, `[]`},
		fuzzToken:       {`{"access_token":"t","token_type":"Bearer","expires_in":3600}`, `{"access_token":"","expires_in":"x"}`, `{"token_type":"MAC","access_token":"t"}`},
		fuzzErrorBody:   {`{"type":"about:blank","title":"Bad Request","status":400,"detail":"PageSize is invalid."}`, `{"title":"One or more validation errors occurred.","errors":{"OfficeIds":["required"]}}`, `{"error":"invalid_client","error_description":7}`, ``},
	}
	for ep, bodies := range seeds {
		for _, b := range bodies {
			f.Add(ep, []byte(b))
			f.Add(ep, []byte(b[:len(b)/2])) // truncated
		}
	}

	data := sandbox.Dataset{Seed: 9, Size: 30, Groups: 3, Step: time.Hour}
	fake := zvoovefake.New(zvoovefake.Config{Dataset: data})
	h := fake.Handler()
	var cur atomic.Pointer[fuzzInput]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := cur.Load()
		p := r.URL.Path
		match := false
		switch in.endpoint % fuzzEndpoints {
		case fuzzDepartments, fuzzErrorBody:
			match = strings.HasSuffix(p, "/v1/departments")
		case fuzzCandidates:
			match = strings.HasSuffix(p, "/v1/candidates")
		case fuzzChangelog:
			match = strings.HasSuffix(p, "/changelog")
		case fuzzDetail:
			match = strings.Contains(p, "/v2/candidates/") && !strings.HasSuffix(p, "/changelog")
		case fuzzToken:
			match = strings.HasSuffix(p, zvoovefake.TokenPath)
		}
		if !match {
			h.ServeHTTP(w, r)
			return
		}
		status := http.StatusOK
		if in.endpoint%fuzzEndpoints == fuzzErrorBody {
			status = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(in.body)
	}))
	f.Cleanup(srv.Close)
	opts := connector.Options{Retry: connector.RetryPolicy{MaxAttempts: 1, AttemptTimeout: 5 * time.Second}}

	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		cur.Store(&fuzzInput{endpoint: endpoint, body: body})
		creds := fake.Credentials(srv.URL)
		if endpoint%fuzzEndpoints == fuzzToken {
			creds = fake.OAuthCredentials(srv.URL)
		}
		c, err := zvoove.New().Open(creds, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		ctx := context.Background()
		check := func(op string, err error) {
			if err == nil {
				return
			}
			msg := err.Error()
			if !strings.Contains(strings.ToLower(msg), "zvoove") {
				t.Fatalf("%s: error %q does not name zvoove", op, msg)
			}
			if strings.Contains(msg, zvoovefake.DefaultClientSecret) || strings.Contains(msg, zvoovefake.DefaultAPIKey) {
				t.Fatalf("%s: error %q shows a credential", op, msg)
			}
		}
		check("Check", c.Check(ctx))
		_, err = c.References(ctx, connector.ReferenceQuery{Search: "e", Limit: 2})
		check("References", err)
		for _, req := range []connector.FetchRequest{
			{Since: data.CreatedAt(3)},
			{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 3650}},
		} {
			for p, err := range c.Fetch(ctx, req) {
				check("Fetch "+req.SearchType, err)
				if p == nil {
					continue
				}
				for _, r := range p.Records {
					if r.ExternalID == "" && r.Problem == "" {
						t.Fatalf("record without ID and without problem: %+v", r)
					}
				}
			}
		}
		_, err = c.ParseWebhook(connector.WebhookRequest{Method: http.MethodPost, Body: body, Header: http.Header{}, Now: time.Now()})
		if !errors.Is(err, connector.ErrUnsupported) {
			t.Fatalf("ParseWebhook error = %v, want ErrUnsupported", err)
		}
	})
}
