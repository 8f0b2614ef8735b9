package engine

import (
	"context"
	"testing"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// Old events of every organization go, in small batches and at most a
// pass's limit at a time; recent ones stay.
func TestPruneAuditBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		c := db.Store.Client
		now := time.Now().UTC()
		for _, name := range []string{"a", "b"} {
			org := c.Organization.Create().SetName(name).SaveX(sys)
			for i := range 5 {
				c.AuditEvent.Create().SetOrganizationID(org.ID).SetActorKind(schematype.ActorSystem).
					SetOperation("old").SetOutcome("ok").SetCreatedAt(now.Add(-time.Duration(100+i) * 24 * time.Hour)).ExecX(sys)
			}
			c.AuditEvent.Create().SetOrganizationID(org.ID).SetActorKind(schematype.ActorSystem).
				SetOperation("recent").SetOutcome("ok").ExecX(sys)
		}
		cutoff := now.Add(-90 * 24 * time.Hour)
		n, err := pruneAudit(ctx, c, cutoff, 2, 7)
		if err != nil || n != 7 {
			t.Fatalf("first pass pruned %d (%v), want its limit of 7", n, err)
		}
		if n, err = pruneAudit(ctx, c, cutoff, 2, 7); err != nil || n != 3 {
			t.Fatalf("second pass pruned %d (%v), want the other 3", n, err)
		}
		left := c.AuditEvent.Query().Order(ent.Asc(auditevent.FieldOperation)).Select(auditevent.FieldOperation).StringsX(sys)
		if len(left) != 2 || left[0] != "recent" || left[1] != "recent" {
			t.Fatalf("left %v, want the 2 recent events", left)
		}
	})
}
