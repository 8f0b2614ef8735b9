package talention_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

func TestDescriptor(t *testing.T) {
	t.Parallel()
	want := connector.Descriptor{
		Key:                   schematype.ProviderTalention,
		Name:                  "Talention",
		SupportsPushback:      true,
		SupportsStatusMapping: true,
		SupportsWebhooks:      true,
		SearchTypes: []connector.SearchType{{
			Key:         connector.SearchNewApplications,
			Name:        "Default - New Applications",
			Description: "Applications created since the last sync, for the selected jobs (all jobs when none is selected).",
			IsDefault:   true,
		}},
		ReferenceKinds: []schematype.ReferenceKind{schematype.ReferenceJob},
		CredentialKeys: []string{"baseURL", "apiKey", "webhookSecret"},
		AccountKeys:    []string{"apiKey"},
		RateLimits:     connector.RateLimits{Requests: 100, Interval: 10 * time.Second},
	}
	if got := talention.New().Descriptor(); !reflect.DeepEqual(got, want) {
		t.Fatalf("descriptor:\n got %+v\nwant %+v", got, want)
	}
}

// The whole round trip against the fake: fetch a candidate, push its call
// result with a status, accept the webhook announcing an application.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 12}
	fake := atsfake.New(atsfake.Config{Provider: "Talention", Dataset: data, StageMoves: true})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	conn, err := talention.New().Open(fake.Credentials(srv.URL), connector.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	if err := conn.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	var rec connector.Record
	for page, err := range conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchNewApplications, Since: data.CreatedAt(11)}) {
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if len(page.Records) != 1 {
			t.Fatalf("got %d records, want 1", len(page.Records))
		}
		rec = page.Records[0]
	}
	err = conn.Push(ctx, connector.PushRequest{
		Key: "d1", Contact: connector.ContactRef{ExternalID: rec.ExternalID, Attributes: rec.Attributes},
		Outcome: schematype.OutcomeNotAnswered, MappedStatus: "unreachable",
	})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	app := atsfake.ApplicationID(data, 11)
	if stage, _ := fake.Stage(app); stage != "Unreachable" {
		t.Fatalf("stage = %q", stage)
	}
	if notes := fake.Notes(rec.ExternalID); !reflect.DeepEqual(notes, []string{"Call result: Not answered\nStatus: unreachable\n\nIntake reference: d1"}) {
		t.Fatalf("notes = %q", notes)
	}
	now := time.Now()
	header, body := fake.ApplicationCreated(app, now)
	events, err := conn.ParseWebhook(connector.WebhookRequest{Method: "POST", Header: header, Body: body, Now: now})
	if err != nil || len(events) != 1 || events[0].ExternalID != app {
		t.Fatalf("ParseWebhook = %+v, %v", events, err)
	}
	fake.Contract.Verify(t)
}

// A note whose answer is lost is found by the look before the retry: the
// candidate gets one note, and the stage still moves.
func TestLostAnswer(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 12}
	fake := atsfake.New(atsfake.Config{Provider: "Talention", Dataset: data, StageMoves: true})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	conn, err := talention.New().Open(fake.Credentials(srv.URL), connector.Options{Retry: connector.RetryPolicy{BaseDelay: time.Millisecond}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fake.Faults.Only(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes")
	})
	fake.Faults.Next(sandbox.LostAnswer)
	const i = 4 // job-5
	err = conn.Push(context.Background(), connector.PushRequest{
		Key: "intake-pb1",
		Contact: connector.ContactRef{ExternalID: data.ExternalID(i), Attributes: map[string]any{
			ats.AttrApplicationID: atsfake.ApplicationID(data, i), ats.AttrJobID: atsfake.JobID(i % 5),
		}},
		Outcome: schematype.OutcomeSuccess, MappedStatus: "Interview",
	})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if n := fake.Faults.Injected()[sandbox.LostAnswer]; n != 1 {
		t.Fatalf("%d answers lost, want 1", n)
	}
	want := "Call result: Success\nStatus: Interview\n\nIntake reference: intake-pb1"
	if notes := fake.Notes(data.ExternalID(i)); !reflect.DeepEqual(notes, []string{want}) {
		t.Fatalf("notes = %q, want exactly one", notes)
	}
	if stage, _ := fake.Stage(atsfake.ApplicationID(data, i)); stage != "Interview" {
		t.Fatalf("stage = %q", stage)
	}
	fake.Contract.Verify(t)
}
