package connector_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/connector/zvoove"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// webhookProvider is a provider under FuzzWebhooks with credentials whose
// base URL is never called (ParseWebhook makes no request).
type webhookProvider struct {
	provider connector.Provider
	creds    connector.Credentials
	// sign returns the headers the provider sends with r, signed with
	// secret at time at; nil for providers without webhooks.
	sign func(secret string, r connector.WebhookRequest, at time.Time) http.Header
}

func webhookProviders() []webhookProvider {
	const base = "http://127.0.0.1:9"
	signATS := func(secret string, r connector.WebhookRequest, at time.Time) http.Header {
		return atsfake.SignWebhook(secret, "msg_fuzz", at, r.Body)
	}
	signHubSpot := func(secret string, r connector.WebhookRequest, at time.Time) http.Header {
		return hubspotfake.SignWebhook(secret, r.Method, r.URL, r.Body, at)
	}
	return []webhookProvider{
		{provider: zvoove.New(), creds: connector.Credentials{"baseURL": base, "mandantID": "m", "apiKey": "k"}},
		{provider: talention.New(), creds: connector.Credentials{"baseURL": base, "apiKey": "k", "webhookSecret": atsfake.DefaultWebhookSecret}, sign: signATS},
		{provider: compleet.New(), creds: connector.Credentials{"baseURL": base, "apiKey": "k", "webhookSecret": atsfake.DefaultWebhookSecret}},
		{provider: hubspot.New(), creds: connector.Credentials{"accessToken": "t", "webhookSecret": hubspotfake.DefaultWebhookSecret}, sign: signHubSpot},
	}
}

// How FuzzWebhooks signs a request (its mode argument).
const (
	signed       = iota // signed with the integration's secret, skew seconds from now
	unsigned            // only the fuzzed headers
	bodyAltered         // signed, then a byte appended to the body
	wrongSecret         // signed with another secret
	signingModes        // the number of modes
)

// FuzzWebhooks sends every provider the same webhook: an arbitrary body
// with arbitrary headers ("Name: value" lines), signed as the provider
// signs, unsigned, with a body altered after signing or signed with
// another secret. For every provider:
//   - ParseWebhook does not panic;
//   - a provider without webhooks refuses everything as ErrUnsupported;
//   - a correctly signed request is refused as unauthorized exactly when
//     its timestamp is more than MaxWebhookAge from now; it may still be
//     refused as malformed, with an error naming the provider, and what is
//     accepted is JSON;
//   - a request that is not correctly signed is refused as unauthorized.
func FuzzWebhooks(f *testing.F) {
	for _, body := range []string{
		`{"type":"application.created","data":{"application_id":"app-1"}}`,
		`{"type":"application.created","data":{}}`,
		`{"type":"","data":{"application_id":7}}`,
		`[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1769947200000,"subscriptionType":"contact.creation","objectId":100001,"attemptNumber":0}]`,
		`[{"eventId":"x","objectId":{}}]`,
		`[{"eventId":"1","occurredAt":-9223372036854775808}]`,
		`[null, 1, "x"]`,
		`null`,
		`{`,
		``,
	} {
		for mode := range uint8(signingModes) {
			f.Add([]byte(body), "Content-Type: application/json", mode, int16(0))
		}
	}
	f.Add([]byte(`{}`), "Webhook-Id: a\nWebhook-Timestamp: 1772625600\nWebhook-Signature: v1,AAAA v2,x v1", uint8(unsigned), int16(0))
	f.Add([]byte(`[]`), "X-HubSpot-Signature-v3: AAAA\nX-HubSpot-Request-Timestamp: 1772625600000", uint8(unsigned), int16(0))
	f.Add([]byte(`[]`), "X-HubSpot-Request-Timestamp: 99999999999999999999", uint8(unsigned), int16(0))
	f.Add([]byte(`[]`), "", uint8(signed), int16(300))
	f.Add([]byte(`[]`), "", uint8(signed), int16(-301))

	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	type opened struct {
		webhookProvider
		desc connector.Descriptor
		conn connector.Connector
	}
	var conns []opened
	for _, p := range webhookProviders() {
		conn, err := p.provider.Open(p.creds, connector.Options{Now: func() time.Time { return now }})
		if err != nil {
			f.Fatal(err)
		}
		conns = append(conns, opened{p, p.provider.Descriptor(), conn})
	}

	f.Fuzz(func(t *testing.T, body []byte, header string, mode uint8, skew int16) {
		mode %= signingModes
		for _, c := range conns {
			r := connector.WebhookRequest{
				Method: http.MethodPost,
				URL:    "https://intake.example.com/webhooks/" + strings.ToLower(string(c.desc.Key)) + "/int_01",
				Header: parseHeader(header),
				Body:   body,
				Now:    now,
			}
			sentAt := now.Add(time.Duration(skew) * time.Second)
			if c.sign != nil && mode != unsigned {
				secret := c.creds["webhookSecret"]
				if mode == wrongSecret {
					secret = "another secret"
				}
				maps.Copy(r.Header, c.sign(secret, r, sentAt))
				if mode == bodyAltered {
					r.Body = append(body[:len(body):len(body)], 'x')
				}
			}

			events, err := c.conn.ParseWebhook(r)
			switch {
			case !c.desc.SupportsWebhooks:
				if !errors.Is(err, connector.ErrUnsupported) || events != nil {
					t.Fatalf("%s has no webhooks, but ParseWebhook returned %d events and %v", c.desc.Key, len(events), err)
				}
				continue
			case err != nil && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.desc.Name)):
				t.Fatalf("%s: error %q does not name the provider", c.desc.Key, err)
			}

			stale := now.Sub(sentAt) > connector.MaxWebhookAge || sentAt.Sub(now) > connector.MaxWebhookAge
			refused := errors.Is(err, connector.ErrUnauthorized)
			switch {
			case mode != signed || stale:
				if !refused {
					t.Fatalf("%s: a request %s, sent %v from now, was not refused as unauthorized: %d events, %v",
						c.desc.Key, modeName(mode), sentAt.Sub(now), len(events), err)
				}
			case refused:
				t.Fatalf("%s: a correctly signed request was refused: %v", c.desc.Key, err)
			case err == nil:
				if !json.Valid(body) {
					t.Fatalf("%s: accepted a body that is not JSON: %d events", c.desc.Key, len(events))
				}
				for _, e := range events {
					if !e.OccurredAt.IsZero() && e.OccurredAt.Location() != time.UTC {
						t.Fatalf("%s: event %+v is not in UTC", c.desc.Key, e)
					}
				}
			}
		}
	})
}

// parseHeader reads "Name: value" lines as an HTTP server would hand them
// over: names canonical, values trimmed. Lines without a colon are skipped.
func parseHeader(s string) http.Header {
	h := http.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	return h
}

func modeName(mode uint8) string {
	switch mode {
	case unsigned:
		return "without a signature"
	case bodyAltered:
		return "with a body altered after signing"
	case wrongSecret:
		return "signed with another secret"
	}
	return "signed"
}
