package server_test

import (
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

	worker := dbtest.CrossLocks(t, db.URL,
		dbtest.Stmt{SQL: `UPDATE sync_runs SET fetched = fetched + 1 WHERE id = $1`, Args: []any{run.ID}},
		`DELETE FROM "campaigns"%`,
		dbtest.Stmt{SQL: `UPDATE triggers SET last_sync_at = now() WHERE id = $1`, Args: []any{e.trigger}})
	r := e.app.Client(e.adminKey).Do(t, `mutation($id: ID!) { deleteCampaign(id: $id) }`, map[string]any{"id": e.campaign})
	if err := <-worker; err != nil {
		t.Fatalf("the worker: %v", err)
	}
	var got struct{ DeleteCampaign string }
	if len(r.Errors) > 0 {
		t.Fatalf("deleteCampaign: %+v", r.Errors)
	}
	r.Decode(t, &got)
	if got.DeleteCampaign != string(e.campaign) {
		t.Fatalf("deleteCampaign answered %q, want %q", got.DeleteCampaign, e.campaign)
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
