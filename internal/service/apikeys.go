package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/apikey"
	"github.com/intake/intake/ent/organization"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// keyPrefix marks Intake API keys, so leaked keys are recognisable.
const keyPrefix = "ik_"

// maxAPIKeyPage is the longest page of API keys one call returns (the
// GraphQL layer refuses larger pages before they get here).
const maxAPIKeyPage = 100

// LastUsedPrecision is how stale an API key's last_used_at may be: a key is
// written at most once in that time per process, and not at all while the
// stored value is younger (another replica wrote it).
const LastUsedPrecision = time.Minute

// NewAPIKeyInput is a new API key's settings.
type NewAPIKeyInput struct {
	// Name says what the key is for; required over GraphQL, "" allowed
	// from the command line.
	Name string
	Role schematype.Role
	// ExpiresAt, if set, is when the key stops working; it must be in the
	// future.
	ExpiresAt *time.Time
}

// CreateAPIKey creates an unnamed API key that never expires for the
// organization named org (creating the organization if needed) and returns
// the key. It is how a first key is made; see CreateOrgAPIKey.
func (s *Service) CreateAPIKey(ctx context.Context, org string, role schematype.Role) (string, error) {
	key, _, err := s.CreateOrgAPIKey(ctx, org, NewAPIKeyInput{Role: role})
	return key, err
}

