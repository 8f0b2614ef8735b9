package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
)

// eachEmpty runs fn as a parallel subtest per dialect with a fresh,
// unmigrated database.
func eachEmpty(t *testing.T, fn func(t *testing.T, db *dbtest.DB)) {
	t.Helper()
	for _, d := range dbtest.Dialects {
		name := "sqlite"
		if d == dialect.Postgres {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, dbtest.Empty(t, d))
		})
	}
}

// open opens db with store.Open and closes it when the test ends.
func open(t *testing.T, db *dbtest.DB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db.URL, "")
	if err != nil {
		t.Fatalf("store.Open(%s): %v", db.URL, err)
	}
	t.Cleanup(func() { st.Close() })
	if st.Dialect != db.Dialect {
		t.Fatalf("store.Open(%s) chose dialect %q, want %q", db.URL, st.Dialect, db.Dialect)
	}
	return st
}

// versions lists the migrations of a dialect.
func versions(t *testing.T, dia string) []string {
	t.Helper()
	migs, err := store.Migrations(dia)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatalf("no migrations for %s", dia)
	}
	var out []string
	for _, m := range migs {
		out = append(out, m.Version)
	}
	return out
}

// appliedRows returns the versions recorded in intake_schema_migrations,
// sorted, duplicates included.
func appliedRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM intake_schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// seed writes an organization and an integration through the ent client.
func seed(t *testing.T, c *ent.Client, name string) (*ent.Organization, *ent.Integration) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	org, err := c.Organization.Create().SetName(name).Save(ctx)
	if err != nil {
		t.Fatalf("creating organization: %v", err)
	}
	in, err := c.Integration.Create().
		SetOrganizationID(org.ID).
		SetProvider(integration.ProviderTALENTION).
		SetName(name + " talention").
		SetCredentials([]byte("sealed-bytes")).
		Save(ctx)
	if err != nil {
		t.Fatalf("creating integration: %v", err)
	}
	return org, in
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	eachEmpty(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		want := versions(t, db.Dialect)

		st := open(t, db)
		if p, err := st.Pending(ctx); err != nil || !slices.Equal(p, want) {
			t.Fatalf("Pending on an empty database = %v, %v; want %v", p, err, want)
		}
		applied, err := st.Migrate(ctx)
		if err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		if !slices.Equal(applied, want) {
			t.Fatalf("first Migrate applied %v, want every migration %v", applied, want)
		}
		if got := appliedRows(t, st.DB); !slices.Equal(got, want) {
			t.Fatalf("intake_schema_migrations = %v, want %v", got, want)
		}
		if p, err := st.Pending(ctx); err != nil || len(p) != 0 {
			t.Fatalf("Pending after Migrate = %v, %v; want none", p, err)
		}

		t.Run("a second Migrate applies nothing", func(t *testing.T) {
			applied, err := st.Migrate(ctx)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
			}
			if got := appliedRows(t, st.DB); !slices.Equal(got, want) {
				t.Fatalf("intake_schema_migrations = %v, want %v", got, want)
			}
		})

		t.Run("a restart migrates nothing and keeps the data", func(t *testing.T) {
			org, in := seed(t, st.Client, "restart-org")
			st.Close()

			st2 := open(t, db)
			applied, err := st2.Migrate(ctx)
			if err != nil || len(applied) != 0 {
				t.Fatalf("Migrate after restart = %v, %v; want nothing applied", applied, err)
			}
			if got := appliedRows(t, st2.DB); !slices.Equal(got, want) {
				t.Fatalf("intake_schema_migrations = %v, want %v", got, want)
			}
			sys := viewer.SystemContext(ctx)
			gotOrg, err := st2.Client.Organization.Get(sys, org.ID)
			if err != nil || gotOrg.Name != org.Name {
				t.Fatalf("organization after restart = %+v, %v; want %q", gotOrg, err, org.Name)
			}
			gotIn, err := st2.Client.Integration.Get(sys, in.ID)
			if err != nil {
				t.Fatalf("integration after restart: %v", err)
			}
			if gotIn.Name != in.Name || gotIn.OrganizationID != org.ID || string(gotIn.Credentials) != "sealed-bytes" {
				t.Fatalf("integration after restart = %+v", gotIn)
			}
			if n := st2.Client.Integration.Query().CountX(sys); n != 1 {
				t.Fatalf("%d integrations after restart, want 1", n)
			}
		})
	})
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	eachEmpty(t, func(t *testing.T, db *dbtest.DB) {
		const n = 4
		want := versions(t, db.Dialect)
		stores := make([]*store.Store, n)
		for i := range stores {
			stores[i] = open(t, db) // each its own *sql.DB, as replicas have
		}
		var (
			wg      sync.WaitGroup
			applied = make([][]string, n)
			errs    = make([]error, n)
			start   = make(chan struct{})
		)
		for i, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				applied[i], errs[i] = st.Migrate(context.Background())
			}()
		}
		close(start)
		wg.Wait()

		var all []string
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Migrate %d: %v", i, errs[i])
			}
			all = append(all, applied[i]...)
		}
		sort.Strings(all)
		if !slices.Equal(all, want) {
			t.Errorf("together the migrators applied %v, want each of %v exactly once", all, want)
		}
		if got := appliedRows(t, stores[0].DB); !slices.Equal(got, want) {
			t.Errorf("intake_schema_migrations = %v, want %v", got, want)
		}
		for i, st := range stores {
			if again, err := st.Migrate(context.Background()); err != nil || len(again) != 0 {
				t.Errorf("Migrate %d afterwards = %v, %v; want nothing", i, again, err)
			}
		}
	})
}

