package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/apikey"
	"github.com/intake/intake/ent/organization"
	"github.com/intake/intake/internal/viewer"
)

// keyPrefix marks Intake API keys, so leaked keys are recognisable.
const keyPrefix = "ik_"

// CreateAPIKey creates an API key for the organization named org (creating
// the organization if needed) and returns the key. Only its hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, org string, role viewer.Role) (string, error) {
	ctx = viewer.SystemContext(ctx)
	org = strings.TrimSpace(org)
	if org == "" {
		return "", invalid("org", "must not be empty")
	}
	if role != viewer.Admin && role != viewer.ReadOnly {
		return "", invalid("role", "must be admin or viewer")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := keyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	err := s.tx(ctx, func(tx *ent.Tx) error {
		o, err := tx.Organization.Query().Where(organization.Name(org)).Only(ctx)
		if ent.IsNotFound(err) {
			o, err = tx.Organization.Create().SetName(org).Save(ctx)
		}
		if err != nil {
			return fmt.Errorf("finding organization: %w", err)
		}
		return tx.APIKey.Create().
			SetOrganizationID(o.ID).
			SetHash(hashKey(key)).
			SetRole(apikey.Role(role)).
			Exec(ctx)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Authenticate returns the viewer an API key stands for.
func (s *Service) Authenticate(ctx context.Context, key string) (*viewer.Viewer, error) {
	unauth := &Error{Code: CodeUnauthenticated, Message: "invalid API key"}
	if !strings.HasPrefix(key, keyPrefix) || len(key) > 100 {
		return nil, unauth
	}
	k, err := s.db.APIKey.Query().
		Where(apikey.Hash(hashKey(key)), apikey.RevokedAtIsNil()).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, unauth
	}
	if err != nil {
		return nil, fmt.Errorf("looking up API key: %w", err)
	}
	return &viewer.Viewer{OrgID: k.OrganizationID, Role: viewer.Role(k.Role), KeyID: k.ID}, nil
}

// BearerKey extracts the key of an "Authorization: Bearer <key>" value.
func BearerKey(header string) (string, bool) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

// hashKey is the stored form of a key. Keys carry 256 random bits, so a fast
// hash is enough: there is nothing to brute-force.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
