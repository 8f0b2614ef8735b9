package hubspot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

func pushRequest(b *bundle, key, status string) connector.PushRequest {
	return connector.PushRequest{
		Key:        key,
		Contact:    connector.ContactRef{ExternalID: b.data.ExternalID(3)},
		Outcome:    schematype.OutcomeSuccess,
		Transcript: "Agent: Hello <Anna>\r\nAnna: Hi & welcome\n",
		QuestionResults: []schematype.QuestionResult{
			{Question: "Available from?", Answer: "March"},
			{Question: "Forklift licence?", Answer: "yes"},
		},
		CalledAt:     time.Date(2026, 2, 1, 10, 30, 0, 0, time.UTC),
		Duration:     95 * time.Second,
		MappedStatus: status,
	}
}

// callJSON is the call body the connector must send for pushRequest.
func callJSON(contactID, key string) string {
	return `{
		"properties": {
			"hs_timestamp": "2026-02-01T10:30:00.000Z",
			"hs_call_title": "AI call: Successful",
			"hs_call_body": "<p><strong>Outcome:</strong> Successful</p><p><strong>Questions</strong></p><ul><li>Available from?: March</li><li>Forklift licence?: yes</li></ul><p><strong>Transcript</strong></p><p>Agent: Hello &lt;Anna&gt;<br>Anna: Hi &amp; welcome</p><p>Intake reference: ` + key + `</p>",
			"hs_call_status": "COMPLETED",
			"hs_call_duration": "95000",
			"hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"
		},
		"associations": [{"to": {"id": "` + contactID + `"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]
	}`
}

// checkWrite compares a write the fake recorded with the expected one.
// HubSpot documents no Idempotency-Key, so none may be sent.
func checkWrite(t *testing.T, got sandbox.Write, method, path, body string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got.Body, &g); err != nil {
		t.Fatalf("write body %s: %v", got.Body, err)
	}
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatalf("expected body: %v", err)
	}
	if got.Method != method || got.Path != path || got.IdempotencyKey != "" || !reflect.DeepEqual(g, w) {
		t.Fatalf("write = %s %s (Idempotency-Key %q) %s\nwant %s %s (no key) %s", got.Method, got.Path, got.IdempotencyKey, got.Body, method, path, body)
	}
}

// checkRequests compares the requests the fake received with want.
func checkRequests(t *testing.T, b *bundle, want ...string) {
	t.Helper()
	if got := b.requests(); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests = %q\nwant %q", got, want)
	}
}

// markedCalls returns the calls of the contact that carry key's marker.
func markedCalls(b *bundle, contactID, key string) []hubspotfake.Call {
	var out []hubspotfake.Call
	for _, c := range b.fake.Calls() {
		if reflect.DeepEqual(c.ContactIDs, []string{contactID}) &&
			strings.HasSuffix(c.Properties["hs_call_body"], "<p>"+connector.Marker(key)+"</p>") {
			out = append(out, c)
		}
	}
	return out
}

// checkOnce checks that the contact has exactly one call, marked with
// key, and the lead status.
func checkOnce(t *testing.T, b *bundle, contactID, key, status string) {
	t.Helper()
	if calls, marked := b.fake.Calls(), markedCalls(b, contactID, key); len(calls) != 1 || len(marked) != 1 {
		t.Fatalf("%d calls logged, %d of them marked %q; want exactly one", len(calls), len(marked), key)
	}
	if s := b.fake.LeadStatus(contactID); s != status {
		t.Fatalf("lead status = %q, want %q", s, status)
	}
}

// onlyCreates restricts fault injection to the call create.
func onlyCreates(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/calls"
}

const (
	createCall = "POST /crm/v3/objects/calls"
	batchRead  = "POST /crm/v3/objects/calls/batch/read"
)

func listCalls(contactID string) string {
	return "GET /crm/v4/objects/contacts/" + contactID + "/associations/calls"
}

