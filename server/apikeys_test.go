package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/apikey"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
)

var keyPattern = regexp.MustCompile(`^ik_[A-Za-z0-9_-]{43}$`)

type keyNode struct {
	ID         pulid.ID
	Name       string
	Role       string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

const keyFields = `id name role createdAt expiresAt lastUsedAt revokedAt`

const createKeyMutation = `mutation($in: CreateAPIKeyInput!) { createAPIKey(input: $in) { key apiKey { ` + keyFields + ` } } }`

const revokeKeyMutation = `mutation($id: ID!) { revokeAPIKey(id: $id) { ` + keyFields + ` } }`

// createKey creates a key over GraphQL with the admin client.
func createKey(t *testing.T, c *apptest.Client, in map[string]any) (string, keyNode) {
	t.Helper()
	var got struct {
		CreateAPIKey struct {
			Key    string
			APIKey keyNode
		}
	}
	c.MustDo(t, createKeyMutation, map[string]any{"in": in}, &got)
	return got.CreateAPIKey.Key, got.CreateAPIKey.APIKey
}

// ownKeyID returns the ID of the key a client authenticates with.
func ownKeyID(t *testing.T, app *apptest.App, key string) pulid.ID {
	t.Helper()
	v, err := app.Svc.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v.KeyID
}

func wantUnauthenticated(t *testing.T, c *apptest.Client, msg string) {
	t.Helper()
	r := c.Do(t, `{ viewer { role } }`, nil)
	if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, msg) {
		t.Fatalf("status %d, errors %+v; want 401 UNAUTHENTICATED saying %q", r.Status, r.Errors, msg)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		adminKey := app.Key(t, "acme", schematype.RoleAdmin)
		admin := app.Client(adminKey)
		reader := app.Client(app.Key(t, "acme", schematype.RoleViewer))

		expires := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
		key, created := createKey(t, admin, map[string]any{"name": " dialer ", "role": "VIEWER", "expiresAt": expires})

		t.Run("createAPIKey returns the key once, with its settings", func(t *testing.T) {
			if !keyPattern.MatchString(key) {
				t.Fatalf("key %q", key)
			}
			if created.Name != "dialer" || created.Role != "VIEWER" || created.ExpiresAt == nil || !created.ExpiresAt.Equal(expires) ||
				created.RevokedAt != nil || created.LastUsedAt != nil || time.Since(created.CreatedAt) > time.Minute {
				t.Fatalf("created %+v", created)
			}
			var got struct{ Viewer struct{ Role string } }
			app.Client(key).MustDo(t, `{ viewer { role } }`, nil, &got)
			if got.Viewer.Role != "VIEWER" {
				t.Fatalf("the new key is %s", got.Viewer.Role)
			}
		})

		t.Run("the hash is not in the schema", func(t *testing.T) {
			r := admin.Do(t, `{ apiKeys { edges { node { hash } } } }`, nil)
			if r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("querying hash: %+v", r.Errors)
			}
		})

		t.Run("apiKeys lists the organization's keys newest first, page by page", func(t *testing.T) {
			app.Key(t, "other", schematype.RoleAdmin) // another organization's: not listed
			type page struct {
				APIKeys struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct {
						Cursor string
						Node   keyNode
					}
				}
			}
			const q = `query($after: Cursor, $first: Int) { apiKeys(after: $after, first: $first) {
				totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ` + keyFields + ` } } } }`
			var ids []pulid.ID
			vars := map[string]any{"first": 2}
			for {
				var p page
				admin.MustDo(t, q, vars, &p)
				if p.APIKeys.TotalCount != 3 {
					t.Fatalf("totalCount %d, want 3 (admin, reader, dialer)", p.APIKeys.TotalCount)
				}
				for _, e := range p.APIKeys.Edges {
					ids = append(ids, e.Node.ID)
				}
				if !p.APIKeys.PageInfo.HasNextPage {
					break
				}
				vars["after"] = *p.APIKeys.PageInfo.EndCursor
			}
			want := []pulid.ID{created.ID, ownKeyID(t, app, reader.Key), ownKeyID(t, app, adminKey)}
			if len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
				t.Fatalf("listed %v, want %v", ids, want)
			}
		})

		t.Run("input errors are VALIDATION_FAILED naming the field", func(t *testing.T) {
			for _, tc := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"name": "  ", "role": "ADMIN"}, "input.name"},
				{map[string]any{"name": strings.Repeat("n", 201), "role": "ADMIN"}, "input.name"},
				{map[string]any{"name": "old", "role": "ADMIN", "expiresAt": time.Now().Add(-time.Minute).UTC()}, "input.expiresAt"},
			} {
				r := admin.Do(t, createKeyMutation, map[string]any{"in": tc.in})
				if r.Code() != "VALIDATION_FAILED" || r.Field() != tc.field {
					t.Errorf("createAPIKey(%v): %+v, want VALIDATION_FAILED %s", tc.in, r.Errors, tc.field)
				}
			}
		})

		t.Run("VIEWER keys get FORBIDDEN", func(t *testing.T) {
			for _, tc := range []struct {
				q    string
				vars map[string]any
			}{
				{`{ apiKeys { totalCount } }`, nil},
				{createKeyMutation, map[string]any{"in": map[string]any{"name": "x", "role": "ADMIN"}}},
				{revokeKeyMutation, map[string]any{"id": created.ID}},
			} {
				if r := reader.Do(t, tc.q, tc.vars); r.Code() != "FORBIDDEN" {
					t.Errorf("%s as VIEWER: %+v, want FORBIDDEN", tc.q, r.Errors)
				}
			}
		})

		t.Run("unknown and malformed IDs are NOT_FOUND", func(t *testing.T) {
			for _, id := range []string{"key_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", "cmp_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", "nonsense"} {
				if r := admin.Do(t, revokeKeyMutation, map[string]any{"id": id}); r.Code() != "NOT_FOUND" || r.Field() != "id" {
					t.Errorf("revokeAPIKey(%s): %+v", id, r.Errors)
				}
			}
		})

		t.Run("a revoked key is UNAUTHENTICATED at its next request", func(t *testing.T) {
			var got struct{ RevokeAPIKey keyNode }
			admin.MustDo(t, revokeKeyMutation, map[string]any{"id": created.ID}, &got)
			if got.RevokeAPIKey.RevokedAt == nil || got.RevokeAPIKey.ID != created.ID {
				t.Fatalf("revoked %+v", got.RevokeAPIKey)
			}
			wantUnauthenticated(t, app.Client(key), "revoked")
			// Revoking it again changes nothing.
			var again struct{ RevokeAPIKey keyNode }
			admin.MustDo(t, revokeKeyMutation, map[string]any{"id": created.ID}, &again)
			if again.RevokeAPIKey.RevokedAt == nil || !again.RevokeAPIKey.RevokedAt.Equal(*got.RevokeAPIKey.RevokedAt) {
				t.Fatalf("revoked twice: %v then %v", got.RevokeAPIKey.RevokedAt, again.RevokeAPIKey.RevokedAt)
			}
		})

		t.Run("a key may revoke itself: that request succeeds, the next does not", func(t *testing.T) {
			self, node := createKey(t, admin, map[string]any{"name": "short-lived admin", "role": "ADMIN"})
			var got struct{ RevokeAPIKey keyNode }
			app.Client(self).MustDo(t, revokeKeyMutation, map[string]any{"id": node.ID}, &got)
			if got.RevokeAPIKey.RevokedAt == nil {
				t.Fatalf("revoked %+v", got.RevokeAPIKey)
			}
			wantUnauthenticated(t, app.Client(self), "revoked")
		})

		t.Run("an expired key is UNAUTHENTICATED", func(t *testing.T) {
			at := time.Now().Add(time.Second)
			k, _, err := app.Svc.CreateOrgAPIKey(context.Background(), "acme", service.NewAPIKeyInput{Name: "brief", Role: schematype.RoleAdmin, ExpiresAt: &at})
			if err != nil {
				t.Fatal(err)
			}
			if r := app.Client(k).Do(t, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
				t.Fatalf("before it expires: %+v", r.Errors)
			}
			time.Sleep(time.Until(at))
			wantUnauthenticated(t, app.Client(k), "expired")
		})
	})
}

