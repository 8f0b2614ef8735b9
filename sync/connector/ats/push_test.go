package ats_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

// person is whose call result the push tests deliver: job-4 (group 3).
const person = 8

func (b *bundle) pushRequest(key, status string) connector.PushRequest {
	return connector.PushRequest{
		Key: key,
		Contact:        connector.ContactRef{ExternalID: b.want(person).ExternalID, Attributes: b.want(person).Attributes},
		Outcome:        connector.OutcomeSuccess,
		Transcript:     "Agent: Guten Tag!\nCandidate: Hallo.\n",
		QuestionResults: []connector.QuestionResult{
			{Question: "Führerschein vorhanden?", Answer: "Ja"},
			{Question: "Ab wann verfügbar?", Answer: "Ab 1. März"},
		},
		CalledAt:     time.Date(2026, 3, 4, 9, 15, 30, 0, time.FixedZone("CET", 3600)),
		Duration:     155400 * time.Millisecond,
		MappedStatus: status,
	}
}

const noteWithStatus = `Call result: Success
Called at: 2026-03-04 08:15:30 UTC
Duration: 2m35s
Status: accepted

Questions:
- Führerschein vorhanden?
  Answer: Ja
- Ab wann verfügbar?
  Answer: Ab 1. März

Transcript:
Agent: Guten Tag!
Candidate: Hallo.`

// write is a recorded write, reduced to what the tests compare.
type write struct {
	Method, Path, Key string
	Body              map[string]string
	Replay            bool
}

func (b *bundle) writes(t *testing.T) []write {
	t.Helper()
	var out []write
	for _, w := range b.fake.Writes.Writes() {
		var body map[string]string
		if err := json.Unmarshal(w.Body, &body); err != nil {
			t.Fatalf("write %s %s has body %s: %v", w.Method, w.Path, w.Body, err)
		}
		out = append(out, write{w.Method, w.Path, w.IdempotencyKey, body, w.Replay})
	}
	return out
}

func sameWrites(t *testing.T, got, want []write) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("writes:\n got %+v\nwant %+v", got, want)
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	noteOnly := strings.Replace(noteWithStatus, "Status: accepted\n", "", 1)
	appID := atsfake.ApplicationID(sandbox.Dataset{Seed: 7, Size: 60}, person)
	candidateID := "100008"
	notePath, stagePath := "/candidates/"+candidateID+"/notes", "/applications/"+appID+"/stage"

	t.Run("a mapped status writes the note and moves the stage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", " accepted ")), "Push")
		sameWrites(t, b.writes(t), []write{
			{"POST", notePath, "d1:note", map[string]string{"content": noteWithStatus}, false},
			{"PUT", stagePath, "d1:stage", map[string]string{"stage_id": atsfake.StageID(3, "Accepted")}, false},
		})
		if stage, _ := b.fake.Stage(appID); stage != "Accepted" {
			t.Fatalf("application is in stage %q, want Accepted", stage)
		}
	})

	for _, p := range providers() {
		t.Run(p.Descriptor().Name+"/no status writes only the note", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "")), "Push")
			sameWrites(t, b.writes(t), []write{{"POST", notePath, "d1:note", map[string]string{"content": noteOnly}, false}})
			if stage, _ := b.fake.Stage(appID); stage != "New" {
				t.Fatalf("application is in stage %q, want New", stage)
			}
			if notes := b.fake.Notes(candidateID); !reflect.DeepEqual(notes, []string{noteOnly}) {
				t.Fatalf("notes = %q", notes)
			}
		})
	}

	t.Run("an unknown status is a permanent error naming it and writes nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		err := b.conn.Push(context.Background(), b.pushRequest("d1", "hired"))
		var e *connector.Error
		if !errors.As(err, &e) || e.Temporary {
			t.Fatalf("Push error = %v, want a permanent *connector.Error", err)
		}
		for _, part := range []string{`"hired"`, atsfake.JobName(3), atsfake.JobID(3), `"Accepted"`} {
			if !strings.Contains(e.Message, part) {
				t.Fatalf("message %q does not mention %s", e.Message, part)
			}
		}
		sameWrites(t, b.writes(t), nil)
	})

	t.Run("a redelivery with the same key takes effect once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		for range 2 {
			must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")), "Push")
		}
		if got := b.fake.Writes.Effects(); !reflect.DeepEqual(got, map[string]int{"d1:note": 1, "d1:stage": 1}) {
			t.Fatalf("effects = %v", got)
		}
		if w := b.writes(t); len(w) != 4 || !w[2].Replay || !w[3].Replay {
			t.Fatalf("writes = %+v, want the second delivery replayed", w)
		}
		if notes := b.fake.Notes(candidateID); len(notes) != 1 {
			t.Fatalf("%d notes written", len(notes))
		}
	})

	t.Run("a delivery that failed after its note completes on retry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return r.Method == http.MethodPut })
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		if err := b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")); !connector.IsTemporary(err) {
			t.Fatalf("Push error = %v, want a temporary error", err)
		}
		b.fake.Faults.Reset()
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")), "redelivery")
		if got := b.fake.Writes.Effects(); !reflect.DeepEqual(got, map[string]int{"d1:note": 1, "d1:stage": 1}) {
			t.Fatalf("effects = %v", got)
		}
		if stage, _ := b.fake.Stage(appID); stage != "Accepted" {
			t.Fatalf("application is in stage %q", stage)
		}
	})

	t.Run("a passing server error on the note is retried with its key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return r.Method == http.MethodPost })
		b.fake.Faults.Next(sandbox.ServerError)
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "")), "Push")
		if got := b.fake.Writes.Effects(); !reflect.DeepEqual(got, map[string]int{"d1:note": 1}) {
			t.Fatalf("effects = %v", got)
		}
	})

	t.Run("a status without application attributes is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		req := b.pushRequest("d1", "accepted")
		req.Contact.Attributes = map[string]any{ats.AttrJobID: atsfake.JobID(3)}
		err := b.conn.Push(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), ats.AttrApplicationID) {
			t.Fatalf("Push error = %v, want one naming %s", err, ats.AttrApplicationID)
		}
		sameWrites(t, b.writes(t), nil)
	})

	t.Run("an unknown candidate is a permanent 404", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		req := b.pushRequest("d1", "")
		req.Contact.ExternalID = "999"
		err := b.conn.Push(context.Background(), req)
		var e *connector.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || e.Temporary || !strings.Contains(err.Error(), "candidate not found") {
			t.Fatalf("Push error = %v, want a permanent 404", err)
		}
	})

	t.Run("a contact without external ID is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		req := b.pushRequest("d1", "")
		req.Contact.ExternalID = ""
		if err := b.conn.Push(context.Background(), req); err == nil {
			t.Fatal("Push accepted a contact without external ID")
		}
	})

	t.Run("without status mapping a status is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, compleet.New())
		err := b.conn.Push(context.Background(), b.pushRequest("d1", "accepted"))
		if err == nil || !strings.Contains(err.Error(), "COMPLEET") || !strings.Contains(err.Error(), `"accepted"`) {
			t.Fatalf("Push error = %v, want one refusing the status", err)
		}
		sameWrites(t, b.writes(t), nil)
	})
}
