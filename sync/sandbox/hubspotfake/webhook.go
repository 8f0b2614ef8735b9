package hubspotfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// WebhookEvent is one event of a HubSpot webhook body.
type WebhookEvent struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	OccurredAt       int64  `json:"occurredAt"` // milliseconds since the epoch
	SubscriptionType string `json:"subscriptionType"`
	ObjectID         int64  `json:"objectId"`
	AttemptNumber    int    `json:"attemptNumber"`
}

// Webhook returns the body and signed headers of a webhook HubSpot would
// POST to uri (the full URL) now, with the fake's client secret. Events
// without a PortalID get the fake's.
func (s *Server) Webhook(uri string, events ...WebhookEvent) ([]byte, http.Header) {
	events = slices.Clone(events)
	for i := range events {
		if events[i].PortalID == 0 {
			events[i].PortalID = PortalID
		}
	}
	body, _ := json.Marshal(events)
	return body, SignWebhook(s.secret, http.MethodPost, uri, body, s.now())
}

// Webhook signature v3 headers.
const (
	SignatureHeader = "X-HubSpot-Signature-v3"
	TimestampHeader = "X-HubSpot-Request-Timestamp"
)

// SignWebhook returns the headers of HubSpot's signature v3 of a request:
// base64(HMAC-SHA256(secret, method + uri + body + timestamp)) with the
// timestamp in milliseconds.
func SignWebhook(secret, method, uri string, body []byte, ts time.Time) http.Header {
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	h := http.Header{}
	h.Set(SignatureHeader, signature(secret, method, uri, body, ms))
	h.Set(TimestampHeader, ms)
	return h
}

func signature(secret, method, uri string, body []byte, ms string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + uri))
	mac.Write(body)
	mac.Write([]byte(ms))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
