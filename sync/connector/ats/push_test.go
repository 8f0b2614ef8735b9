package ats_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
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
		Key:        key,
		Contact:    connector.ContactRef{ExternalID: b.want(person).ExternalID, Attributes: b.want(person).Attributes},
		Outcome:    schematype.OutcomeSuccess,
		Transcript: "Agent: Guten Tag!\nCandidate: Hallo.\n",
		QuestionResults: []schematype.QuestionResult{
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
Candidate: Hallo.

Intake reference: d1`

// write is a recorded write, reduced to what the tests compare.
type write struct {
	Method, Path string
	Body         map[string]string
}

func (b *bundle) writes(t *testing.T) []write {
	t.Helper()
	var out []write
	for _, w := range b.fake.Writes.Writes() {
		var body map[string]string
		if err := json.Unmarshal(w.Body, &body); err != nil {
			t.Fatalf("write %s %s has body %s: %v", w.Method, w.Path, w.Body, err)
		}
		if w.IdempotencyKey != "" {
			t.Fatalf("write %s %s has an Idempotency-Key, which the API does not document", w.Method, w.Path)
		}
		out = append(out, write{w.Method, w.Path, body})
	}
	return out
}

func sameWrites(t *testing.T, got, want []write) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("writes:\n got %+v\nwant %+v", got, want)
	}
}

// marked counts the notes on the person's candidate whose last line is
// the marker of key: what the recruiter would see as that delivery.
func (b *bundle) marked(key string) int {
	n := 0
	for _, note := range b.fake.Notes(b.data.ExternalID(person)) {
		lines := strings.Split(note, "\n")
		if lines[len(lines)-1] == connector.Marker(key) {
			n++
		}
	}
	return n
}

// wantNotes fails unless the person's candidate has exactly one note of
// each key in keys and no other note.
func (b *bundle) wantNotes(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if n := b.marked(k); n != 1 {
			t.Fatalf("%d notes carry the marker of %s, want exactly 1", n, k)
		}
	}
	if n := len(b.fake.Notes(b.data.ExternalID(person))); n != len(keys) {
		t.Fatalf("%d notes written, want %d", n, len(keys))
	}
}

func (b *bundle) wantStage(t *testing.T, want string) {
	t.Helper()
	if stage, _ := b.fake.Stage(atsfake.ApplicationID(b.data, person)); stage != want {
		t.Fatalf("application is in stage %q, want %s", stage, want)
	}
}

// isNoteCreate matches the requests that create a note.
func isNoteCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes")
}

// statusFor is the status a provider's push tests map: Compleet has no
// status mapping.
func statusFor(p connector.Provider) (status, stage string) {
	if p.Descriptor().SupportsStatusMapping {
		return "accepted", "Accepted"
	}
	return "", "New"
}

func TestPush(t *testing.T) {
	t.Parallel()
	noteOnly := strings.Replace(noteWithStatus, "Status: accepted\n", "", 1)
	appID := atsfake.ApplicationID(sandbox.Dataset{Seed: 7, Size: 60}, person)
	candidateID := "100008"
	notePath, stagePath := "/candidates/"+candidateID+"/notes", "/applications/"+appID+"/stage"

	t.Run("a mapped status writes the marked note and moves the stage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", " accepted ")), "Push")
		sameWrites(t, b.writes(t), []write{
			{"POST", notePath, map[string]string{"content": noteWithStatus}},
			{"PUT", stagePath, map[string]string{"stage_id": atsfake.StageID(3, "Accepted")}},
		})
		b.wantStage(t, "Accepted")
		if n := b.noteListRequests(); n != 0 {
			t.Fatalf("a first delivery without failures looked through the notes %d times", n)
		}
	})

	for _, p := range providers() {
		t.Run(p.Descriptor().Name+"/no status writes only the note", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "")), "Push")
			sameWrites(t, b.writes(t), []write{{"POST", notePath, map[string]string{"content": noteOnly}}})
			b.wantStage(t, "New")
			if notes := b.fake.Notes(candidateID); !reflect.DeepEqual(notes, []string{noteOnly}) {
				t.Fatalf("notes = %q", notes)
			}
		})
	}

	t.Run("an unknown status is a permanent error naming it and writes nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		req := b.pushRequest("d1", "hired")
		req.Redelivery = true
		err := b.conn.Push(context.Background(), req)
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
		if n := b.noteListRequests(); n != 0 {
			t.Fatalf("the notes were listed %d times before the status was known", n)
		}
	})

	t.Run("a delivery that failed after its note completes on redelivery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return r.Method == http.MethodPut })
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		if err := b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")); !connector.IsTemporary(err) {
			t.Fatalf("Push error = %v, want a temporary error", err)
		}
		b.fake.Faults.Reset()
		req := b.pushRequest("d1", "accepted")
		req.Redelivery = true
		must(t, b.conn.Push(context.Background(), req), "redelivery")
		b.wantNotes(t, "d1")
		b.wantStage(t, "Accepted")
		if n := b.notesPosted(); n != 1 {
			t.Fatalf("%d notes posted, want 1", n)
		}
	})

	t.Run("a delivery without key is refused before any request", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		err := b.conn.Push(context.Background(), b.pushRequest("", "accepted"))
		if err == nil || !strings.Contains(err.Error(), "no key") || connector.IsTemporary(err) {
			t.Fatalf("Push error = %v, want a permanent error about the key", err)
		}
	})

	t.Run("a status without application attributes is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		req := b.pushRequest("d1", "accepted")
		req.Contact.Attributes = map[string]any{ats.AttrJobID: atsfake.JobID(3)}
		err := b.conn.Push(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), ats.AttrApplicationID) {
			t.Fatalf("Push error = %v, want one naming %s", err, ats.AttrApplicationID)
		}
	})

	t.Run("an unknown candidate is a permanent 404", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		for _, redelivery := range []bool{false, true} {
			req := b.pushRequest("d1", "")
			req.Contact.ExternalID = "999"
			req.Redelivery = redelivery
			err := b.conn.Push(context.Background(), req)
			var e *connector.Error
			if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || e.Temporary || !strings.Contains(err.Error(), "candidate not found") {
				t.Fatalf("redelivery %v: Push error = %v, want a permanent 404", redelivery, err)
			}
		}
	})

	t.Run("a contact without external ID is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		req := b.pushRequest("d1", "")
		req.Contact.ExternalID = ""
		if err := b.conn.Push(context.Background(), req); err == nil {
			t.Fatal("Push accepted a contact without external ID")
		}
	})

	t.Run("without status mapping a status is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, compleet.New())
		b.expectNoRequests()
		err := b.conn.Push(context.Background(), b.pushRequest("d1", "accepted"))
		if err == nil || !strings.Contains(err.Error(), "COMPLEET") || !strings.Contains(err.Error(), `"accepted"`) {
			t.Fatalf("Push error = %v, want one refusing the status", err)
		}
	})
}

// TestPushFaults fails the note create once in every way the sandbox
// can: however it failed, the candidate ends up with exactly one note of
// the delivery.
func TestPushFaults(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		status, stage := statusFor(p)
		for _, tt := range []struct {
			fault sandbox.Fault
			// posts is how many creates reach the fake; looks, how many
			// times the connector lists the notes before it retries.
			posts, looks int
		}{
			// The note is written, the answer lost: the look finds it.
			{sandbox.LostAnswer, 1, 1},
			// The fake fails these before writing; a 500, a garbled 200
			// and a timeout may have written, so the connector looks.
			{sandbox.ServerError, 2, 1},
			{sandbox.Malformed, 2, 1},
			{sandbox.Slow, 2, 1},
			// A 429 refuses the write: no need to look.
			{sandbox.RateLimit, 2, 0},
		} {
			t.Run(p.Descriptor().Name+"/"+tt.fault.String(), func(t *testing.T) {
				t.Parallel()
				b := setup(t, p)
				b.fake.Faults.SetRetryAfter(0)
				b.fake.Faults.SetSlowDelay(time.Minute)
				b.fake.Faults.Only(isNoteCreate)
				b.fake.Faults.Next(tt.fault)
				opts := connector.Options{Retry: fastRetry}
				opts.Retry.AttemptTimeout = 300 * time.Millisecond
				conn := b.open(t, b.fake.Credentials(b.baseURL), opts)
				must(t, conn.Push(context.Background(), b.pushRequest("d1", status)), "Push")
				b.wantNotes(t, "d1")
				b.wantStage(t, stage)
				if n := b.fake.Faults.Injected()[tt.fault]; n != 1 {
					t.Fatalf("%d faults injected, want 1", n)
				}
				if n := b.notesPosted(); n != tt.posts {
					t.Fatalf("%d notes posted, want %d", n, tt.posts)
				}
				if n := b.noteListRequests(); n != tt.looks {
					t.Fatalf("the notes were listed %d times, want %d", n, tt.looks)
				}
			})
		}
	}

	t.Run("a lost answer on the stage move is repeated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return r.Method == http.MethodPut })
		b.fake.Faults.Next(sandbox.LostAnswer)
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")), "Push")
		b.wantNotes(t, "d1")
		b.wantStage(t, "Accepted")
		if n := len(b.fake.Writes.Applied()); n != 3 {
			t.Fatalf("%d writes applied, want the note and the stage move twice", n)
		}
	})

	t.Run("when the look fails after a lost answer nothing is written again", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/notes") })
		b.fake.Faults.Next(sandbox.LostAnswer)
		for range fastRetry.MaxAttempts {
			b.fake.Faults.Next(sandbox.ServerError)
		}
		err := b.conn.Push(context.Background(), b.pushRequest("d1", "accepted"))
		if !connector.IsTemporary(err) {
			t.Fatalf("Push error = %v, want a temporary error", err)
		}
		if n := b.notesPosted(); n != 1 {
			t.Fatalf("%d notes posted, want 1", n)
		}
		b.wantStage(t, "New")

		// The engine delivers again, flagged as a redelivery.
		req := b.pushRequest("d1", "accepted")
		req.Redelivery = true
		must(t, b.conn.Push(context.Background(), req), "redelivery")
		b.wantNotes(t, "d1")
		b.wantStage(t, "Accepted")
		if n := b.notesPosted(); n != 1 {
			t.Fatalf("%d notes posted, want 1", n)
		}
	})

	t.Run("a lost answer on every attempt writes one note", func(t *testing.T) {
		t.Parallel()
		b := setup(t, compleet.New())
		b.fake.Faults.Only(isNoteCreate)
		b.fake.Faults.SetRate(sandbox.LostAnswer, 1)
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "")), "Push")
		b.wantNotes(t, "d1")
	})
}

func TestPushRedelivery(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		status, stage := statusFor(p)
		name := p.Descriptor().Name

		t.Run(name+"/a note already there is not written again", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			must(t, b.conn.Push(context.Background(), b.pushRequest("d1", status)), "Push")
			req := b.pushRequest("d1", status)
			req.Redelivery = true
			must(t, b.conn.Push(context.Background(), req), "redelivery")
			b.wantNotes(t, "d1")
			b.wantStage(t, stage)
			if n := b.notesPosted(); n != 1 {
				t.Fatalf("%d notes posted, want 1", n)
			}
		})

		t.Run(name+"/a note not there is written", func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			req := b.pushRequest("d1", status)
			req.Redelivery = true
			must(t, b.conn.Push(context.Background(), req), "redelivery")
			b.wantNotes(t, "d1")
			b.wantStage(t, stage)
			if n := b.noteListRequests(); n != 1 {
				t.Fatalf("the notes were listed %d times, want 1", n)
			}
		})
	}

	t.Run("the marker of another delivery is not taken for ours", func(t *testing.T) {
		t.Parallel()
		b := setup(t, compleet.New())
		must(t, b.conn.Push(context.Background(), b.pushRequest("d10", "")), "Push d10")
		req := b.pushRequest("d1", "")
		req.Redelivery = true
		must(t, b.conn.Push(context.Background(), req), "redelivery of d1")
		b.wantNotes(t, "d10", "d1")
	})

	t.Run("the marker is found beyond the first page of notes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New()) // the fake serves at most 7 notes a page
		must(t, b.conn.Push(context.Background(), b.pushRequest("d1", "accepted")), "Push")
		keys := []string{"d1"}
		for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o"} {
			must(t, b.conn.Push(context.Background(), b.pushRequest(k, "")), "Push %s", k)
			keys = append(keys, k)
		}
		before := b.noteListRequests()
		req := b.pushRequest("d1", "accepted")
		req.Redelivery = true
		must(t, b.conn.Push(context.Background(), req), "redelivery")
		b.wantNotes(t, keys...)
		// 16 notes, newest first: d1's is on the third page.
		if n := b.noteListRequests() - before; n != 3 {
			t.Fatalf("the notes were listed in %d requests, want 3", n)
		}
	})

	t.Run("when the look fails nothing is written", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.fake.Faults.Only(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/notes") })
		b.fake.Faults.SetRate(sandbox.ServerError, 1)
		req := b.pushRequest("d1", "accepted")
		req.Redelivery = true
		err := b.conn.Push(context.Background(), req)
		if !connector.IsTemporary(err) || !strings.Contains(err.Error(), "GET /candidates/100008/notes") {
			t.Fatalf("Push error = %v, want a temporary error of the notes list", err)
		}
		sameWrites(t, b.writes(t), nil)
	})
}

// notesServer serves GET /candidates/c1/notes from pages (cursor "" is the
// first) and counts the notes posted.
func notesServer(t *testing.T, pages map[string]string) (conn connector.Connector, posts func() int) {
	t.Helper()
	var mu sync.Mutex
	posted := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/candidates/c1/notes":
			page, ok := pages[r.URL.Query().Get("cursor")]
			if !ok {
				errorBody(w, http.StatusBadRequest, "invalid cursor")
				return
			}
			_, _ = w.Write([]byte(page))
		case r.Method == http.MethodPost && r.URL.Path == "/candidates/c1/notes":
			mu.Lock()
			posted++
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"status":"success","data":{"id":"n9"}}`))
		default:
			errorBody(w, http.StatusNotFound, "no such thing")
		}
	}))
	t.Cleanup(srv.Close)
	c, err := compleet.New().Open(connector.Credentials{"baseURL": srv.URL, "apiKey": "k"}, connector.Options{Retry: fastRetry})
	must(t, err, "Open")
	return c, func() int {
		mu.Lock()
		defer mu.Unlock()
		return posted
	}
}

