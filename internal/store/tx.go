package store

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/intake/intake/ent"
)

// InTx runs fn in a transaction on the store's pool, with an ent client
// bound to the same transaction, and commits when fn returns nil. The
// *sql.Tx is what the job queue inserts into (River's InsertTx), so rows
// and the jobs that work on them commit together or not at all.
//
// A transaction PostgreSQL aborts for a deadlock or a serialization
// conflict runs again from the start (Retry): fn may run more than once,
// and must set, not accumulate, what it hands out of the closure.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx, c *ent.Client) error) error {
	return InTx(ctx, s.DB, s.Dialect, fn)
}

// InTx is Store.InTx on any pool of the dialect.
func InTx(ctx context.Context, db *sql.DB, dia string, fn func(tx *sql.Tx, c *ent.Client) error) error {
	return Retry(ctx, func() error { return inTx(ctx, db, dia, fn) })
}

func inTx(ctx context.Context, db *sql.DB, dia string, fn func(tx *sql.Tx, c *ent.Client) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	c := ent.NewClient(ent.Driver(txDriver{entsql.NewDriver(dia, entsql.Conn{ExecQuerier: tx})}))
	if err := fn(tx, c); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// txDriver runs ent on a transaction the caller owns: ent's own
// transactions become no-ops inside it.
type txDriver struct{ *entsql.Driver }

func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

func (d txDriver) BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error) {
	return dialect.NopTx(d.Driver), nil
}
