package server_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
)

// TestAdmitServes: the whole server with one request at a time answers
// every one of many concurrent queries; on PostgreSQL, a query held by a
// lock keeps the next one waiting for its turn until the lock goes.
func TestAdmitServes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db, func(c *server.Config) { c.Limits.Concurrent = 1 })
		key := app.Key(t, "org-admit", schematype.RoleAdmin)
		c := app.Client(key)
		const query = `query Admitted { campaigns(first: 5) { totalCount } }`

		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- answered(c.DoTolerant(t.Context(), query, nil)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a query of 16 at once: %v", err)
			}
		}
		metricEventually(t, app.URL, "intake_http_requests_waiting", 0)

		if db.Dialect != "postgres" {
			return
		}
		lockDB, err := sql.Open("postgres", db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer lockDB.Close()
		tx, err := lockDB.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		for range 2 {
			go func() { done <- answered(c.DoTolerant(t.Context(), query, nil)) }()
		}
		metricEventually(t, app.URL, "intake_http_requests_waiting", 1) // one runs (and waits on the lock), one waits its turn
		select {
		case err := <-done:
			t.Fatalf("a query answered while the table was locked: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		metricEventually(t, app.URL, "intake_http_requests_waiting", 0)
	})
}

// answered is the error of a query that was not answered with data.
func answered(r apptest.Response, err error) error {
	switch {
	case err != nil:
		return err
	case r.Status != http.StatusOK || len(r.Errors) > 0 || len(r.Data) == 0:
		return fmt.Errorf("HTTP %d, errors %+v", r.Status, r.Errors)
	}
	return nil
}
