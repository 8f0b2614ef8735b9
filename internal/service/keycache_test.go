package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/progress"
)

// A key that authenticated is not looked up again for KeyCacheTTL; a
// revocation through the service ends it at once in the process that
// made it and, through the broker, in every other.
func TestAPIKeyCache(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		broker := progress.NewLocal()
		// Two processes on one database and one broker.
		a := service.New(service.Deps{Store: db.Store, Broker: broker, CacheKeys: true})
		b := service.New(service.Deps{Store: db.Store, Broker: broker, CacheKeys: true})
		key, k, err := a.CreateOrgAPIKey(ctx, "acme", service.NewAPIKeyInput{Role: schematype.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*service.Service{a, b} {
			if v, err := s.Authenticate(ctx, key); err != nil || v.KeyID != k.ID || v.Role != schematype.RoleAdmin {
				t.Fatalf("Authenticate: %+v, %v", v, err)
			}
		}

		plain := service.New(service.Deps{Store: db.Store, Broker: broker}) // CacheKeys unset
		if _, err := plain.Authenticate(ctx, key); err != nil {
			t.Fatal(err)
		}

		// Revoked behind the services' backs: the caching ones still trust
		// it, the other looks it up.
		if err := db.Store.Client.APIKey.UpdateOneID(k.ID).SetRevokedAt(time.Now()).Exec(viewer.SystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, key); err != nil {
			t.Fatalf("a cached key was looked up again: %v", err)
		}
		if _, err := plain.Authenticate(ctx, key); service.Classify(err).Code != service.CodeUnauthenticated {
			t.Fatalf("a service without CacheKeys trusted a key it had looked up before (%v)", err)
		}
		// Revoked through the service: no process trusts it any more.
		if _, err := a.RevokeAPIKey(viewer.SystemContext(ctx), k.ID); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*service.Service{"the revoking process": a, "another process": b} {
			if _, err := s.Authenticate(ctx, key); service.Classify(err).Code != service.CodeUnauthenticated {
				t.Errorf("%s: the revoked key authenticated (%v)", name, err)
			}
		}

		// An entry ends with its key's expiry.
		soon := time.Now().Add(300 * time.Millisecond)
		brief, _, err := a.CreateOrgAPIKey(ctx, "acme", service.NewAPIKeyInput{Role: schematype.RoleViewer, ExpiresAt: &soon})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, brief); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(soon))
		if _, err := a.Authenticate(ctx, brief); service.Classify(err).Code != service.CodeUnauthenticated {
			t.Errorf("the expired key authenticated from the cache (%v)", err)
		}

		// Notices may have been lost: the cache starts over.
		other, k2, err := a.CreateOrgAPIKey(ctx, "acme", service.NewAPIKeyInput{Role: schematype.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := db.Store.Client.APIKey.UpdateOneID(k2.ID).SetRevokedAt(time.Now()).Exec(viewer.SystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		broker.Broadcast(progress.Notice{Kind: progress.KindResync})
		if _, err := b.Authenticate(ctx, other); service.Classify(err).Code != service.CodeUnauthenticated {
			t.Errorf("after a resync the key was still trusted (%v)", err)
		}
	})
}
