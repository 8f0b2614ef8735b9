package hubspot_test

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

const webhookURL = "https://intake.example.com/webhooks/hubspot/int_42?portal=62515"

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	b.sendsNothing = true // webhooks are verified without a request
	occurred := now.Add(-time.Minute).Truncate(time.Millisecond)
	body, header := b.fake.Webhook(webhookURL,
		hubspotfake.WebhookEvent{EventID: 1001, SubscriptionID: 7, OccurredAt: occurred.UnixMilli(), SubscriptionType: "contact.creation", ObjectID: 100003},
		hubspotfake.WebhookEvent{EventID: 1002, SubscriptionID: 8, OccurredAt: occurred.UnixMilli(), SubscriptionType: "contact.propertyChange", ObjectID: 100004, AttemptNumber: 2},
	)
	signed := connector.WebhookRequest{Method: http.MethodPost, URL: webhookURL, Header: header, Body: body, Now: now.Add(time.Minute)}

	t.Run("accepts a signed webhook", func(t *testing.T) {
		t.Parallel()
		events, err := b.conn.ParseWebhook(signed)
		if err != nil {
			t.Fatalf("ParseWebhook: %v", err)
		}
		want := []connector.WebhookEvent{
			{ID: "1001", Type: "contact.creation", ExternalID: "100003", OccurredAt: occurred},
			{ID: "1002", Type: "contact.propertyChange", ExternalID: "100004", OccurredAt: occurred},
		}
		if len(events) != 2 || !events[0].OccurredAt.Equal(occurred) {
			t.Fatalf("events = %+v, want %+v", events, want)
		}
		for i := range events {
			events[i].OccurredAt, want[i].OccurredAt = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(events, want) {
			t.Fatalf("events = %+v, want %+v", events, want)
		}
	})
	t.Run("uses the connector clock without Now", func(t *testing.T) {
		t.Parallel()
		r := signed
		r.Now = time.Time{}
		if _, err := b.conn.ParseWebhook(r); err != nil {
			t.Fatalf("ParseWebhook: %v", err)
		}
	})

	withHeader := func(k, v string) http.Header {
		h := header.Clone()
		h.Set(k, v)
		return h
	}
	for _, tc := range []struct {
		name   string
		change func(r *connector.WebhookRequest)
	}{
		{"unsigned", func(r *connector.WebhookRequest) { r.Header = http.Header{} }},
		{"no timestamp", func(r *connector.WebhookRequest) {
			r.Header = header.Clone()
			r.Header.Del(hubspotfake.TimestampHeader)
		}},
		{"signed with another secret", func(r *connector.WebhookRequest) {
			r.Header = hubspotfake.SignWebhook("another-secret", r.Method, r.URL, r.Body, now)
		}},
		{"body changed", func(r *connector.WebhookRequest) {
			r.Body = []byte(strings.Replace(string(r.Body), "100003", "100009", 1))
		}},
		{"other URL", func(r *connector.WebhookRequest) { r.URL = strings.Replace(r.URL, "int_42", "int_43", 1) }},
		{"other method", func(r *connector.WebhookRequest) { r.Method = http.MethodPut }},
		{"timestamp changed", func(r *connector.WebhookRequest) {
			r.Header = withHeader(hubspotfake.TimestampHeader, strconv.FormatInt(now.UnixMilli()+1, 10))
		}},
		{"stale", func(r *connector.WebhookRequest) { r.Now = now.Add(connector.MaxWebhookAge + time.Second) }},
		{"from the future", func(r *connector.WebhookRequest) { r.Now = now.Add(-connector.MaxWebhookAge - time.Second) }},
		{"malformed timestamp", func(r *connector.WebhookRequest) { r.Header = withHeader(hubspotfake.TimestampHeader, "yesterday") }},
		{"malformed signature", func(r *connector.WebhookRequest) { r.Header = withHeader(hubspotfake.SignatureHeader, "%%%") }},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			t.Parallel()
			r := signed
			tc.change(&r)
			events, err := b.conn.ParseWebhook(r)
			if !errors.Is(err, connector.ErrUnauthorized) || events != nil {
				t.Fatalf("ParseWebhook = %v, %v; want ErrUnauthorized", events, err)
			}
		})
	}

	t.Run("refuses every webhook without a secret", func(t *testing.T) {
		t.Parallel()
		nb := setupWith(t, sandbox.Dataset{Seed: 1, Size: 1}, options{creds: func(c connector.Credentials) { delete(c, "webhookSecret") }})
		nb.sendsNothing = true
		_, err := nb.conn.ParseWebhook(signed)
		if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "webhookSecret") {
			t.Fatalf("ParseWebhook = %v, want ErrUnauthorized naming webhookSecret", err)
		}
	})
	t.Run("signed body that is not events", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"eventId":1}`)
		r := connector.WebhookRequest{Method: http.MethodPost, URL: webhookURL, Body: body, Now: now,
			Header: hubspotfake.SignWebhook(hubspotfake.DefaultWebhookSecret, http.MethodPost, webhookURL, body, now)}
		_, err := b.conn.ParseWebhook(r)
		if err == nil || errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "decoding the events") {
			t.Fatalf("ParseWebhook = %v, want a decoding error", err)
		}
	})
}
