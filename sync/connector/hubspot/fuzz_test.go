package hubspot_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// fakeBodies returns the fake's answers to each request the connector
// makes, as fuzz seeds.
func fakeBodies(tb testing.TB) [][]byte {
	tb.Helper()
	fake := hubspotfake.New(hubspotfake.Config{Dataset: sandbox.Dataset{Seed: 1, Size: 30}})
	h := fake.Handler()
	var out [][]byte
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/crm/v3/objects/contacts?limit=1", ""},
		{"POST", "/crm/v3/objects/contacts/search", `{"filterGroups":[{"filters":[{"propertyName":"createdate","operator":"GTE","value":"0"}]}],"properties":["firstname","phone","mobilephone"],"limit":3}`},
		{"GET", "/crm/v3/lists/1/memberships?limit=3", ""},
		{"POST", "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"100000"},{"id":"1"}],"properties":["email","createdate"]}`},
		{"POST", "/crm/v3/lists/search", `{"count":2}`},
		{"PATCH", "/crm/v3/objects/contacts/100000", `{"properties":{"hs_lead_status":"HIRED"}}`},
		{"POST", "/crm/v3/objects/calls", `{"properties":{"hs_timestamp":"2026-02-01T10:30:00.000Z","hs_call_body":"<p>Intake reference: k</p>"},"associations":[{"to":{"id":"100001"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":194}]}]}`},
		{"GET", "/crm/v4/objects/contacts/100001/associations/calls?limit=500", ""},
		{"POST", "/crm/v3/objects/calls/batch/read", `{"properties":["hs_call_body"],"inputs":[{"id":"50000001"},{"id":"7"}]}`},
		{"GET", "/crm/v3/objects/contacts", ""}, // unauthorised
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		if !strings.HasSuffix(r.path, "/contacts") {
			req.Header.Set("Authorization", "Bearer "+hubspotfake.DefaultAccessToken)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out = append(out, rec.Body.Bytes())
	}
	fake.Contract.Verify(tb)
	return out
}

// FuzzResponses answers every request of the connector with the fuzz
// input: whatever HubSpot sends, the connector neither panics nor loses a
// record silently, and its errors name HubSpot.
func FuzzResponses(f *testing.F) {
	for _, b := range fakeBodies(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"results":null}`, `{"results":[1,"x",{"id":7}],"paging":{"next":{"after":5}}}`,
		`{"total":-3,"results":[{"id":"1","properties":{"createdate":"soon"}}],"paging":{"next":{"after":"1"}}}`,
		`{"results":[{"recordId":"1"},{"recordId":2}],"paging":{"next":{}}}`, `{"lists":[{"listId":1,"name":"x"}],"hasMore":true,"offset":-1}`} {
		f.Add([]byte(s))
	}
	var answer atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*answer.Load())
	}))
	defer srv.Close()
	conn, err := hubspot.New().Open(
		connector.Credentials{"accessToken": "token", "baseURL": srv.URL},
		connector.Options{Retry: connector.RetryPolicy{MaxAttempts: 1, AttemptTimeout: 5 * time.Second}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		answer.Store(&body)
		ctx := context.Background()
		check := func(what string, err error) {
			if err != nil && !strings.Contains(strings.ToLower(err.Error()), "hubspot") {
				t.Fatalf("%s: error %q does not name HubSpot", what, err)
			}
		}
		check("Check", conn.Check(ctx))
		_, err := conn.References(ctx, connector.ReferenceQuery{})
		check("References", err)
		for _, req := range []connector.FetchRequest{{}, {References: []connector.Reference{{ExternalID: "1", Kind: schematype.ReferenceList}}}} {
			pages := 0
			for page, err := range conn.Fetch(ctx, req) {
				if err != nil {
					check("Fetch", err)
					break
				}
				for _, r := range page.Records {
					if r.ExternalID == "" && r.Problem == "" {
						t.Fatalf("record without an ID and without a problem: %+v", r)
					}
				}
				if pages++; pages == 20 {
					break
				}
			}
		}
		for _, redelivery := range []bool{false, true} {
			check("Push", conn.Push(ctx, connector.PushRequest{Key: "k", Redelivery: redelivery, Contact: connector.ContactRef{ExternalID: "1"}, MappedStatus: "OPEN"}))
		}
	})
}

// FuzzParseWebhook feeds arbitrary bodies, signed or not, at arbitrary
// times: nothing unsigned or stale is accepted and nothing panics.
func FuzzParseWebhook(f *testing.F) {
	valid := []byte(`[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1769947200000,"subscriptionType":"contact.creation","objectId":100001,"attemptNumber":0}]`)
	f.Add(valid, true, int64(0))
	f.Add(valid[:len(valid)/2], true, int64(0))
	f.Add(valid, false, int64(0))
	f.Add(valid, true, int64(-6*time.Minute/time.Millisecond))
	f.Add([]byte(`[{"eventId":"x","objectId":{}}]`), true, int64(1000))
	f.Add([]byte(`null`), true, int64(0))
	conn, err := hubspot.New().Open(connector.Credentials{"accessToken": "t", "webhookSecret": "secret"}, connector.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, sign bool, offsetMs int64) {
		sent := now.Add(time.Duration(offsetMs) * time.Millisecond)
		h := hubspotfake.SignWebhook("secret", http.MethodPost, webhookURL, body, sent)
		if !sign {
			h.Set(hubspotfake.SignatureHeader, string(bytes.ToValidUTF8(body, nil)))
		}
		events, err := conn.ParseWebhook(connector.WebhookRequest{Method: http.MethodPost, URL: webhookURL, Header: h, Body: body, Now: now})
		if err != nil {
			if !strings.Contains(err.Error(), "hubspot webhook") {
				t.Fatalf("error %q does not name HubSpot", err)
			}
			if !sign && !errors.Is(err, connector.ErrUnauthorized) {
				t.Fatalf("unsigned webhook refused with %q, not as unauthorized", err)
			}
			return
		}
		if !sign {
			t.Fatalf("accepted an unsigned webhook: %d events", len(events))
		}
		if age := now.Sub(sent); age > connector.MaxWebhookAge || age < -connector.MaxWebhookAge {
			t.Fatalf("accepted a webhook sent %v from now", age)
		}
	})
}