// TestPushLooksThroughEveryPage checks what the fake cannot vary: the
// order of the notes and the cursors.
func TestPushLooksThroughEveryPage(t *testing.T) {
	t.Parallel()
	redelivery := connector.PushRequest{Key: "d1", Redelivery: true, Contact: connector.ContactRef{ExternalID: "c1"}, Outcome: schematype.OutcomeFailure}
	for _, tt := range []struct {
		name      string
		pages     map[string]string
		wantPosts int
		wantErr   string
	}{
		{"oldest first, the marker on the last page", map[string]string{
			"":   `{"status":"success","data":{"next":"p2","results":[{"id":"n1","content":"Call result: Success\n\nIntake reference: d10"}]}}`,
			"p2": `{"status":"success","data":{"next":null,"results":[{"id":"n2","content":"Call result: Failure\n\nIntake reference: d1\n"}]}}`,
		}, 0, ""},
		{"no marker on any page", map[string]string{
			"":   `{"status":"success","data":{"next":"p2","results":[{"id":"n1","content":"Intake reference: d1 and more"}]}}`,
			"p2": `{"status":"success","data":{"next":null,"results":[]}}`,
		}, 1, ""},
		{"cursors that go round are refused", map[string]string{
			"":  `{"status":"success","data":{"next":"a","results":[]}}`,
			"a": `{"status":"success","data":{"next":"b","results":[]}}`,
			"b": `{"status":"success","data":{"next":"a","results":[]}}`,
		}, 0, "did not advance"},
		{"a note that cannot be read is not passed over", map[string]string{
			"": `{"status":"success","data":{"next":null,"results":[{"id":"n1","content":7}]}}`,
		}, 0, "malformed JSON response"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, posts := notesServer(t, tt.pages)
			err := conn.Push(context.Background(), redelivery)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Push error = %v, want %q", err, tt.wantErr)
			}
			if n := posts(); n != tt.wantPosts {
				t.Fatalf("%d notes posted, want %d", n, tt.wantPosts)
			}
		})
	}
}
