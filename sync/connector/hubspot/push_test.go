package hubspot_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
)

func pushRequest(b *bundle, key, status string) connector.PushRequest {
	return connector.PushRequest{
		Key: key,
		Contact:        connector.ContactRef{ExternalID: b.data.ExternalID(3)},
		Outcome:        connector.OutcomeSuccess,
		Transcript:     "Agent: Hello <Anna>\r\nAnna: Hi & welcome\n",
		QuestionResults: []connector.QuestionResult{
			{Question: "Available from?", Answer: "March"},
			{Question: "Forklift licence?", Answer: "yes"},
		},
		CalledAt:     time.Date(2026, 2, 1, 10, 30, 0, 0, time.UTC),
		Duration:     95 * time.Second,
		MappedStatus: status,
	}
}

// callJSON is the call body the connector must send for pushRequest.
func callJSON(contactID string) string {
	return `{
		"properties": {
			"hs_timestamp": "2026-02-01T10:30:00.000Z",
			"hs_call_title": "AI call: Successful",
			"hs_call_body": "<p><strong>Outcome:</strong> Successful</p><p><strong>Questions</strong></p><ul><li>Available from?: March</li><li>Forklift licence?: yes</li></ul><p><strong>Transcript</strong></p><p>Agent: Hello &lt;Anna&gt;<br>Anna: Hi &amp; welcome</p>",
			"hs_call_status": "COMPLETED",
			"hs_call_duration": "95000",
			"hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"
		},
		"associations": [{"to": {"id": "` + contactID + `"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]
	}`
}

// checkWrite compares a write the fake recorded with the expected one.
func checkWrite(t *testing.T, got sandbox.Write, method, path, key, body string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got.Body, &g); err != nil {
		t.Fatalf("write body %s: %v", got.Body, err)
	}
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatalf("expected body: %v", err)
	}
	if got.Method != method || got.Path != path || got.IdempotencyKey != key || !reflect.DeepEqual(g, w) {
		t.Fatalf("write = %s %s (key %q) %s\nwant %s %s (key %q) %s", got.Method, got.Path, got.IdempotencyKey, got.Body, method, path, key, body)
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 20}
	ctx := context.Background()

	t.Run("call and mapped status", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		id := data.ExternalID(3)
		if err := b.conn.Push(ctx, pushRequest(b, "k1", "CONNECTED")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		writes := b.fake.Writes.Writes()
		if len(writes) != 2 {
			t.Fatalf("%d writes, want 2", len(writes))
		}
		checkWrite(t, writes[0], http.MethodPost, "/crm/v3/objects/calls", "k1:call", callJSON(id))
		checkWrite(t, writes[1], http.MethodPatch, "/crm/v3/objects/contacts/"+id, "k1:status", `{"properties":{"hs_lead_status":"CONNECTED"}}`)
		if s := b.fake.LeadStatus(id); s != "CONNECTED" {
			t.Fatalf("lead status = %q", s)
		}
		if calls := b.fake.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0].ContactIDs, []string{id}) {
			t.Fatalf("calls = %+v", calls)
		}
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
		checkWrite(t, writes[0], http.MethodPost, "/crm/v3/objects/calls", "k2:call", callJSON(data.ExternalID(3)))
		if s := b.fake.LeadStatus(data.ExternalID(3)); s != "" {
			t.Fatalf("lead status = %q, want unchanged", s)
		}
	})
	t.Run("not answered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := connector.PushRequest{Key: "k3", Contact: connector.ContactRef{ExternalID: data.ExternalID(0)}, Outcome: connector.OutcomeNotAnswered}
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		checkWrite(t, b.fake.Writes.Writes()[0], http.MethodPost, "/crm/v3/objects/calls", "k3:call", `{
			"properties": {
				"hs_timestamp": "2026-02-01T12:00:00.000Z",
				"hs_call_title": "AI call: Not answered",
				"hs_call_body": "<p><strong>Outcome:</strong> Not answered</p>",
				"hs_call_status": "COMPLETED",
				"hs_call_duration": "0",
				"hs_call_disposition": "73a0d17f-1163-4015-bdd5-ec830791da20"
			},
			"associations": [{"to": {"id": "`+data.ExternalID(0)+`"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]
		}`)
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
		if s := b.fake.LeadStatus(data.ExternalID(3)); s != "" {
			t.Fatalf("lead status = %q, want unchanged", s)
		}
		if n := len(b.fake.Writes.Writes()); n != 2 {
			t.Fatalf("%d writes, want the call and one refused status", n)
		}
	})
	t.Run("same key twice takes effect once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		for range 2 {
			if err := b.conn.Push(ctx, pushRequest(b, "k5", "OPEN")); err != nil {
				t.Fatalf("Push: %v", err)
			}
		}
		if got := b.fake.Writes.Effects(); !reflect.DeepEqual(got, map[string]int{"k5:call": 1, "k5:status": 1}) {
			t.Fatalf("effects = %v", got)
		}
		if n := len(b.fake.Calls()); n != 1 {
			t.Fatalf("%d calls logged, want 1", n)
		}
		writes := b.fake.Writes.Writes()
		if len(writes) != 4 || writes[0].Replay || writes[1].Replay || !writes[2].Replay || !writes[3].Replay {
			t.Fatalf("writes = %+v, want two writes then two replays", writes)
		}
	})
	t.Run("retried after faults", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		b.fake.Faults.SetRetryAfter(0)
		b.fake.Faults.Next(sandbox.ServerError, sandbox.RateLimit, sandbox.NoFault, sandbox.Malformed)
		if err := b.conn.Push(ctx, pushRequest(b, "k6", "OPEN")); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if got := b.fake.Writes.Effects(); !reflect.DeepEqual(got, map[string]int{"k6:call": 1, "k6:status": 1}) {
			t.Fatalf("effects = %v", got)
		}
		if s := b.fake.LeadStatus(data.ExternalID(3)); s != "OPEN" {
			t.Fatalf("lead status = %q", s)
		}
	})
	t.Run("long transcript is cut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, data)
		p := pushRequest(b, "k7", "")
		p.Transcript = strings.Repeat("Anna: ja <ok> ü\n", 10000)
		if err := b.conn.Push(ctx, p); err != nil {
			t.Fatalf("Push: %v", err)
		}
		body := b.fake.Calls()[0].Properties["hs_call_body"]
		if len(body) > 65000 || !strings.HasSuffix(body, "…</p>") || !utf8.ValidString(body) || strings.Contains(body, "<ok>") {
			t.Fatalf("body of %d bytes ends %q", len(body), body[max(len(body)-40, 0):])
		}
	})
	for _, tc := range []struct {
		name string
		p    connector.PushRequest
	}{
		{"contact ID that is not an ID", connector.PushRequest{Key: "k", Contact: connector.ContactRef{ExternalID: "../lists"}}},
		{"no idempotency key", connector.PushRequest{Contact: connector.ContactRef{ExternalID: "100001"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, data)
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
		p := pushRequest(b, "k8", "")
		p.Contact.ExternalID = "999"
		err := b.conn.Push(ctx, p)
		if err == nil || connector.IsTemporary(err) || !strings.Contains(err.Error(), "contact 999 does not exist") {
			t.Fatalf("Push = %v, want a permanent error naming the contact", err)
		}
	})
}