// TestAPIKeyLastUsed checks that a key's lastUsedAt is set without a write
// per request: many requests, over HTTP and a websocket, write it once.
func TestAPIKeyLastUsed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		admin := app.Client(app.Key(t, "acme", schematype.RoleAdmin))
		key, node := createKey(t, admin, map[string]any{"name": "busy", "role": "VIEWER"})
		// The admin key's use just now is recorded off the request's path:
		// wait for that write, so that the count below has only the busy
		// key's (on a loaded machine it could land after the hook is added).
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var n int
			if err := db.Store.DB.QueryRow(`SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d keys have last_used_at after the admin key's first use, want 1", n)
			}
		}

		// Every statement that sets last_used_at, whether or not it changes
		// a row. Added before the key's first use.
		var writes atomic.Int32
		app.DB.Store.Client.APIKey.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if _, ok := m.Field(apikey.FieldLastUsedAt); ok {
					writes.Add(1)
				}
				return next.Mutate(ctx, m)
			})
		})

		c := app.Client(key)
		for range 10 {
			if r := c.Do(t, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
		}
		app.Connect(t, apptest.TransportWS, key)

		var used keyNode
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var got struct {
				APIKeys struct{ Edges []struct{ Node keyNode } }
			}
			admin.MustDo(t, `{ apiKeys(first: 1) { edges { node { `+keyFields+` } } } }`, nil, &got)
			if used = got.APIKeys.Edges[0].Node; used.ID != node.ID {
				t.Fatalf("newest key %s, want %s", used.ID, node.ID)
			}
			if used.LastUsedAt != nil || time.Now().After(deadline) {
				break
			}
		}
		if used.LastUsedAt == nil || time.Since(*used.LastUsedAt) > time.Minute {
			t.Fatalf("lastUsedAt = %v after 11 uses", used.LastUsedAt)
		}
		time.Sleep(200 * time.Millisecond) // writes would have landed by now
		if n := writes.Load(); n != 1 {
			t.Fatalf("%d writes of last_used_at for 11 uses within a minute, want 1", n)
		}
	})
}

// TestRevokedKeyClosesWebsockets checks that a revoked or expired key's
// open websockets are closed with 4403 within 5 seconds, and only those.
func TestRevokedKeyClosesWebsockets(t *testing.T) {
	t.Parallel()
	const within = 5 * time.Second
	const sub = `subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`

	// open returns a socket of key on app, with a running subscription.
	open := func(t *testing.T, app *apptest.App, proto, key string, campaign pulid.ID) *apptest.WS {
		t.Helper()
		ws := app.Connect(t, proto, key)
		ws.Subscribe("1", sub, map[string]any{"id": campaign})
		return ws
	}
	// wantClosed requires ws to be closed with 4403 within 5s of since.
	wantClosed := func(t *testing.T, ws *apptest.WS, since time.Time) {
		t.Helper()
		if code := ws.CloseCode(within + time.Second); code != 4403 {
			t.Fatalf("close code %d, want 4403", code)
		}
		if d := time.Since(since); d > within {
			t.Fatalf("closed after %s, want within %s", d, within)
		}
	}
	// wantOpen requires ws to still answer a query.
	wantOpen := func(t *testing.T, ws *apptest.WS) {
		t.Helper()
		ws.Subscribe("q", `{ viewer { role } }`, nil)
		if d := ws.NextData("q"); len(d.Errors) > 0 {
			t.Fatalf("query on a socket that should be open: %+v", d.Errors)
		}
	}

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		app := apptest.Start(t, dbtest.Open(t, dialect.SQLite))
		adminKey := app.Key(t, "acme", schematype.RoleAdmin)
		admin := app.Client(adminKey)
		campaign := isoCreateCampaign(t, admin, "watched")
		doomed, node := createKey(t, admin, map[string]any{"name": "doomed", "role": "VIEWER"})

		t.Run("revocation", func(t *testing.T) {
			sockets := []*apptest.WS{open(t, app, apptest.TransportWS, doomed, campaign), open(t, app, apptest.LegacyWS, doomed, campaign)}
			bystander := open(t, app, apptest.TransportWS, adminKey, campaign)
			revoked := time.Now()
			admin.MustDo(t, revokeKeyMutation, map[string]any{"id": node.ID}, &struct{}{})
			for _, ws := range sockets {
				wantClosed(t, ws, revoked)
			}
			wantOpen(t, bystander)
		})
		t.Run("expiry", func(t *testing.T) {
			at := time.Now().Add(time.Second)
			k, _, err := app.Svc.CreateOrgAPIKey(context.Background(), "acme", service.NewAPIKeyInput{Role: schematype.RoleViewer, ExpiresAt: &at})
			if err != nil {
				t.Fatal(err)
			}
			ws := open(t, app, apptest.TransportWS, k, campaign)
			wantClosed(t, ws, at)
		})
	})

	t.Run("postgres, revoked on one replica, socket on another", func(t *testing.T) {
		t.Parallel()
		db := dbtest.Open(t, dialect.Postgres)
		fk := apptest.StartSyncFakes(t, sandbox.Dataset{Seed: 1, Size: 10}, nil)
		a := apptest.StartSyncReplica(t, db, fk)
		b := apptest.StartSyncReplica(t, db, fk)
		adminKey := a.Key(t, "acme", schematype.RoleAdmin)
		admin := a.Client(adminKey)
		campaign := isoCreateCampaign(t, admin, "watched")
		doomed, node := createKey(t, admin, map[string]any{"name": "doomed", "role": "VIEWER"})

		sockets := []*apptest.WS{open(t, b.App, apptest.TransportWS, doomed, campaign), open(t, b.App, apptest.LegacyWS, doomed, campaign)}
		bystander := open(t, b.App, apptest.TransportWS, adminKey, campaign)
		revoked := time.Now()
		admin.MustDo(t, revokeKeyMutation, map[string]any{"id": node.ID}, &struct{}{})
		for _, ws := range sockets {
			wantClosed(t, ws, revoked)
		}
		wantOpen(t, bystander)
		wantUnauthenticated(t, b.Client(doomed), "revoked")
	})

}

// TestRevokedKeyOnAnotherReplica: a replica that trusts a key it looked
// up refuses it once another replica revokes it, well within the cache's
// TTL (service.KeyCacheTTL).
func TestRevokedKeyOnAnotherReplica(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	fk := apptest.StartSyncFakes(t, sandbox.Dataset{Seed: 1, Size: 10}, nil)
	a := apptest.StartSyncReplica(t, db, fk)
	b := apptest.StartSyncReplica(t, db, fk)
	admin := a.Client(a.Key(t, "acme", schematype.RoleAdmin))
	doomed, node := createKey(t, admin, map[string]any{"name": "doomed", "role": "VIEWER"})
	// B has looked the key up and trusts it for a while (service.KeyCacheTTL).
	for range 3 {
		if r := b.Client(doomed).Do(t, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
	}
	admin.MustDo(t, revokeKeyMutation, map[string]any{"id": node.ID}, &struct{}{})
	revoked := time.Now()
	// The revocation's notice reaches B in milliseconds; a second is
	// far below the cache's TTL.
	for {
		r := b.Client(doomed).Do(t, `{ viewer { role } }`, nil)
		if r.Status == http.StatusUnauthorized {
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("B still accepted the revoked key %s after the revocation (status %d)", time.Since(revoked).Round(time.Millisecond), r.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("B refused the revoked key %s after the revocation", time.Since(revoked).Round(time.Millisecond))
}

// TestFailedAuthenticationLimit checks that failed authentications from one
// address are limited without database lookups, and what still works.
func TestFailedAuthenticationLimit(t *testing.T) {
	// Not parallel with the package's other tests: a refused address earns
	// a token back every 3s, so each flood below must land within 3s, which
	// the load of a whole package of tests on 2 CPUs can stretch past.
	const limit = 20 // failures an address may make at once
	bad := func(i int) string { return "ik_" + strings.Repeat("x", 40) + string(rune('a'+i%26)) }

	// lookups counts the API key queries of app's database.
	lookups := func(app *apptest.App) *atomic.Int32 {
		var n atomic.Int32
		app.DB.Store.Client.APIKey.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				n.Add(1)
				return next.Query(ctx, q)
			})
		}))
		return &n
	}

	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		known := app.Key(t, "acme", schematype.RoleAdmin)
		fresh := app.Key(t, "acme", schematype.RoleAdmin)
		n := lookups(app)
		if r := app.Client(known).Do(t, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}

		t.Run("requests without a key count nothing", func(t *testing.T) {
			for range 2 * limit {
				if r := app.Client("").Do(t, `{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", r.Status)
				}
			}
		})

		t.Run("a flood of bad keys gets 429 without lookups", func(t *testing.T) {
			for i := range limit {
				if r := app.Client(bad(i)).Do(t, `{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("failure %d: status %d, want 401", i+1, r.Status)
				}
			}
			before := n.Load()
			for i := range 50 {
				req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+bad(i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("status %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
				}
			}
			r := app.Client(bad(0)).Do(t, `{ viewer { role } }`, nil)
			if r.Code() != "RATE_LIMITED" || r.Errors[0].Extensions.RetryAfter < 1 {
				t.Fatalf("errors %+v, want RATE_LIMITED with retryAfter", r.Errors)
			}
			if got := n.Load() - before; got != 0 {
				t.Fatalf("%d API key lookups while the address is refused, want 0", got)
			}
		})

		t.Run("a key in use from the address still works, one new to the server waits", func(t *testing.T) {
			if r := app.Client(known).Do(t, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
				t.Fatalf("known key: %+v", r.Errors)
			}
			if r := app.Client(fresh).Do(t, `{ viewer { role } }`, nil); r.Status != http.StatusTooManyRequests {
				t.Fatalf("a key new to the server: status %d, want 429", r.Status)
			}
		})

		t.Run("connection_init from the refused address is closed with 4429", func(t *testing.T) {
			ws, _, err := app.Dial(t, apptest.TransportWS, "")
			if err != nil {
				t.Fatal(err)
			}
			ws.Init(bad(1))
			if code := ws.CloseCode(5 * time.Second); code != 4429 {
				t.Fatalf("close code %d, want 4429", code)
			}
		})
	})

	t.Run("bad keys in connection_init count too", func(t *testing.T) {
		t.Parallel()
		app := apptest.Start(t, dbtest.Open(t, dialect.SQLite))
		for i := range limit {
			ws, _, err := app.Dial(t, apptest.TransportWS, "")
			if err != nil {
				t.Fatal(err)
			}
			ws.Init(bad(i))
			if code := ws.CloseCode(5 * time.Second); code != 4403 {
				t.Fatalf("failure %d: close code %d, want 4403", i+1, code)
			}
		}
		if r := app.Client(bad(0)).Do(t, `{ viewer { role } }`, nil); r.Status != http.StatusTooManyRequests || r.Code() != "RATE_LIMITED" {
			t.Fatalf("after %d failed connection_inits: status %d %+v, want 429", limit, r.Status, r.Errors)
		}
	})
}
