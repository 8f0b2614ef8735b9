package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// DefaultStatementCache is how many prepared statements each PostgreSQL
// connection keeps (INTAKE_DB_STATEMENT_CACHE).
const DefaultStatementCache = 256

// maxCachedParams: a statement with more parameters than this (a bulk
// insert of a page of rows) is not kept. Its parse is a small part of
// its work, and its plan would hold a large piece of the server's memory
// on every connection.
const maxCachedParams = 100

// OpenPostgres opens a pool on databaseURL through lib/pq. With cache > 0
// every connection prepares each statement it runs with parameters once
// and keeps up to cache of them, least recently used first out: a
// repeated query then costs one round trip (bind and execute) instead of
// two, and PostgreSQL neither parses nor analyses it again. Statements
// without parameters go through the simple protocol as before. A
// connection pooler in transaction mode cannot keep statements on a
// connection: set cache to 0 behind one. Whatever the cache, a statement
// run outside a transaction that PostgreSQL aborted to resolve a deadlock
// or a serialization conflict runs again (Retry).
func OpenPostgres(databaseURL string, cache int) (*sql.DB, error) {
	c, err := pq.NewConnector(databaseURL)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(stmtConnector{next: c, size: max(cache, 0)}), nil
}

type stmtConnector struct {
	next driver.Connector
	size int
}

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.next.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("statement cache: the driver's connection (%T) lacks an interface it needs", conn)
	}
	return &stmtConn{pqConn: pc, size: c.size, stmts: map[string]*list.Element{}}, nil
}

func (c stmtConnector) Driver() driver.Driver { return c.next.Driver() }

// pqConn is what database/sql uses of lib/pq's connection; stmtConn hands
// each on.
type pqConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// stmtConn is a connection with its prepared statements (none when size
// is 0), which runs an autocommit statement again after a transient
// conflict. database/sql uses a connection from one goroutine at a time,
// so it needs no lock.
type stmtConn struct {
	pqConn
	size  int
	stmts map[string]*list.Element // by query text; values *cachedStmt
	lru   list.List                // most recently used first
	// stale statements are closed before the connection is next taken
	// from the pool: outside any transaction, so that a statement
	// dropped in a failed transaction does not fail the close.
	stale []driver.Stmt
	inTx  bool // a transaction is open
}

type cachedStmt struct {
	query string
	st    interface {
		driver.Stmt
		driver.StmtQueryContext
		driver.StmtExecContext
	}
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return autocommit(ctx, c, func() (driver.Rows, error) {
		if !c.caches(args) {
			return c.pqConn.QueryContext(ctx, query, args)
		}
		return withStmt(ctx, c, query, func(cs *cachedStmt) (driver.Rows, error) { return cs.st.QueryContext(ctx, args) })
	})
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return autocommit(ctx, c, func() (driver.Result, error) {
		if !c.caches(args) {
			return c.pqConn.ExecContext(ctx, query, args)
		}
		return withStmt(ctx, c, query, func(cs *cachedStmt) (driver.Result, error) { return cs.st.ExecContext(ctx, args) })
	})
}

// caches reports whether a statement with args is prepared and kept.
func (c *stmtConn) caches(args []driver.NamedValue) bool {
	return c.size > 0 && len(args) > 0 && len(args) <= maxCachedParams
}

// autocommit runs a statement, and outside a transaction runs it again
// while PostgreSQL aborts it for a transient conflict (Retry). A query
// whose rows have begun to arrive is not run again: lib/pq reports an
// error met while executing it from the rows, which the caller reads.
func autocommit[T any](ctx context.Context, c *stmtConn, run func() (T, error)) (T, error) {
	if c.inTx {
		return run()
	}
	var res T
	err := Retry(ctx, func() (err error) {
		res, err = run()
		return err
	})
	return res, err
}

// withStmt runs query's statement, preparing it if needed. A statement
// that fails is dropped; one PostgreSQL no longer accepts (replan) is
// prepared and run once more.
func withStmt[T any](ctx context.Context, c *stmtConn, query string, run func(*cachedStmt) (T, error)) (T, error) {
	var zero T
	cs, err := c.prepared(ctx, query)
	if err != nil {
		return zero, err
	}
	res, err := run(cs)
	if err != nil {
		c.forget(cs)
		if c.replan(err) {
			if cs, err = c.prepared(ctx, query); err != nil {
				return zero, err
			}
			if res, err = run(cs); err != nil {
				c.forget(cs)
			}
		}
	}
	return res, err
}

// replan reports whether a statement that failed with err is to be
// prepared and run once more: PostgreSQL refused it because the
// statement no longer fits the schema (a migration another process ran
// changed the columns it returns) or no longer exists, and no
// transaction was open, so nothing else failed with it.
func (c *stmtConn) replan(err error) bool {
	var pe *pq.Error
	if c.inTx || !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "0A000": // feature_not_supported: "cached plan must not change result type"
		return strings.Contains(pe.Message, "cached plan")
	case "26000": // invalid_sql_statement_name: the statement is gone
		return true
	}
	return false
}

func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.pqConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return stmtTx{Tx: tx, c: c}, nil
}

// stmtTx notes on its connection when the transaction ends.
type stmtTx struct {
	driver.Tx
	c *stmtConn
}

func (t stmtTx) Commit() error {
	t.c.inTx = false
	return t.Tx.Commit()
}

func (t stmtTx) Rollback() error {
	t.c.inTx = false
	return t.Tx.Rollback()
}

// prepared returns query's statement, preparing it if the connection has
// none.
func (c *stmtConn) prepared(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStmt), nil
	}
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query}
	var ok bool
	if cs.st, ok = st.(interface {
		driver.Stmt
		driver.StmtQueryContext
		driver.StmtExecContext
	}); !ok {
		// A COPY statement: lib/pq's copy-in, which is not a statement
		// to keep. Nothing runs it through QueryContext or ExecContext.
		st.Close()
		return nil, fmt.Errorf("statement cache: %T cannot be executed with a context", st)
	}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.size {
		c.forget(c.lru.Back().Value.(*cachedStmt))
	}
	return cs, nil
}

// forget drops a statement from the cache: after an error (it may be the
// statement's own, such as a plan that a schema change invalidated) or to
// make room. It is closed before the connection's next use.
func (c *stmtConn) forget(cs *cachedStmt) {
	e, ok := c.stmts[cs.query]
	if !ok || e.Value.(*cachedStmt) != cs {
		return
	}
	delete(c.stmts, cs.query)
	c.lru.Remove(e)
	c.stale = append(c.stale, cs.st)
}

// ResetSession closes the statements dropped while the connection was in
// use. database/sql calls it before it hands out a connection that has
// been used, never inside a transaction.
func (c *stmtConn) ResetSession(ctx context.Context) error {
	for len(c.stale) > 0 {
		st := c.stale[len(c.stale)-1]
		c.stale = c.stale[:len(c.stale)-1]
		if err := st.Close(); err != nil {
			return driver.ErrBadConn
		}
	}
	return c.pqConn.ResetSession(ctx)
}
