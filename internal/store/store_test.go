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
	atlaspg "ariga.io/atlas/sql/postgres"
	atlasschema "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
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

// openStore opens db with store.Open and closes it when the test ends.
func openStore(t *testing.T, db *dbtest.DB) *store.Store {
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

// intakeVersions lists Intake's own migrations of a dialect (store.Migrations).
func intakeVersions(t *testing.T, dia string) []string {
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

// reference returns, sorted, what Migrate applies to a fresh database of
// the dialect: Intake's migrations and those it migrates along (the job
// queue's).
func reference(t *testing.T, dia string) []string {
	t.Helper()
	st := openStore(t, dbtest.Empty(t, dia))
	applied, err := st.Migrate(context.Background())
	if err != nil {
		t.Fatalf("migrating a reference database: %v", err)
	}
	st.Close()
	return sorted(applied)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// duplicate returns a value s holds twice, or "".
func duplicate(s []string) string {
	seen := map[string]bool{}
	for _, v := range s {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
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

// seedRows writes an organization and an integration through the ent client.
func seedRows(t *testing.T, c *ent.Client, name string) (*ent.Organization, *ent.Integration) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	org, err := c.Organization.Create().SetName(name).Save(ctx)
	if err != nil {
		t.Fatalf("creating organization: %v", err)
	}
	in, err := c.Integration.Create().
		SetOrganizationID(org.ID).
		SetProvider(schematype.ProviderTalention).
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
		want := intakeVersions(t, db.Dialect)

		st := openStore(t, db)
		if p, err := st.Pending(ctx); err != nil || !slices.Equal(p, want) {
			t.Fatalf("Pending on an empty database = %v, %v; want %v", p, err, want)
		}
		applied, err := st.Migrate(ctx)
		if err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		// Intake's migrations come first, in order; what follows (the job
		// queue's own migrations) must not repeat any of them.
		if len(applied) < len(want) || !slices.Equal(applied[:len(want)], want) {
			t.Fatalf("first Migrate applied %v, want every migration %v first", applied, want)
		}
		if dup := duplicate(applied); dup != "" {
			t.Fatalf("first Migrate applied %q twice: %v", dup, applied)
		}
		if ref := reference(t, db.Dialect); !slices.Equal(sorted(applied), ref) {
			t.Fatalf("first Migrate applied %v, a fresh database gets %v", applied, ref)
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
			org, in := seedRows(t, st.Client, "restart-org")
			st.Close()

			st2 := openStore(t, db)
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
		want := intakeVersions(t, db.Dialect)
		stores := make([]*store.Store, n)
		for i := range stores {
			stores[i] = openStore(t, db) // each its own *sql.DB, as replicas have
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
		if ref := reference(t, db.Dialect); !slices.Equal(sorted(all), ref) {
			t.Errorf("together the migrators applied %v, want each of %v exactly once", sorted(all), ref)
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

// entSchemaMu serialises ent's schema migrations: Create and NamedDiff set
// up the package-level tables of ent/migrate, so two at once race.
var entSchemaMu sync.Mutex

// migrationDir returns the directory of a dialect's migrations.
func migrationDir(dia string) string {
	if dia == dialect.Postgres {
		return "migrations/postgres"
	}
	return "migrations/sqlite"
}

// copyDir copies the migration directory src into a new temporary
// directory, leaving out the files skip names, and rewrites atlas.sum.
func copyDir(t *testing.T, src string, skip ...string) *atlas.LocalDir {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || slices.Contains(skip, e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ld, err := atlas.NewLocalDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(skip) > 0 {
		sum, err := ld.Checksum()
		if err != nil {
			t.Fatal(err)
		}
		if err := atlas.WriteSumFile(ld, sum); err != nil {
			t.Fatal(err)
		}
	}
	return ld
}

// generate does what `go run ./internal/store/migrategen` does for one
// dialect, into dir, on the empty database db; it returns the migration
// files it wrote (none when the migrations are up to date with schema/).
func generate(t *testing.T, db *dbtest.DB, dir *atlas.LocalDir) map[string]string {
	t.Helper()
	before, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, db)
	st.DB.SetMaxOpenConns(1)
	entSchemaMu.Lock()
	defer entSchemaMu.Unlock()
	err = st.Client.Schema.NamedDiff(context.Background(), "pending",
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(db.Dialect),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithFormatter(atlas.DefaultFormatter),
		schema.WithErrNoPlan(true),
	)
	if errors.Is(err, atlas.ErrNoPlan) {
		return nil
	}
	if err != nil {
		t.Fatalf("diffing the ent schema against the migrations: %v", err)
	}
	after, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range after[len(before):] {
		out[f.Name()] = string(f.Bytes())
	}
	return out
}

// planOnto returns the statements ent's schema migration would run on the
// migrated database st. On PostgreSQL the desired schema is first put in
// PostgreSQL's normal form on the empty database scratch, as migrategen's
// replay does, so that equal definitions spelled differently (index
// predicates) do not count as changes.
func planOnto(t *testing.T, st *store.Store, scratch *sql.DB, opts ...schema.MigrateOption) []string {
	t.Helper()
	var planned []string
	opts = append(opts,
		schema.WithApplyHook(func(schema.Applier) schema.Applier {
			return schema.ApplyFunc(func(_ context.Context, _ dialect.ExecQuerier, plan *atlas.Plan) error {
				for _, c := range plan.Changes {
					planned = append(planned, c.Cmd)
				}
				return errPlanned
			})
		}))
	if scratch != nil {
		opts = append(opts, schema.WithDiffHook(func(next schema.Differ) schema.Differ {
			return schema.DiffFunc(func(current, desired *atlasschema.Schema) ([]atlasschema.Change, error) {
				drv, err := atlaspg.Open(scratch)
				if err != nil {
					return nil, err
				}
				ns, err := drv.(atlasschema.Normalizer).NormalizeSchema(context.Background(),
					atlasschema.New(current.Name).AddTables(desired.Tables...))
				if err != nil {
					return nil, fmt.Errorf("normalizing the ent schema: %w", err)
				}
				normal := &atlasschema.Schema{Name: current.Name, Attrs: current.Attrs}
				for _, dt := range desired.Tables {
					nt, ok := ns.Table(dt.Name)
					if !ok {
						return nil, fmt.Errorf("table %s lost in normalization", dt.Name)
					}
					normal.Tables = append(normal.Tables, nt)
				}
				return next.Diff(current, normal)
			})
		}))
	}
	entSchemaMu.Lock()
	err := st.Client.Schema.Create(context.Background(), opts...)
	entSchemaMu.Unlock()
	if err != nil && !errors.Is(err, errPlanned) {
		t.Fatalf("planning the ent schema: %v", err)
	}
	return planned
}

// TestMigrationsMatchEntSchema fails when schema/ changed without a new
// migration (go run ./internal/store/migrategen -name NAME).
func TestMigrationsMatchEntSchema(t *testing.T) {
	t.Parallel()

	t.Run("generating a migration now writes nothing", func(t *testing.T) {
		t.Parallel()
		eachEmpty(t, func(t *testing.T, db *dbtest.DB) {
			if files := generate(t, db, copyDir(t, migrationDir(db.Dialect))); len(files) > 0 {
				var b strings.Builder
				for name, content := range files {
					fmt.Fprintf(&b, "--- %s\n%s\n", name, content)
				}
				t.Fatalf("schema/ changed without a migration for %s; run "+
					"`go run ./internal/store/migrategen -name NAME`. It would write:\n%s", db.Dialect, b.String())
			}
		})
	})

	t.Run("the migrated database has the ent schema", func(t *testing.T) {
		t.Parallel()
		// Migrating the ent schema onto a database Migrate built changes nothing.
		dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
			var scratch *sql.DB
			if db.Dialect == dialect.Postgres {
				scratch = openStore(t, dbtest.Empty(t, dialect.Postgres)).DB
			}
			if planned := planOnto(t, db.Store, scratch,
				schema.WithDropColumn(true), schema.WithDropIndex(true)); len(planned) > 0 {
				t.Fatalf("the %s database Migrate built differs from the ent schema; generate a migration with "+
					"`go run ./internal/store/migrategen -name NAME`. Changes needed:\n%s",
					db.Dialect, strings.Join(planned, ";\n"))
			}
		})
	})

	t.Run("without its latest migration the schema differs", func(t *testing.T) {
		t.Parallel()
		// Positive control for both checks: forget the latest migration.
		eachEmpty(t, func(t *testing.T, db *dbtest.DB) {
			migs, err := store.Migrations(db.Dialect)
			if err != nil || len(migs) < 2 {
				t.Skipf("needs two migrations (have %d, %v)", len(migs), err)
			}
			latest := migs[len(migs)-1].Version + ".sql"
			files := generate(t, db, copyDir(t, migrationDir(db.Dialect), latest))
			if len(files) != 1 {
				t.Fatalf("generate without %s wrote %v, want one migration", latest, files)
			}
		})
	})

	t.Run("a missing index is seen", func(t *testing.T) {
		t.Parallel()
		dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
			if _, err := db.Store.DB.Exec(`DROP INDEX contact_campaign_id_phone_e164_live`); err != nil {
				t.Fatal(err)
			}
			var scratch *sql.DB
			if db.Dialect == dialect.Postgres {
				scratch = openStore(t, dbtest.Empty(t, dialect.Postgres)).DB
			}
			planned := planOnto(t, db.Store, scratch)
			if !strings.Contains(strings.Join(planned, "\n"), "contact_campaign_id_phone_e164_live") {
				t.Fatalf("dropped index not detected: planned %q", planned)
			}
		})
	})
}

func TestMigrationDirectoriesAreValid(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		dir := migrationDir(d)
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
			if want := intakeVersions(t, d); !slices.Equal(names, want) {
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

// Every connection the PostgreSQL pool opens may stay idle: a pool that
// keeps fewer closes connections whenever its load dips and opens them
// again a moment later.
func TestPostgresPoolKeepsItsConnections(t *testing.T) {
	t.Parallel()
	st := openStore(t, dbtest.Empty(t, dialect.Postgres))
	ctx := context.Background()
	open := st.DB.Stats().MaxOpenConnections
	var conns []*sql.Conn
	for range open {
		c, err := st.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	if s := st.DB.Stats(); s.MaxIdleClosed != 0 || s.Idle != open {
		t.Errorf("after %d connections were released: %d closed for the idle limit, %d idle; want none closed, all idle", open, s.MaxIdleClosed, s.Idle)
	}
}
