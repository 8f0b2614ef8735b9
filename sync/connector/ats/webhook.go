package ats

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/sync/connector"
)

// webhookKey derives the HMAC key from the webhookSecret credential: after
// a "whsec_" prefix the secret is base64, otherwise its bytes are the key.
func webhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, errors.New(`must be base64 after the "whsec_" prefix`)
	}
	return key, nil
}

// ParseWebhook verifies a Standard Webhooks signature and returns the
// application event the body announces.
func (c *conn) ParseWebhook(r connector.WebhookRequest) ([]connector.WebhookEvent, error) {
	if !c.cfg.Webhooks {
		return nil, connector.ErrUnsupported
	}
	refuse := func(reason string) error {
		return fmt.Errorf("%s: webhook: %s: %w", c.cfg.Key, reason, connector.ErrUnauthorized)
	}
	if c.webhookKey == nil {
		return nil, refuse("no webhookSecret is configured")
	}
	id, tsText, signatures := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	if id == "" || tsText == "" || signatures == "" {
		return nil, refuse("missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, refuse("webhook-timestamp is not unix seconds")
	}
	now := r.Now
	if now.IsZero() {
		now = c.now()
	}
	ts := time.Unix(secs, 0).UTC()
	if age := now.Sub(ts); age > connector.MaxWebhookAge || age < -connector.MaxWebhookAge {
		return nil, refuse("webhook-timestamp is too far from the current time")
	}
	if !validSignature(c.webhookKey, id, tsText, r.Body, signatures) {
		return nil, refuse("no valid signature")
	}

	var body struct {
		Type string `json:"type"`
		Data struct {
			ApplicationID string `json:"application_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, fmt.Errorf("%s: webhook: decoding body: %w", c.cfg.Key, err)
	}
	if body.Type == "" || body.Data.ApplicationID == "" {
		return nil, fmt.Errorf("%s: webhook: the event has no type or no data.application_id", c.cfg.Key)
	}
	return []connector.WebhookEvent{{ID: id, Type: body.Type, ExternalID: body.Data.ApplicationID, OccurredAt: ts}}, nil
}

// validSignature reports whether one of the space-separated "v1,<base64>"
// signatures is the HMAC-SHA256 of id.timestamp.body.
func validSignature(key []byte, id, ts string, body []byte, signatures string) bool {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(signatures) {
		version, sig, _ := strings.Cut(s, ",")
		if version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}
