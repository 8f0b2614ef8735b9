package compleet_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

func TestDescriptor(t *testing.T) {
	t.Parallel()
	want := connector.Descriptor{
		Key:              schematype.ProviderCompleet,
		Name:             "Compleet",
		SupportsPushback: true,
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
	if got := compleet.New().Descriptor(); !reflect.DeepEqual(got, want) {
		t.Fatalf("descriptor:\n got %+v\nwant %+v", got, want)
	}
}

// The whole round trip against the fake: fetch the candidates of one job,
// push a call result as a note; webhooks are not offered.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 12}
	fake := atsfake.New(atsfake.Config{Provider: "Compleet", Dataset: data})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	conn, err := compleet.New().Open(fake.Credentials(srv.URL), connector.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	refs, err := conn.References(ctx, connector.ReferenceQuery{Search: atsfake.JobName(2)})
	if err != nil || len(refs.Items) != 1 {
		t.Fatalf("References = %+v, %v", refs, err)
	}
	var got []string
	for page, err := range conn.Fetch(ctx, connector.FetchRequest{SearchType: connector.SearchNewApplications, References: refs.Items}) {
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for _, r := range page.Records {
			got = append(got, r.ExternalID)
		}
	}
	if want := []string{data.ExternalID(2), data.ExternalID(7)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fetched %v, want %v", got, want)
	}
	if err := conn.Push(ctx, connector.PushRequest{Key: "d1", Contact: connector.ContactRef{ExternalID: got[0]}, Outcome: schematype.OutcomeFailure}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if notes := fake.Notes(got[0]); !reflect.DeepEqual(notes, []string{"Call result: Failure\n\nIntake reference: d1"}) {
		t.Fatalf("notes = %q", notes)
	}
	if _, err := conn.ParseWebhook(connector.WebhookRequest{}); !errors.Is(err, connector.ErrUnsupported) {
		t.Fatalf("ParseWebhook error = %v, want ErrUnsupported", err)
	}
	fake.Contract.Verify(t)
}

// A note whose answer is lost is found, not written again: by the look
// before the retry, and by the look a redelivery makes first.
func TestLostAnswer(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 12}
	fake := atsfake.New(atsfake.Config{Provider: "Compleet", Dataset: data})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	conn, err := compleet.New().Open(fake.Credentials(srv.URL), connector.Options{Retry: connector.RetryPolicy{BaseDelay: time.Millisecond}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fake.Faults.Only(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes")
	})
	fake.Faults.Next(sandbox.LostAnswer)
	candidate := data.ExternalID(3)
	req := connector.PushRequest{Key: "intake-pb1", Contact: connector.ContactRef{ExternalID: candidate}, Outcome: schematype.OutcomePartial}
	if err := conn.Push(context.Background(), req); err != nil {
		t.Fatalf("Push: %v", err)
	}
	req.Redelivery = true
	if err := conn.Push(context.Background(), req); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if n := fake.Faults.Injected()[sandbox.LostAnswer]; n != 1 {
		t.Fatalf("%d answers lost, want 1", n)
	}
	if notes := fake.Notes(candidate); !reflect.DeepEqual(notes, []string{"Call result: Partial\n\nIntake reference: intake-pb1"}) {
		t.Fatalf("notes = %q, want exactly one", notes)
	}
	fake.Contract.Verify(t)
}
