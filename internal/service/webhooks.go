package service

import (
	"context"
	"errors"
	"strings"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
)

// ErrWebhookUnauthorized is a webhook whose signature did not verify.
var ErrWebhookUnauthorized = errors.New("webhook signature refused")

// VerifyWebhook finds the integration a webhook is addressed to and verifies
// the request with its credentials. The integration must exist, belong to
// the provider named in the URL, support webhooks and be connected; anything
// else is NOT_FOUND, so the endpoint tells strangers nothing.
func (s *Service) VerifyWebhook(ctx context.Context, provider string, id pulid.ID, req connector.WebhookRequest) (*ent.Integration, []connector.WebhookEvent, error) {
	nf := notFound("integrationID", "integration")
	if !id.Valid() || id.Prefix() != "int" {
		return nil, nil, nf
	}
	in, err := s.db.Integration.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil, nf
	}
	if err != nil {
		return nil, nil, err
	}
	if !strings.EqualFold(provider, string(in.Provider)) || in.Status == integration.StatusDISCONNECTED {
		return nil, nil, nf
	}
	conn, err := s.OpenConnector(in)
	if err != nil {
		return nil, nil, err
	}
	events, err := conn.ParseWebhook(req)
	switch {
	case errors.Is(err, connector.ErrUnsupported):
		return nil, nil, nf
	case errors.Is(err, connector.ErrUnauthorized):
		return nil, nil, ErrWebhookUnauthorized
	case err != nil:
		return nil, nil, invalid("body", "%s", err.Error())
	}
	return in, events, nil
}
