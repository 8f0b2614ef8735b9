package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// keyLine is the whole output of `apikey create`: one key, one line.
var keyLine = regexp.MustCompile(`^ik_[A-Za-z0-9_-]{43}\n$`)

// intake runs the command line with env as the whole environment.
func intake(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, &out)
	return out.String(), err
}

func encryptionKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// cliEnv is the environment of a CLI working on a fresh database of the
// dialect: a data directory for SQLite, a DATABASE_URL and an encryption
// key for PostgreSQL.
func cliEnv(t *testing.T, dia string) map[string]string {
	t.Helper()
	env := map[string]string{"INTAKE_DATA_DIR": t.TempDir(), "INTAKE_LOG_LEVEL": "error"}
	if dia == dialect.Postgres {
		env["DATABASE_URL"] = dbtest.Empty(t, dia).URL
		env["INTAKE_ENCRYPTION_KEY"] = encryptionKey(t)
	}
	return env
}

// openStore opens the database a CLI environment points at.
func openStore(t *testing.T, env map[string]string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), env["DATABASE_URL"], env["INTAKE_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestCLI(t *testing.T) {
	t.Parallel()
	for _, dia := range dbtest.Dialects {
		name := "sqlite"
		if dia == dialect.Postgres {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			env := cliEnv(t, dia)
			migs, err := store.Migrations(dia)
			if err != nil {
				t.Fatal(err)
			}
			// What Migrate applies to a fresh database: Intake's migrations
			// first, then those it migrates along (the job queue's).
			ref, err := store.Open(ctx, dbtest.Empty(t, dia).URL, "")
			if err != nil {
				t.Fatal(err)
			}
			all, err := ref.Migrate(ctx)
			ref.Close()
			if err != nil || len(all) < len(migs) {
				t.Fatalf("migrating a reference database: %v, %v", all, err)
			}
			for i, m := range migs {
				if all[i] != m.Version {
					t.Fatalf("Migrate applied %v, want Intake's migrations first", all)
				}
			}

			t.Run("migrate applies every migration, then is up to date", func(t *testing.T) {
				var want strings.Builder
				for _, v := range all {
					want.WriteString("applied " + v + "\n")
				}
				out, err := intake(t, ctx, env, "migrate")
				if err != nil || out != want.String() {
					t.Fatalf("first migrate = %q, %v; want %q", out, err, want.String())
				}
				out, err = intake(t, ctx, env, "migrate")
				if err != nil || out != "database is up to date\n" {
					t.Fatalf("second migrate = %q, %v; want %q", out, err, "database is up to date\n")
				}
			})

			var adminKey, viewerKey string
			t.Run("apikey create prints one key and nothing else", func(t *testing.T) {
				out, err := intake(t, ctx, env, "apikey", "create", "--org", "acme")
				if err != nil || !keyLine.MatchString(out) {
					t.Fatalf("apikey create = %q, %v; want one line with an ik_ key", out, err)
				}
				adminKey = strings.TrimSuffix(out, "\n")
			})
			t.Run("apikey create --role viewer", func(t *testing.T) {
				out, err := intake(t, ctx, env, "apikey", "create", "--org", "acme", "--role", "viewer")
				if err != nil || !keyLine.MatchString(out) {
					t.Fatalf("apikey create --role viewer = %q, %v", out, err)
				}
				viewerKey = strings.TrimSuffix(out, "\n")
				if viewerKey == adminKey {
					t.Fatal("two keys are equal")
				}
			})
			for _, tc := range []struct {
				name string
				args []string
				want string // the error must name it
			}{
				{"an unknown role fails naming --role", []string{"apikey", "create", "--org", "other", "--role", "root"}, "--role"},
				{"a missing --org fails naming it", []string{"apikey", "create", "--role", "viewer"}, "--org"},
				{"an empty --org fails naming it", []string{"apikey", "create", "--org", ""}, "--org"},
				{"apikey without create fails with its usage", []string{"apikey", "--org", "other"}, "apikey create"},
				{"an unknown flag fails naming it", []string{"apikey", "create", "--org", "other", "--admin"}, "admin"},
				{"an unknown command fails naming it", []string{"frobnicate"}, "frobnicate"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					out, err := intake(t, ctx, env, tc.args...)
					if err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("intake %v: err = %v, want one naming %q", tc.args, err, tc.want)
					}
					if out != "" {
						t.Fatalf("intake %v printed %q on failure", tc.args, out)
					}
				})
			}

			t.Run("the keys authenticate as their organization and role", func(t *testing.T) {
				st := openStore(t, env)
				svc := service.New(service.Deps{Store: st})
				sys := viewer.SystemContext(ctx)
				for key, role := range map[string]schematype.Role{adminKey: schematype.RoleAdmin, viewerKey: schematype.RoleViewer} {
					v, err := svc.Authenticate(ctx, key)
					if err != nil {
						t.Fatalf("a printed key does not authenticate: %v", err)
					}
					org, err := st.Client.Organization.Get(sys, v.OrgID)
					if err != nil || org.Name != "acme" || v.Role != role {
						t.Fatalf("key is %+v of %+v (%v), want role %s of acme", v, org, err, role)
					}
				}
				orgs, err := st.Client.Organization.Query().All(sys)
				if err != nil || len(orgs) != 1 {
					t.Fatalf("organizations = %v, %v; want only acme (refused commands create nothing)", orgs, err)
				}
				if n := st.Client.APIKey.Query().CountX(sys); n != 2 {
					t.Fatalf("%d API keys stored, want 2", n)
				}
			})

			t.Run("apikey create --name --expires, list, revoke", func(t *testing.T) {
				out, err := intake(t, ctx, env, "apikey", "create", "--org", "acme", "--name", "CRM sync", "--role", "viewer", "--expires", "90d")
				if err != nil || !keyLine.MatchString(out) {
					t.Fatalf("apikey create --name --expires = %q, %v", out, err)
				}
				named := strings.TrimSuffix(out, "\n")
				st := openStore(t, env)
				svc := service.New(service.Deps{Store: st})
				v, err := svc.Authenticate(ctx, named)
				if err != nil {
					t.Fatal(err)
				}

				out, err = intake(t, ctx, env, "apikey", "list", "--org", "acme")
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 4 || !regexp.MustCompile(`^ID +NAME +ROLE +CREATED +EXPIRES +LAST USED +REVOKED$`).MatchString(lines[0]) {
					t.Fatalf("apikey list = %q, want a header and 3 keys", out)
				}
				expires := time.Now().Add(90 * 24 * time.Hour).UTC()
				row := regexp.MustCompile(`^` + string(v.KeyID) + ` +"CRM sync" +VIEWER +(\S+) +(\S+) +- +-$`).FindStringSubmatch(lines[3])
				if row == nil {
					t.Fatalf("newest row %q, want the named key, never used, not revoked", lines[3])
				}
				if at, err := time.Parse(time.RFC3339, row[2]); err != nil || at.Sub(expires).Abs() > time.Minute {
					t.Fatalf("expires %q, want about %s", row[2], expires.Format(time.RFC3339))
				}
				if !strings.Contains(lines[1], `""`) || !strings.Contains(lines[1], " - ") {
					t.Fatalf("a key created without --name or --expires: %q", lines[1])
				}
				for _, secret := range []string{adminKey, viewerKey, named, "ik_"} {
					if strings.Contains(out, secret) {
						t.Fatalf("apikey list shows a key: %q", out)
					}
				}
				k := st.Client.APIKey.GetX(viewer.SystemContext(ctx), v.KeyID)
				if strings.Contains(out, k.Hash) {
					t.Fatal("apikey list shows a key's hash")
				}

				out, err = intake(t, ctx, env, "apikey", "revoke", string(v.KeyID))
				if err != nil || !strings.HasPrefix(out, string(v.KeyID)+" revoked at ") {
					t.Fatalf("apikey revoke = %q, %v", out, err)
				}
				if _, err := svc.Authenticate(ctx, named); service.Classify(err).Code != service.CodeUnauthenticated {
					t.Fatalf("a revoked key authenticates: %v", err)
				}
				out, _ = intake(t, ctx, env, "apikey", "list", "--org", "acme")
				if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.HasSuffix(lines[3], " -") {
					t.Fatalf("the revoked key is listed as not revoked: %q", lines[3])
				}
				if _, err := svc.Authenticate(ctx, adminKey); err != nil {
					t.Fatalf("revoking one key revoked another: %v", err)
				}
			})
			for _, tc := range []struct {
				name string
				args []string
				want string
			}{
				{"a malformed --expires fails naming it", []string{"apikey", "create", "--org", "acme", "--expires", "soon"}, "--expires"},
				{"a non-positive --expires fails naming it", []string{"apikey", "create", "--org", "acme", "--expires", "0d"}, "--expires"},
				{"apikey list without --org fails naming it", []string{"apikey", "list"}, "--org"},
				{"apikey list of an unknown organization fails naming it", []string{"apikey", "list", "--org", "nobody"}, "nobody"},
				{"apikey revoke without an ID fails with its usage", []string{"apikey", "revoke"}, "apikey revoke ID"},
				{"apikey revoke of an unknown ID fails", []string{"apikey", "revoke", "key_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"}, "not found"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					out, err := intake(t, ctx, env, tc.args...)
					if err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("intake %v: err = %v, want one naming %q", tc.args, err, tc.want)
					}
					if out != "" {
						t.Fatalf("intake %v printed %q on failure", tc.args, out)
					}
				})
			}
		})
	}
}

func TestCLIConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"a log format other than json or text", map[string]string{"INTAKE_LOG_FORMAT": "xml"}, []string{"migrate"}, "INTAKE_LOG_FORMAT"},
		{"a log level that does not exist", map[string]string{"INTAKE_LOG_LEVEL": "loud"}, []string{"migrate"}, "INTAKE_LOG_LEVEL"},
		{"introspection that is not a boolean", map[string]string{"INTAKE_INTROSPECTION": "maybe"}, []string{"migrate"}, "INTAKE_INTROSPECTION"},
		{"an allowed origin without http(s)", map[string]string{"INTAKE_ALLOWED_ORIGINS": "ftp://example.com"}, []string{"migrate"}, "INTAKE_ALLOWED_ORIGINS"},
		{"a postgres URL without an encryption key", map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable"}, []string{"migrate"}, "INTAKE_ENCRYPTION_KEY"},
		{"a database URL of an unsupported scheme", map[string]string{"DATABASE_URL": "mysql://127.0.0.1:1/none", "INTAKE_ENCRYPTION_KEY": "x"}, []string{"migrate"}, "DATABASE_URL"},
		{"an encryption key that is not 32 bytes", map[string]string{"INTAKE_ENCRYPTION_KEY": "bm90LWEta2V5"}, []string{"apikey", "create", "--org", "acme"}, "INTAKE_ENCRYPTION_KEY"},
	} {
		t.Run(tc.name+" is refused naming the variable", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"INTAKE_DATA_DIR": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			out, err := intake(t, context.Background(), env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
			if out != "" {
				t.Fatalf("printed %q on failure", out)
			}
			if tc.args[0] == "apikey" {
				// Failing after the database opened must not have made a key.
				st := openStore(t, env)
				if n := st.Client.APIKey.Query().CountX(viewer.SystemContext(context.Background())); n != 0 {
					t.Fatalf("%d API keys created by a failed command", n)
				}
				return
			}
			if _, err := os.Stat(filepath.Join(dir, "intake.db")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a database was created despite the configuration error (stat: %v)", err)
			}
		})
	}

	t.Run("help prints the usage", func(t *testing.T) {
		t.Parallel()
		out, err := intake(t, context.Background(), map[string]string{"INTAKE_DATA_DIR": t.TempDir()}, "help")
		if err != nil || !strings.HasPrefix(out, "usage: intake") {
			t.Fatalf("help = %q, %v", out, err)
		}
	})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// httpGet returns the status and body of GET url, or an error.