// errPlanned stops ent's auto-migration before it applies anything.
var errPlanned = errors.New("planned, not applied")

// TestMigrationsMatchEntSchema fails when schema/ changed without a new
// migration (go run ./internal/store/migrategen -name NAME): migrating the
// ent schema onto a database that ran every migration must change nothing.
func TestMigrationsMatchEntSchema(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		var planned []string
		err := db.Store.Client.Schema.Create(context.Background(),
			schema.WithDropColumn(true),
			schema.WithDropIndex(true),
			schema.WithApplyHook(func(schema.Applier) schema.Applier {
				return schema.ApplyFunc(func(_ context.Context, _ dialect.ExecQuerier, plan *atlas.Plan) error {
					for _, c := range plan.Changes {
						planned = append(planned, c.Cmd)
					}
					return errPlanned
				})
			}),
		)
		if err != nil && !errors.Is(err, errPlanned) {
			t.Fatalf("planning the ent schema: %v", err)
		}
		if len(planned) > 0 {
			t.Fatalf("the migrations of %s differ from the ent schema; generate a migration with "+
				"`go run ./internal/store/migrategen -name NAME`. Changes needed:\n%s",
				db.Dialect, strings.Join(planned, ";\n"))
		}
	})

	t.Run("the check sees a difference", func(t *testing.T) {
		t.Parallel()
		// Positive control: a database missing one index must plan changes.
		db := dbtest.Open(t, dialect.SQLite)
		if _, err := db.Store.DB.Exec("DROP INDEX `contact_campaign_id_phone_e164`"); err != nil {
			t.Fatal(err)
		}
		var planned []string
		err := db.Store.Client.Schema.Create(context.Background(),
			schema.WithApplyHook(func(schema.Applier) schema.Applier {
				return schema.ApplyFunc(func(_ context.Context, _ dialect.ExecQuerier, plan *atlas.Plan) error {
					for _, c := range plan.Changes {
						planned = append(planned, c.Cmd)
					}
					return errPlanned
				})
			}),
		)
		if !errors.Is(err, errPlanned) || len(planned) == 0 || !strings.Contains(strings.Join(planned, "\n"), "contact_campaign_id_phone_e164") {
			t.Fatalf("dropped index not detected: err %v, planned %q", err, planned)
		}
	})
}