func TestPush(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 20}
	ctx := context.Background()
	id := data.ExternalID(3)

	t.Run("call and mapped status", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		if err := b.conn.Push(ctx, pushRequest(b, "k1", "CONNECTED")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		writes := b.fake.Writes.Writes()
		if len(writes) != 2 {
			t.Fatalf("%d writes, want 2", len(writes))
		}
		checkWrite(t, writes[0], http.MethodPost, "/crm/v3/objects/calls", callJSON(id, "k1"))
		checkWrite(t, writes[1], http.MethodPatch, "/crm/v3/objects/contacts/"+id, `{"properties":{"hs_lead_status":"CONNECTED"}}`)
		// A first delivery does not look: nothing can be there yet.
		checkRequests(t, b, createCall, "PATCH /crm/v3/objects/contacts/"+id)
		checkOnce(t, b, id, "k1", "CONNECTED")
	})
	t.Run("without status", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		if err := b.conn.Push(ctx, pushRequest(b, "k2", "")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		writes := b.fake.Writes.Writes()
		if len(writes) != 1 {
			t.Fatalf("%d writes, want 1", len(writes))
		}
		checkWrite(t, writes[0], http.MethodPost, "/crm/v3/objects/calls", callJSON(id, "k2"))
		checkOnce(t, b, id, "k2", "")
	})
	t.Run("not answered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := connector.PushRequest{Key: `k3 <&"'>`, Contact: connector.ContactRef{ExternalID: data.ExternalID(0)}, Outcome: schematype.OutcomeNotAnswered}
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		checkWrite(t, b.fake.Writes.Writes()[0], http.MethodPost, "/crm/v3/objects/calls", `{
			"properties": {
				"hs_timestamp": "2026-02-01T12:00:00.000Z",
				"hs_call_title": "AI call: Not answered",
				"hs_call_body": "<p><strong>Outcome:</strong> Not answered</p><p>Intake reference: k3 &lt;&amp;&#34;&#39;&gt;</p>",
				"hs_call_status": "COMPLETED",
				"hs_call_duration": "0",
				"hs_call_disposition": "73a0d17f-1163-4015-bdd5-ec830791da20"
			},
			"associations": [{"to": {"id": "`+data.ExternalID(0)+`"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]
		}`)
		// The escaped marker is found again.
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push again: %v", err)
		}
		if n := len(b.fake.Calls()); n != 1 {
			t.Fatalf("%d calls logged, want 1", n)
		}
	})
	t.Run("unknown status is a permanent error naming it", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		err := b.conn.Push(ctx, pushRequest(b, "k4", "HIRED"))
		var e *connector.Error
		if !errors.As(err, &e) || e.Temporary || e.StatusCode != http.StatusBadRequest || !strings.Contains(e.Message, `"HIRED"`) {
			t.Fatalf("Push = %#v, want a permanent 400 naming the status", err)
		}
		if connector.IsTemporary(err) || !strings.Contains(err.Error(), "HUBSPOT") || !strings.Contains(err.Error(), "INVALID_OPTION") {
			t.Fatalf("error %q", err)
		}
		if n := len(b.fake.Writes.Writes()); n != 2 {
			t.Fatalf("%d writes, want the call and one refused status", n)
		}
		checkOnce(t, b, id, "k4", "")
	})
	t.Run("redelivery after the call was logged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k5", "OPEN")
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push again: %v", err)
		}
		checkOnce(t, b, id, "k5", "OPEN")
		checkRequests(t, b, createCall, "PATCH /crm/v3/objects/contacts/"+id,
			listCalls(id), batchRead, "PATCH /crm/v3/objects/contacts/"+id)
	})
	t.Run("redelivery when no call was logged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k6", "OPEN")
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		checkOnce(t, b, id, "k6", "OPEN")
		checkRequests(t, b, listCalls(id), createCall, "PATCH /crm/v3/objects/contacts/"+id)
	})
	t.Run("another delivery's marker is not this one's", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		if err := b.conn.Push(ctx, pushRequest(b, "k10", "")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		p := pushRequest(b, "k1", "")
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if k10, k1 := markedCalls(b, id, "k10"), markedCalls(b, id, "k1"); len(k10) != 1 || len(k1) != 1 || len(b.fake.Calls()) != 2 {
			t.Fatalf("calls = %+v, want one for k10 and one for k1", b.fake.Calls())
		}
	})
	t.Run("lost answer of the create", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.Only(onlyCreates)
		b.fake.Faults.Next(sandbox.LostAnswer)
		if err := b.conn.Push(ctx, pushRequest(b, "k7", "OPEN")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		checkOnce(t, b, id, "k7", "OPEN")
		// The look found the call: the create was not sent again.
		checkRequests(t, b, createCall, listCalls(id), batchRead, "PATCH /crm/v3/objects/contacts/"+id)
		if n := b.fake.Faults.Injected()[sandbox.LostAnswer]; n != 1 {
			t.Fatalf("%d answers lost, want 1", n)
		}
	})
	t.Run("refusals of the create", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRetryAfter(0)
		b.fake.Faults.Only(onlyCreates)
		// A 500 and a garbled 200 may have taken effect, so the connector
		// looks before it retries; a 429 refused the create.
		b.fake.Faults.Next(sandbox.ServerError, sandbox.RateLimit, sandbox.Malformed)
		if err := b.conn.Push(ctx, pushRequest(b, "k8", "OPEN")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		checkOnce(t, b, id, "k8", "OPEN")
		checkRequests(t, b, createCall, listCalls(id), createCall, createCall, listCalls(id), createCall,
			"PATCH /crm/v3/objects/contacts/"+id)
	})
	t.Run("a look that fails leaves the delivery to a redelivery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.Only(func(r *http.Request) bool { return onlyCreates(r) || r.Method == http.MethodGet })
		b.fake.Faults.Next(sandbox.LostAnswer)
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		p := pushRequest(b, "k9", "OPEN")
		err := b.conn.Push(ctx, p)
		if !connector.IsTemporary(err) {
			t.Fatalf("Push = %v, want a temporary error", err)
		}
		// Whether the create took effect was unknown: it was not sent again.
		if n := len(b.fake.Writes.Writes()); n != 1 {
			t.Fatalf("%d writes, want the one create", n)
		}
		b.fake.Faults.Reset()
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
		checkOnce(t, b, id, "k9", "OPEN")
	})
	t.Run("marker among many calls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k11", "")
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		// 650 later calls of the contact: two pages of associations, and
		// the marked call, the oldest, in the last of seven batch reads.
		for i := range 650 {
			b.fake.AddCall(map[string]string{"hs_call_body": fmt.Sprintf("<p>Intake reference: k11-%d</p>", i)}, id)
		}
		p.Redelivery = true
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push again: %v", err)
		}
		if n := len(markedCalls(b, id, "k11")); n != 1 || len(b.fake.Calls()) != 651 {
			t.Fatalf("%d marked calls of %d, want 1 of 651", n, len(b.fake.Calls()))
		}
		want := []string{createCall, listCalls(id), listCalls(id)}
		for range 7 {
			want = append(want, batchRead)
		}
		checkRequests(t, b, want...)
	})
	t.Run("long transcript is cut, the marker kept", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k12", "")
		p.Transcript = strings.Repeat("Anna: ja <ok> ü\n", 10000)
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		body := b.fake.Calls()[0].Properties["hs_call_body"]
		if len(body) > 65000 || !strings.HasSuffix(body, "…</p><p>Intake reference: k12</p>") || !utf8.ValidString(body) || strings.Contains(body, "<ok>") {
			t.Fatalf("body of %d bytes ends %q", len(body), body[max(len(body)-60, 0):])
		}
	})
	t.Run("many questions are cut, the marker kept", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k13", "")
		for i := range 5000 {
			p.QuestionResults = append(p.QuestionResults, schematype.QuestionResult{Question: fmt.Sprintf("Question %d?", i), Answer: "yes"})
		}
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		body := b.fake.Calls()[0].Properties["hs_call_body"]
		if len(body) > 65000 || !strings.HasSuffix(body, "<li>…</li></ul><p>Intake reference: k13</p>") || strings.Contains(body, "Transcript") {
			t.Fatalf("body of %d bytes ends %q", len(body), body[max(len(body)-60, 0):])
		}
	})
	for _, tc := range []struct {
		name string
		p    connector.PushRequest
	}{
		{"contact ID that is not an ID", connector.PushRequest{Key: "k", Contact: connector.ContactRef{ExternalID: "../lists"}}},
		{"no delivery key", connector.PushRequest{Contact: connector.ContactRef{ExternalID: "100001"}}},
		{"delivery key too long", connector.PushRequest{Key: strings.Repeat("k", 257), Contact: connector.ContactRef{ExternalID: "100001"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, data)
			b.sendsNothing = true
			if err := b.conn.Push(ctx, tc.p); err == nil {
				t.Fatal("Push succeeded")
			}
			if n := len(b.requests()); n != 0 {
				t.Fatalf("%d requests sent", n)
			}
		})
	}
	t.Run("unknown contact", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k14", "")
		p.Contact.ExternalID = "999"
		err := b.conn.Push(ctx, p)
		if err == nil || connector.IsTemporary(err) || !strings.Contains(err.Error(), "contact 999 does not exist") {
			t.Fatalf("Push = %v, want a permanent error naming the contact", err)
		}
	})
}