// CreateOrgAPIKey creates an API key for the organization named org,
// creating the organization if needed, as the operator (the command line)
// does: no caller's organization applies. It returns the key, which is not
// stored anywhere (only its hash is), and the stored row.
func (s *Service) CreateOrgAPIKey(ctx context.Context, org string, in NewAPIKeyInput) (string, *ent.APIKey, error) {
	ctx = viewer.SystemContext(ctx)
	org = strings.TrimSpace(org)
	if org == "" {
		return "", nil, invalid("org", "must not be empty")
	}
	create, key, err := s.newAPIKey(in, "name", "role", "expiresAt", false)
	if err != nil {
		return "", nil, err
	}
	var k *ent.APIKey
	err = s.tx(ctx, func(tx *ent.Tx) error {
		o, err := tx.Organization.Query().Where(organization.Name(org)).Only(ctx)
		if ent.IsNotFound(err) {
			o, err = tx.Organization.Create().SetName(org).Save(ctx)
		}
		if err != nil {
			return fmt.Errorf("finding organization: %w", err)
		}
		k, err = create(tx.APIKey.Create().SetOrganizationID(o.ID)).Save(ctx)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// NewAPIKey creates an API key in the viewer's organization (ADMIN only)
// and returns the key, which is shown this once, and the stored row.
func (s *Service) NewAPIKey(ctx context.Context, in NewAPIKeyInput) (string, *ent.APIKey, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", nil, err
	}
	create, key, err := s.newAPIKey(in, "input.name", "input.role", "input.expiresAt", true)
	if err != nil {
		return "", nil, err
	}
	// The tenant hook stamps the viewer's organization.
	k, err := create(s.db.APIKey.Create()).Save(ctx)
	if err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// newAPIKey validates in (naming the fields as the caller knows them) and
// draws a key; the returned func sets everything but the organization.
func (s *Service) newAPIKey(in NewAPIKeyInput, nameField, roleField, expiresField string, nameRequired bool) (func(*ent.APIKeyCreate) *ent.APIKeyCreate, string, error) {
	name, err := checkText(nameField, in.Name, nameRequired, 200)
	if err != nil {
		return nil, "", err
	}
	if in.Role != schematype.RoleAdmin && in.Role != schematype.RoleViewer {
		return nil, "", invalid(roleField, "must be ADMIN or VIEWER")
	}
	var expires *time.Time
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !t.After(time.Now()) {
			return nil, "", invalid(expiresField, "must be in the future (got %s)", t.Format(time.RFC3339))
		}
		expires = &t
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	key := keyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	return func(c *ent.APIKeyCreate) *ent.APIKeyCreate {
		return c.SetName(name).SetHash(hashKey(key)).SetRole(in.Role).SetNillableExpiresAt(expires)
	}, key, nil
}

// APIKeyPage is a page of API keys, newest first.
type APIKeyPage struct {
	Keys        []*ent.APIKey
	HasNextPage bool
	TotalCount  int
}

// APIKeys lists the viewer's organization's API keys, newest first (ADMIN
// only): up to first (default and most: 100) after the key with ID after.
// Revoked and expired keys are listed too, with revokedAt and expiresAt.
func (s *Service) APIKeys(ctx context.Context, first *int, after *pulid.ID) (*APIKeyPage, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	n := maxAPIKeyPage
	if first != nil {
		if *first < 0 || *first > maxAPIKeyPage {
			return nil, invalid("first", "must be between 0 and %d", maxAPIKeyPage)
		}
		n = *first
	}
	// IDs are ULIDs: in creation order, so the ID is the cursor.
	q := s.db.APIKey.Query().Order(ent.Desc(apikey.FieldID))
	if after != nil {
		q.Where(apikey.IDLT(*after))
	}
	keys, err := q.Limit(n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	total, err := s.db.APIKey.Query().Count(ctx)
	if err != nil {
		return nil, err
	}
	page := &APIKeyPage{Keys: keys, TotalCount: total}
	if len(keys) > n {
		page.Keys, page.HasNextPage = keys[:n], true
	}
	return page, nil
}

// OrgAPIKeys lists every API key of the organization named org, oldest
// first, as the operator (the command line).
func (s *Service) OrgAPIKeys(ctx context.Context, org string) ([]*ent.APIKey, error) {
	ctx = viewer.SystemContext(ctx)
	o, err := s.db.Organization.Query().Where(organization.Name(strings.TrimSpace(org))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("org", fmt.Sprintf("organization %q", org))
	}
	if err != nil {
		return nil, err
	}
	return s.db.APIKey.Query().Where(apikey.OrganizationID(o.ID)).Order(ent.Asc(apikey.FieldID)).All(ctx)
}

// RevokeAPIKey revokes an API key of the viewer's organization (ADMIN only;
// with viewer.SystemContext, any organization's). From then on the key
// authenticates nothing, and its open websockets are closed by the server
// holding them (see the server's key sweep). A key may revoke itself: the
// request that does it still succeeds. Revoking a revoked key changes
// nothing and returns it as it is.
func (s *Service) RevokeAPIKey(ctx context.Context, id pulid.ID) (*ent.APIKey, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := checkID("id", id, "key", "API key"); err != nil {
		return nil, err
	}
	var k *ent.APIKey
	err := s.tx(ctx, func(tx *ent.Tx) error {
		var err error
		if k, err = tx.APIKey.Get(ctx, id); err != nil {
			if ent.IsNotFound(err) {
				return notFound("id", "API key")
			}
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		k, err = tx.APIKey.UpdateOne(k).SetRevokedAt(time.Now().UTC().Truncate(time.Microsecond)).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.revoked(ctx, k.ID)
	return k, nil
}

// Authenticate returns the viewer an API key stands for. Unknown, revoked
// and expired keys are UNAUTHENTICATED.
func (s *Service) Authenticate(ctx context.Context, key string) (*viewer.Viewer, error) {
	unauth := &Error{Code: CodeUnauthenticated, Message: "invalid API key"}
	if !strings.HasPrefix(key, keyPrefix) || len(key) > 100 {
		return nil, unauth
	}
	h, now := hashKey(key), time.Now()
	if v, ok := s.keys.get(h, now); ok {
		return v, nil
	}
	gen := s.keys.generation()
	k, err := s.db.APIKey.Query().Where(apikey.Hash(h)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, unauth
	}
	if err != nil {
		return nil, fmt.Errorf("looking up API key: %w", err)
	}
	// The holder of a revoked or expired key learns which: only the key
	// itself gets this answer.
	if k.RevokedAt != nil {
		return nil, &Error{Code: CodeUnauthenticated, Message: "this API key has been revoked"}
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, &Error{Code: CodeUnauthenticated, Message: "this API key has expired"}
	}
	v := &viewer.Viewer{OrgID: k.OrganizationID, Role: k.Role, KeyID: k.ID, KeyName: k.Name}
	s.keys.put(h, v, k.ExpiresAt, gen, now)
	return v, nil
}

// RecordAPIKeyUse sets the key's last_used_at to at unless it is already
// within LastUsedPrecision of it. Callers throttle the calls per key (one
// a minute per process is the intent); the condition keeps replicas from
// writing the row more than about once per LastUsedPrecision in all, and
// from moving it backwards.
func (s *Service) RecordAPIKeyUse(ctx context.Context, id pulid.ID, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	_, err := s.db.APIKey.Update().
		Where(apikey.ID(id), apikey.Or(apikey.LastUsedAtIsNil(), apikey.LastUsedAtLTE(at.Add(-LastUsedPrecision)))).
		SetLastUsedAt(at).
		Save(viewer.SystemContext(ctx))
	return err
}

// InvalidAPIKeys returns those of ids that no longer authenticate at now:
// revoked, expired or gone. It is one query, however many IDs (up to the
// database's bound on parameters: callers pass a few thousand at most).
// The server asks it every few seconds for the keys holding websockets.
func (s *Service) InvalidAPIKeys(ctx context.Context, ids []pulid.ID, now time.Time) ([]pulid.ID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	valid, err := s.db.APIKey.Query().
		Where(apikey.IDIn(ids...), apikey.RevokedAtIsNil(),
			apikey.Or(apikey.ExpiresAtIsNil(), apikey.ExpiresAtGT(now.UTC()))).
		IDs(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	ok := make(map[pulid.ID]bool, len(valid))
	for _, id := range valid {
		ok[id] = true
	}
	var out []pulid.ID
	for _, id := range ids {
		if !ok[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// requireAdmin lets ADMIN keys and the system (the command line) through.
func requireAdmin(ctx context.Context) error {
	if viewer.IsSystem(ctx) {
		return nil
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return &Error{Code: CodeUnauthenticated, Message: "an API key is required"}
	}
	if v.Role != schematype.RoleAdmin {
		return &Error{Code: CodeForbidden, Message: "only ADMIN keys may manage API keys"}
	}
	return nil
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
