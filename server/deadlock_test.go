package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/dbtest"
)

// TestDeleteCampaignOutlivesDeadlock: deleteCampaign meets a sync worker
// ending a run. The worker locks the run, then its trigger (the last
// checkpoint, then last_sync_at); the delete cascades from the campaign
// to the trigger, then to the trigger's runs. Each waits for the other
// and PostgreSQL aborts one: here the delete, since the worker's side
// waits a minute before it looks for deadlocks and the app's a second.
// The user still gets the campaign deleted, because Intake runs the
// delete again once the worker has committed. PostgreSQL only: SQLite has
// one writer at a time and no deadlocks.
func TestDeleteCampaignOutlivesDeadlock(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	e := subSetup(t, db)
	run := e.newRun(t, syncrun.StatusRUNNING)
	retries := func() float64 { return scrape(t, e.app.URL)["intake_db_retries_total"] }
	before := retries()

	worker, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	ctx := context.Background()
	tx, err := worker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL deadlock_timeout = '60s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE sync_runs SET fetched = fetched + 1 WHERE id = $1`, run.ID); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		ID     string
		Errors string
	}
	deleted := make(chan answer, 1)
	go func() {
		r, err := e.app.Client(e.adminKey).DoTolerant(ctx, `mutation($id: ID!) { deleteCampaign(id: $id) }`, map[string]any{"id": e.campaign})
		if err != nil {
			deleted <- answer{Errors: err.Error()}
			return
		}
		var got struct{ DeleteCampaign string }
		if len(r.Errors) > 0 {
			deleted <- answer{Errors: fmt.Sprintf("%+v", r.Errors)}
			return
		}
		if err := json.Unmarshal(r.Data, &got); err != nil {
			deleted <- answer{Errors: err.Error()}
			return
		}
		deleted <- answer{ID: got.DeleteCampaign}
	}()
	if err := dbtest.WaitForLockWait(ctx, worker, `DELETE FROM "campaigns"%`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE triggers SET last_sync_at = now() WHERE id = $1`, e.trigger); err != nil {
		t.Fatalf("the worker's update of the trigger: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	got := <-deleted
	if got.Errors != "" || got.ID != string(e.campaign) {
		t.Fatalf("deleteCampaign answered %q with errors %s, want %q", got.ID, got.Errors, e.campaign)
	}
	var n int
	if err := db.Store.DB.QueryRow(`SELECT (SELECT count(*) FROM campaigns WHERE id = $1) + (SELECT count(*) FROM sync_runs WHERE id = $2)`,
		e.campaign, run.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d of the campaign and its run are left", n)
	}
	if after := retries(); after <= before {
		t.Errorf("intake_db_retries_total %v, then %v: the delete was not run again", before, after)
	}
}