// TestPushUnreliable is the incident: 60 results pushed while a fifth of
// the requests fail, half of those after taking effect. Each delivery is
// repeated, as a redelivery, until it succeeds; HubSpot must end with one
// call per result.
func TestPushUnreliable(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 2, Size: 60}
	b := setup(t, data)
	b.fake.Faults.SetRetryAfter(0)
	b.fake.Faults.SetRate(sandbox.RateLimit, 0.05)
	b.fake.Faults.SetRate(sandbox.ServerError, 0.05)
	b.fake.Faults.SetRate(sandbox.LostAnswer, 0.1)
	ctx := context.Background()
	for i := range 60 {
		p := connector.PushRequest{
			Key:          fmt.Sprintf("delivery-%d", i),
			Contact:      connector.ContactRef{ExternalID: data.ExternalID(i)},
			Outcome:      schematype.OutcomeSuccess,
			MappedStatus: "CONNECTED",
		}
		for attempt := 1; ; attempt++ {
			err := b.conn.Push(ctx, p)
			if err == nil {
				break
			}
			if !connector.IsTemporary(err) || attempt == 10 {
				t.Fatalf("delivery %d, attempt %d: %v", i, attempt, err)
			}
			p.Redelivery = true
		}
	}
	if n := len(b.fake.Calls()); n != 60 {
		t.Errorf("%d calls logged for 60 results", n)
	}
	for i := range 60 {
		if n := len(markedCalls(b, data.ExternalID(i), fmt.Sprintf("delivery-%d", i))); n != 1 {
			t.Errorf("delivery %d: %d calls", i, n)
		}
	}
	if n := b.fake.Faults.Injected()[sandbox.LostAnswer]; n == 0 {
		t.Fatal("no answer was lost: the test proves nothing")
	}
}
