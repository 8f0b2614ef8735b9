package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/intake/intake/sync/connector"
)

// Signature v3 headers.
const (
	signatureHeader = "X-HubSpot-Signature-v3"
	timestampHeader = "X-HubSpot-Request-Timestamp"
)

type webhookEvent struct {
	EventID          flexString `json:"eventId"`
	SubscriptionType string     `json:"subscriptionType"`
	ObjectID         flexString `json:"objectId"`
	OccurredAt       int64      `json:"occurredAt"`
}

// ParseWebhook verifies HubSpot's signature v3, base64(HMAC-SHA256(client
// secret, method + URI + body + timestamp)), refuses timestamps more than
// connector.MaxWebhookAge away from now, and returns the body's events.
// Without a webhookSecret every webhook is refused.
func (c *conn) ParseWebhook(r connector.WebhookRequest) ([]connector.WebhookEvent, error) {
	refuse := func(why string) error { return fmt.Errorf("hubspot webhook: %s: %w", why, connector.ErrUnauthorized) }
	if c.secret == "" {
		return nil, refuse("no webhookSecret is configured")
	}
	sig, ts := r.Header.Get(signatureHeader), r.Header.Get(timestampHeader)
	if sig == "" || ts == "" {
		return nil, refuse("unsigned request: " + signatureHeader + " or " + timestampHeader + " is missing")
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, refuse("malformed " + timestampHeader)
	}
	now := r.Now
	if now.IsZero() {
		now = c.now()
	}
	if age := now.Sub(time.UnixMilli(ms)); age > connector.MaxWebhookAge || age < -connector.MaxWebhookAge {
		return nil, refuse(fmt.Sprintf("timestamp is more than %s away from now", connector.MaxWebhookAge))
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, refuse("malformed " + signatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(c.secret))
	mac.Write([]byte(r.Method + r.URL))
	mac.Write(r.Body)
	mac.Write([]byte(ts))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, refuse("wrong signature")
	}
	var in []webhookEvent
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return nil, fmt.Errorf("hubspot webhook: decoding the events: %w", err)
	}
	events := make([]connector.WebhookEvent, 0, len(in))
	for _, e := range in {
		ev := connector.WebhookEvent{ID: string(e.EventID), Type: e.SubscriptionType, ExternalID: string(e.ObjectID),
			Gone: e.SubscriptionType == "contact.deletion" || e.SubscriptionType == "contact.privacyDeletion"}
		if e.OccurredAt != 0 {
			ev.OccurredAt = time.UnixMilli(e.OccurredAt).UTC()
		}
		events = append(events, ev)
	}
	return events, nil
}
