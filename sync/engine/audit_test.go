package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
)

// The leader prunes audit events older than the retention on its own.
func TestAuditPruneJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := viewer.SystemContext(context.Background())
		c := db.Store.Client
		org := c.Organization.Create().SetName("acme").SaveX(ctx)
		now := time.Now().UTC()
		event := func(op string, age time.Duration) {
			c.AuditEvent.Create().SetOrganizationID(org.ID).SetActorKind(schematype.ActorSystem).
				SetOperation(op).SetOutcome("ok").SetCreatedAt(now.Add(-age)).ExecX(ctx)
		}
		event("old", 31*24*time.Hour)
		event("recent", 29*24*time.Hour)

		queueDB, err := db.Store.QueueDB()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{
			PollInterval: 20 * time.Millisecond, AuditRetention: 30 * 24 * time.Hour, AuditPruneEvery: 50 * time.Millisecond,
		}, engine.Deps{Ent: c, DB: db.Store.DB, QueueDB: queueDB, Dialect: db.Dialect, Broker: progress.NewLocal()})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer eng.Stop(context.Background())

		deadline := time.Now().Add(20 * time.Second)
		for {
			left := c.AuditEvent.Query().Select(auditevent.FieldOperation).StringsX(ctx)
			if len(left) == 1 && left[0] == "recent" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("events left %v, want only the recent one", left)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
