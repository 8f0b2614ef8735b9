//go:build unix

package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/lib/pq"
)

// openTimed opens a pool of one connection on dbURL, named app in
// pg_stat_activity, whose driver times every statement it executes: the
// time from sending a statement to its result, which in autocommit bounds
// how long the statement's transaction holds its locks.
func openTimed(dbURL, app string, t *stmtTimer) (*sql.DB, error) {
	u, err := withApp(dbURL, app)
	if err != nil {
		return nil, err
	}
	c, err := pq.NewConnector(u)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(timedConnector{next: c, t: t})
	// The purge is one statement after the other, as on the leader.
	db.SetMaxOpenConns(1)
	return db, nil
}

type timedConnector struct {
	next driver.Connector
	t    *stmtTimer
}

func (c timedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.next.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: conn, t: c.t}, nil
}

func (c timedConnector) Driver() driver.Driver { return c.next.Driver() }

// timedConn is pq's connection with ExecContext and QueryContext timed; the interfaces
// database/sql looks for are handed on.
type timedConn struct {
	driver.Conn
	t *stmtTimer
}

func (c *timedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	began := time.Now()
	r, err := ex.ExecContext(ctx, query, args)
	c.t.record(query, time.Since(began))
	return r, err
}

// QueryContext times a statement that returns rows (the purge's DELETE
// ... RETURNING) until its rows are closed: the statement is done only
// when its last row is read.
func (c *timedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	began := time.Now()
	r, err := q.QueryContext(ctx, query, args)
	if err != nil {
		c.t.record(query, time.Since(began))
		return nil, err
	}
	return &timedRows{Rows: r, done: func() { c.t.record(query, time.Since(began)) }}, nil
}

// timedRows records its statement's time when closed.
type timedRows struct {
	driver.Rows
	done func()
}

func (r *timedRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return err
}

func (c *timedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *timedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *timedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}
