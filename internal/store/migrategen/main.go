// Command migrategen writes a new versioned migration for each dialect from
// the difference between the ent schema and the existing migrations. It
// replays the existing files on a scratch database (an in-memory SQLite; a
// temporary database on the PostgreSQL server at -postgres) and diffs.
//
//	go run ./internal/store/migrategen -name add_x -postgres postgres://127.0.0.1:5432/test?sslmode=disable
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"time"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/intake/intake/ent"
)

func main() {
	name := flag.String("name", "", "migration name (required), e.g. add_trigger_cursor")
	pg := flag.String("postgres", os.Getenv("TEST_DATABASE_URL"), "PostgreSQL server URL used for a scratch database")
	flag.Parse()
	if *name == "" || *pg == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	if err := gen(ctx, dialect.SQLite, "file:migrategen?mode=memory&cache=shared&_pragma=foreign_keys(1)", "internal/store/migrations/sqlite", *name); err != nil {
		log.Fatalf("sqlite: %v", err)
	}
	scratch, drop, err := scratchPostgres(ctx, *pg)
	if err != nil {
		log.Fatalf("postgres: %v", err)
	}
	defer drop()
	if err := gen(ctx, dialect.Postgres, scratch, "internal/store/migrations/postgres", *name); err != nil {
		log.Fatalf("postgres: %v", err)
	}
}

func gen(ctx context.Context, dia, dsn, dir, name string) error {
	driver := map[string]string{dialect.SQLite: "sqlite", dialect.Postgres: "postgres"}[dia]
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	d, err := atlas.NewLocalDir(dir)
	if err != nil {
		return err
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dia, db)))
	return client.Schema.NamedDiff(ctx, name,
		schema.WithDir(d),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dia),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithFormatter(atlas.DefaultFormatter),
	)
}

// scratchPostgres creates an empty database next to the one at serverURL.
func scratchPostgres(ctx context.Context, serverURL string) (string, func(), error) {
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", nil, err
	}
	dbname := fmt.Sprintf("intake_migrategen_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dbname); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + dbname
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+dbname+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}
