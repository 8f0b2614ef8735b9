// Package demo prepares a demo organization connected to the sandbox fakes,
// so a newcomer can try every mutation in the playground within a minute.
package demo

import (
	"context"
	"fmt"

	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// Org is the demo organization's name.
const Org = "demo"

// Setup creates a new admin key for the demo organization and connects one
// integration of each provider to the fakes (once: later runs reuse them,
// which is why the sandbox listens on a fixed address). It returns the key.
func Setup(ctx context.Context, svc *service.Service, fk *fakes.Set) (string, error) {
	key, err := svc.CreateAPIKey(ctx, Org, schematype.RoleAdmin)
	if err != nil {
		return "", fmt.Errorf("demo key: %w", err)
	}
	v, err := svc.Authenticate(ctx, key)
	if err != nil {
		return "", err
	}
	ctx = viewer.NewContext(ctx, v)
	existing, err := svc.IntegrationNames(ctx)
	if err != nil {
		return "", err
	}
	for _, d := range svc.Providers() {
		name := d.Name + " (sandbox)"
		if existing[name] {
			continue
		}
		creds := map[string]any{}
		for k, v := range fk.Credentials(d.Key) {
			creds[k] = v
		}
		in, err := svc.ConnectIntegration(ctx, service.ConnectIntegrationInput{
			Provider: d.Key, Name: name, Credentials: creds,
		})
		if err != nil {
			return "", fmt.Errorf("demo: connecting %s: %w", d.Name, err)
		}
		if in.Status != integration.StatusCONNECTED {
			return "", fmt.Errorf("demo: %s sandbox answered %s: %s", d.Name, in.Status, deref(in.LastError))
		}
	}
	return key, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
