package ats_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

// FuzzResponses answers every request of the connector with the fuzzed
// status and body, and feeds the body to ParseWebhook: nothing may panic,
// and every error names the provider.
func FuzzResponses(f *testing.F) {
	seeds := []string{
		`{"status":"success","data":{"next":null,"results":[{"id":"a1","candidate_id":"c1","job_id":"j1","remote_created_at":"2026-02-01T10:00:00Z"}]}}`,
		`{"status":"success","data":{"next":"n2","results":[{"id":"a1","candidate_id":"c1"},{"id":2},null,"x"]}}`,
		`{"status":"success","data":{"id":"c1","first_name":"Ada","phone_numbers":[{"phone_number":"0151 1","type":"mobile"}],"email_addresses":[{"email_address":"a@b.c"}],"changed_at":"2026-02-02T10:00:00Z"}}`,
		`{"status":"success","data":{"id":"job-1","name":"Pflege","stages":[{"id":"s1","name":"accepted"}]}}`,
		`{"type":"application.created","data":{"application_id":"app-1"}}`,
		`{"status":"error","message":"invalid or missing API key"}`,
		`{"status":"success","data":{"next":"n","results":[`,
		`{"status":"success","data":null}`,
		`{"status":1}`,
		``,
		`[]`,
		`{"status":"success","data":{"next":"n2","results":[{"id":"n1","content":"Call result: Success\n\nIntake reference: k"},{"content":null}]}}`,
	}
	for _, s := range seeds {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(1), []byte(seeds[5]))
	f.Add(uint8(2), []byte(`<html>bad gateway</html>`))

	statuses := []int{http.StatusOK, http.StatusUnauthorized, http.StatusBadGateway, http.StatusNotFound, http.StatusNoContent}
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, code uint8, body []byte) {
		status := statuses[int(code)%len(statuses)]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		conn, err := talention.New().Open(
			connector.Credentials{"baseURL": srv.URL, "apiKey": "k", "webhookSecret": atsfake.DefaultWebhookSecret},
			connector.Options{Retry: connector.RetryPolicy{MaxAttempts: 1, AttemptTimeout: 5 * time.Second}},
		)
		if err != nil {
			t.Fatal(err)
		}
		clear := func(op string, err error) {
			if err != nil && !strings.HasPrefix(err.Error(), "TALENTION: ") {
				t.Fatalf("%s: error %q does not name the provider", op, err)
			}
		}
		ctx := context.Background()
		pages := 0
		for _, err := range conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchNewApplications}) {
			clear("Fetch", err)
			if pages++; pages > 3 {
				break
			}
		}
		_, err = conn.References(ctx, connector.ReferenceQuery{})
		clear("References", err)
		clear("Check", conn.Check(ctx))
		push := connector.PushRequest{
			Key:          "k",
			Contact:      connector.ContactRef{ExternalID: "c1", Attributes: map[string]any{ats.AttrApplicationID: "a1", ats.AttrJobID: "job-1"}},
			MappedStatus: "accepted",
		}
		clear("Push", conn.Push(ctx, push))
		// A redelivery first pages through the candidate's notes.
		push.Redelivery = true
		clear("Push (redelivery)", conn.Push(ctx, push))

		_, err = conn.ParseWebhook(connector.WebhookRequest{Header: atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now, body), Body: body, Now: now})
		clear("ParseWebhook", err)
		if _, err := conn.ParseWebhook(connector.WebhookRequest{Body: body, Now: now}); !errors.Is(err, connector.ErrUnauthorized) {
			t.Fatalf("an unsigned webhook was not refused: %v", err)
		}
	})
}
