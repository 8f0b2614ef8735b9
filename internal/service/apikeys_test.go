package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		svc := service.New(service.Deps{Store: db.Store})
		create := func(in service.NewAPIKeyInput) (string, pulid.ID) {
			t.Helper()
			key, k, err := svc.CreateOrgAPIKey(ctx, "acme", in)
			if err != nil {
				t.Fatal(err)
			}
			return key, k.ID
		}
		soon := time.Now().Add(500 * time.Millisecond)
		_, live := create(service.NewAPIKeyInput{Role: schematype.RoleAdmin})
		_, revoked := create(service.NewAPIKeyInput{Role: schematype.RoleAdmin})
		expiringKey, expiring := create(service.NewAPIKeyInput{Role: schematype.RoleViewer, ExpiresAt: &soon})
		if _, err := svc.RevokeAPIKey(viewer.SystemContext(ctx), revoked); err != nil {
			t.Fatal(err)
		}
		gone := pulid.New("key")

		t.Run("InvalidAPIKeys names the revoked, expired and unknown keys", func(t *testing.T) {
			ids := []pulid.ID{live, revoked, expiring, gone}
			got, err := svc.InvalidAPIKeys(ctx, ids, time.Now())
			if err != nil || !slices.Equal(got, []pulid.ID{revoked, gone}) {
				t.Fatalf("before the expiry: %v, %v; want %v", got, err, []pulid.ID{revoked, gone})
			}
			got, err = svc.InvalidAPIKeys(ctx, ids, soon)
			if err != nil || !slices.Equal(got, []pulid.ID{revoked, expiring, gone}) {
				t.Fatalf("at the expiry: %v, %v", got, err)
			}
		})

		t.Run("an expired key does not authenticate", func(t *testing.T) {
			if _, err := svc.Authenticate(ctx, expiringKey); err != nil {
				t.Fatalf("before its expiry: %v", err)
			}
			time.Sleep(time.Until(soon))
			if _, err := svc.Authenticate(ctx, expiringKey); service.Classify(err).Code != service.CodeUnauthenticated {
				t.Fatalf("after its expiry: %v", err)
			}
		})

		t.Run("RecordAPIKeyUse writes at most once a minute and never backwards", func(t *testing.T) {
			sys := viewer.SystemContext(ctx)
			lastUsed := func() time.Time {
				t.Helper()
				k := db.Store.Client.APIKey.GetX(sys, live)
				if k.LastUsedAt == nil {
					t.Fatal("last_used_at not set")
				}
				return k.LastUsedAt.UTC()
			}
			t0 := time.Now().UTC().Truncate(time.Second)
			for _, step := range []struct {
				at, want time.Time
			}{
				{t0, t0},
				{t0.Add(30 * time.Second), t0},             // within a minute of the stored time
				{t0.Add(-time.Hour), t0},                   // older than the stored time
				{t0.Add(time.Minute), t0.Add(time.Minute)}, // a minute later
			} {
				if err := svc.RecordAPIKeyUse(ctx, live, step.at); err != nil {
					t.Fatal(err)
				}
				if got := lastUsed(); !got.Equal(step.want) {
					t.Fatalf("after a use at %s: last_used_at %s, want %s", step.at, got, step.want)
				}
			}
		})

		t.Run("the command line names its fields", func(t *testing.T) {
			past := time.Now().Add(-time.Second)
			for _, tc := range []struct {
				org   string
				in    service.NewAPIKeyInput
				field string
			}{
				{" ", service.NewAPIKeyInput{Role: schematype.RoleAdmin}, "org"},
				{"acme", service.NewAPIKeyInput{Role: "ROOT"}, "role"},
				{"acme", service.NewAPIKeyInput{Role: schematype.RoleAdmin, ExpiresAt: &past}, "expiresAt"},
			} {
				_, _, err := svc.CreateOrgAPIKey(ctx, tc.org, tc.in)
				if e := service.Classify(err); e.Code != service.CodeValidation || e.Field != tc.field {
					t.Errorf("CreateOrgAPIKey(%q, %+v): %v, want VALIDATION_FAILED %s", tc.org, tc.in, err, tc.field)
				}
			}
		})
	})
}