func TestMigrationDirectoriesAreValid(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		dir := "migrations/sqlite"
		if d == dialect.Postgres {
			dir = "migrations/postgres"
		}
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			ld, err := atlas.NewLocalDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := atlas.Validate(ld); err != nil {
				t.Fatalf("atlas.sum does not match the files of %s (regenerate with migrategen, never edit a migration): %v", dir, err)
			}
			files, err := ld.Files()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range files {
				names = append(names, strings.TrimSuffix(f.Name(), ".sql"))
			}
			if want := versions(t, d); !slices.Equal(names, want) {
				t.Fatalf("atlas sees %v, store embeds %v", names, want)
			}
		})
	}

	t.Run("an edited migration fails validation", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		src := "migrations/sqlite"
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(e.Name(), ".sql") {
				b = append(b, "\n-- edited\n"...)
			}
			if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ld, err := atlas.NewLocalDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if err := atlas.Validate(ld); !errors.Is(err, atlas.ErrChecksumMismatch) {
			t.Fatalf("Validate of an edited migration = %v, want checksum mismatch", err)
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	t.Parallel()

	t.Run("every connection uses WAL, foreign keys and a busy timeout", func(t *testing.T) {
		t.Parallel()
		db := dbtest.Open(t, dialect.SQLite)
		ctx := context.Background()
		// Hold several connections at once so the pool opens new ones.
		var conns []*sql.Conn
		for range 3 {
			c, err := db.Store.DB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			var mode string
			var fk, busy int
			if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" || fk != 1 || busy <= 0 {
				t.Errorf("connection %d: journal_mode=%s foreign_keys=%d busy_timeout=%d; want wal, 1, > 0", i, mode, fk, busy)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	})

	t.Run("foreign keys are enforced", func(t *testing.T) {
		t.Parallel()
		db := dbtest.Open(t, dialect.SQLite)
		_, err := db.Store.DB.Exec("INSERT INTO `import_issues` (`id`, `organization_id`, `created_at`, `external_id`, `code`, `message`, `run_id`) " +
			"VALUES ('iss_1', 'org_1', CURRENT_TIMESTAMP, 'x', 'DUPLICATE', 'm', 'run_does_not_exist')")
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
			t.Fatalf("insert referencing a missing sync run: err = %v, want a foreign key error", err)
		}
		var n int
		if err := db.Store.DB.QueryRow("SELECT count(*) FROM `import_issues`").Scan(&n); err != nil || n != 0 {
			t.Fatalf("import_issues rows = %d, %v; want 0", n, err)
		}
	})

	t.Run("two pools on one file write concurrently", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ctx := context.Background()
		var stores []*store.Store
		for range 2 {
			st, err := store.Open(ctx, "", dir) // the embedded default: dir/intake.db
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores = append(stores, st)
		}
		if _, err := stores[0].Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errc := make(chan error, writers*each)
		for w := range writers {
			st := stores[w%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				sys := viewer.SystemContext(ctx)
				for i := range each {
					// Read, then write, in one transaction: the pattern that
					// fails with "database is locked" under deferred locking.
					tx, err := st.Client.Tx(sys)
					if err != nil {
						errc <- fmt.Errorf("writer %d: begin: %w", w, err)
						return
					}
					if _, err := tx.Organization.Query().Count(sys); err != nil {
						tx.Rollback()
						errc <- fmt.Errorf("writer %d: read: %w", w, err)
						return
					}
					if _, err := tx.Organization.Create().SetName(fmt.Sprintf("org-%d-%d", w, i)).Save(sys); err != nil {
						tx.Rollback()
						errc <- fmt.Errorf("writer %d: write: %w", w, err)
						return
					}
					if err := tx.Commit(); err != nil {
						errc <- fmt.Errorf("writer %d: commit: %w", w, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		for i, st := range stores {
			n, err := st.Client.Organization.Query().Count(viewer.SystemContext(ctx))
			if err != nil || n != writers*each {
				t.Errorf("pool %d sees %d organizations (%v), want %d", i, n, err, writers*each)
			}
		}
	})
}