func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestServe(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := map[string]string{"INTAKE_DATA_DIR": t.TempDir(), "INTAKE_ADDR": addr, "INTAKE_LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard)
	}()
	base := "http://" + addr

	// Wait until the server answers (or run gives up). The deadline only
	// guards against a hang; it is not a performance assertion.
	up := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("serve returned before answering: %v", err)
		default:
		}
		if code, _, err := httpGet(base + "/healthz"); err == nil && code == http.StatusOK {
			up = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !up {
		t.Fatal("serve never answered /healthz")
	}

	t.Run("healthz and readyz answer 200", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
			code, body, err := httpGet(base + path)
			var got struct{ Status string }
			if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Status != want {
				t.Errorf("GET %s = %d %q, %v; want 200 status %q", path, code, body, err, want)
			}
		}
	})

	t.Run("a key created by the CLI while serving works at once", func(t *testing.T) {
		out, err := intake(t, context.Background(), env, "apikey", "create", "--org", "live", "--role", "viewer")
		if err != nil || !keyLine.MatchString(out) {
			t.Fatalf("apikey create next to a running server = %q, %v", out, err)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { organization { name } role } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Data struct {
				Viewer struct {
					Organization struct{ Name string }
					Role         string
				}
			}
			Errors []any
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || len(got.Errors) > 0 || got.Data.Viewer.Organization.Name != "live" || got.Data.Viewer.Role != "VIEWER" {
			t.Fatalf("viewer with the new key: HTTP %d %+v", resp.StatusCode, got)
		}
	})

	t.Run("cancelling the context shuts down gracefully", func(t *testing.T) {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v after cancel, want nil", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not return after its context was cancelled")
		}
		if _, _, err := httpGet(base + "/healthz"); err == nil {
			t.Fatal("the server still answers after shutting down")
		}
	})
}
