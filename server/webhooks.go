package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/sync/connector"
)

// maxWebhookBody bounds an incoming webhook's body.
const maxWebhookBody = 1 << 20

// WebhookSink receives verified webhook events; the sync engine starts a
// WEBHOOK sync of the integration's enabled triggers. It must return quickly.
type WebhookSink interface {
	HandleWebhook(ctx context.Context, in *ent.Integration, events []connector.WebhookEvent) error
}

// webhook handles POST /webhooks/{provider}/{integrationID}: it verifies the
// provider's signature (401 and no side effect when missing, wrong or stale),
// hands the events on and answers 202 at once.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	req := connector.WebhookRequest{
		Method: r.Method, URL: s.publicURL(r), Header: r.Header, Body: body, Now: time.Now(),
	}
	in, events, err := s.deps.Service.VerifyWebhook(r.Context(), r.PathValue("provider"), pulid.ID(r.PathValue("integrationID")), req)
	if err != nil {
		var e *service.Error
		switch {
		case errors.Is(err, service.ErrWebhookUnauthorized):
			s.log.InfoContext(r.Context(), "webhook refused", slog.String("provider", r.PathValue("provider")))
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid signature"})
		case errors.As(err, &e) && e.Code == service.CodeNotFound:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		case errors.As(err, &e) && e.Code == service.CodeValidation:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": e.Message})
		default:
			s.log.ErrorContext(r.Context(), "webhook failed", slog.Any("err", err))
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		}
		return
	}
	if s.deps.Webhooks != nil {
		if err := s.deps.Webhooks.HandleWebhook(r.Context(), in, events); err != nil {
			s.log.ErrorContext(r.Context(), "webhook not handed on", slog.Any("err", err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "try again"})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": len(events)})
}

// publicURL is the URL the sender signed: INTAKE_PUBLIC_URL's origin when
// set (behind a proxy), else this request's own.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
