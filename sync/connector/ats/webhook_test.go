package ats_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	const appID = "app-100003"
	body := []byte(`{"type":"application.created","data":{"application_id":"app-100003"}}`)
	wantEvents := []connector.WebhookEvent{{ID: "msg_1", Type: "application.created", ExternalID: appID, OccurredAt: now.Add(-time.Minute)}}

	t.Run("a signed event from the fake is accepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		header, body := b.fake.ApplicationCreated(appID, now)
		events, err := b.conn.ParseWebhook(connector.WebhookRequest{Method: "POST", Header: header, Body: body, Now: now})
		must(t, err, "ParseWebhook")
		want := []connector.WebhookEvent{{ID: "msg_" + appID, Type: "application.created", ExternalID: appID, OccurredAt: now}}
		if !reflect.DeepEqual(events, want) {
			t.Fatalf("events = %+v, want %+v", events, want)
		}
	})

	t.Run("a raw secret and the clock of the options are used", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		creds := b.fake.Credentials(b.baseURL)
		creds["webhookSecret"] = "plain secret"
		conn := b.open(t, creds, connector.Options{Now: func() time.Time { return now }})
		events, err := conn.ParseWebhook(connector.WebhookRequest{Header: atsfake.SignWebhook("plain secret", "msg_1", now.Add(-time.Minute), body), Body: body})
		must(t, err, "ParseWebhook")
		if !reflect.DeepEqual(events, wantEvents) {
			t.Fatalf("events = %+v, want %+v", events, wantEvents)
		}
	})

	t.Run("the Standard Webhooks test vector verifies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		creds := b.fake.Credentials(b.baseURL)
		creds["webhookSecret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		header := http.Header{
			"Webhook-Id":        {"msg_p5jXN8AQM9LWM0D4loKWxJek"},
			"Webhook-Timestamp": {"1614265330"},
			"Webhook-Signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		}
		// The vector's body is no application event: verified, then refused
		// for its content.
		_, err := b.open(t, creds, connector.Options{}).ParseWebhook(connector.WebhookRequest{
			Header: header, Body: []byte(`{"test": 2432232314}`), Now: time.Unix(1614265330, 0),
		})
		if err == nil || errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "no type") {
			t.Fatalf("ParseWebhook error = %v, want a verified body without type", err)
		}
	})

	t.Run("any one matching signature passes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		header := atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now.Add(-time.Minute), body)
		header.Set("webhook-signature", "v1,c29tZXRoaW5nIGVsc2U= v1a,xyz "+header.Get("webhook-signature"))
		events, err := b.conn.ParseWebhook(connector.WebhookRequest{Header: header, Body: body, Now: now})
		must(t, err, "ParseWebhook")
		if !reflect.DeepEqual(events, wantEvents) {
			t.Fatalf("events = %+v, want %+v", events, wantEvents)
		}
	})

	signed := func() http.Header {
		return atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now.Add(-time.Minute), body)
	}
	for _, tt := range []struct {
		name   string
		header func() http.Header
		body   []byte
	}{
		{"an unsigned request", func() http.Header { return http.Header{} }, body},
		{"a missing signature", func() http.Header { h := signed(); h.Del("webhook-signature"); return h }, body},
		{"a missing id", func() http.Header { h := signed(); h.Del("webhook-id"); return h }, body},
		{"a wrong secret", func() http.Header {
			return atsfake.SignWebhook("whsec_b3RoZXI=", "msg_1", now.Add(-time.Minute), body)
		}, body},
		{"a changed body", signed, []byte(strings.Replace(string(body), "100003", "100004", 1))},
		{"a changed id", func() http.Header { h := signed(); h.Set("webhook-id", "msg_2"); return h }, body},
		{"another signature version", func() http.Header {
			h := signed()
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v2,", 1))
			return h
		}, body},
		{"a stale timestamp", func() http.Header {
			return atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now.Add(-connector.MaxWebhookAge-time.Second), body)
		}, body},
		{"a timestamp in the future", func() http.Header {
			return atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now.Add(connector.MaxWebhookAge+time.Second), body)
		}, body},
		{"a timestamp that is not a number", func() http.Header { h := signed(); h.Set("webhook-timestamp", "yesterday"); return h }, body},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			t.Parallel()
			b := setup(t, talention.New())
			b.expectNoRequests()
			events, err := b.conn.ParseWebhook(connector.WebhookRequest{Header: tt.header(), Body: tt.body, Now: now})
			if !errors.Is(err, connector.ErrUnauthorized) || events != nil {
				t.Fatalf("ParseWebhook = %v, %v; want ErrUnauthorized", events, err)
			}
			if !strings.HasPrefix(err.Error(), "TALENTION: webhook: ") {
				t.Fatalf("error %q does not name the provider", err)
			}
		})
	}

	t.Run("without a webhookSecret every webhook is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		creds := b.fake.Credentials(b.baseURL)
		delete(creds, "webhookSecret")
		_, err := b.open(t, creds, connector.Options{}).ParseWebhook(connector.WebhookRequest{Header: signed(), Body: body, Now: now})
		if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "no webhookSecret is configured") {
			t.Fatalf("ParseWebhook error = %v", err)
		}
	})

	t.Run("a signed body that is not an event is an error", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		b.expectNoRequests()
		for _, bad := range []string{`{"type":"application.created"}`, `[1,2]`, `{"type":`} {
			h := atsfake.SignWebhook(atsfake.DefaultWebhookSecret, "msg_1", now, []byte(bad))
			_, err := b.conn.ParseWebhook(connector.WebhookRequest{Header: h, Body: []byte(bad), Now: now})
			if err == nil || errors.Is(err, connector.ErrUnauthorized) || !strings.HasPrefix(err.Error(), "TALENTION: webhook: ") {
				t.Fatalf("body %s: error = %v, want a decoding error", bad, err)
			}
		}
	})

	t.Run("Compleet has no webhooks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, compleet.New())
		b.expectNoRequests()
		if _, err := b.conn.ParseWebhook(connector.WebhookRequest{Header: signed(), Body: body, Now: now}); !errors.Is(err, connector.ErrUnsupported) {
			t.Fatalf("ParseWebhook error = %v, want ErrUnsupported", err)
		}
	})
}
