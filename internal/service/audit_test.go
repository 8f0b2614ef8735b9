package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

func TestAuditWriteReadPrune(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		c := db.Store.Client
		svc := service.New(service.Deps{DB: c})
		sys := viewer.SystemContext(ctx)
		orgA := c.Organization.Create().SetName("a").SaveX(sys)
		orgB := c.Organization.Create().SetName("b").SaveX(sys)
		keyA := c.APIKey.Create().SetOrganizationID(orgA.ID).SetName("dialer").SetHash("h-a").SetRole("VIEWER").SaveX(sys)
		admin := viewer.NewContext(ctx, &viewer.Viewer{OrgID: orgA.ID, Role: viewer.Admin, KeyID: keyA.ID})
		reader := viewer.NewContext(ctx, &viewer.Viewer{OrgID: orgA.ID, Role: viewer.ReadOnly, KeyID: keyA.ID})

		// A read-only caller's record is written: the write acts for the
		// system, not through the caller's context.
		trg := pulid.New("trg")
		err := svc.RecordAudit(reader, service.AuditRecord{
			OrgID: orgA.ID, Actor: auditevent.ActorKindAPI_KEY, KeyID: keyA.ID, ActorName: keyA.Name, Operation: "configureTrigger",
			TargetID: trg, Related: []pulid.ID{trg, "cmp_x", "cmp_x"}, Fields: []string{"enabled"}, Outcome: "FORBIDDEN",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.RecordAudit(ctx, service.AuditRecord{OrgID: orgB.ID, Actor: auditevent.ActorKindWEBHOOK,
			ActorName: "HUBSPOT", Operation: "webhookSync", Outcome: service.AuditOK}); err != nil {
			t.Fatal(err)
		}

		page, err := svc.AuditEvents(admin, service.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 {
			t.Fatalf("organization A sees %d events, want its 1", len(page.Events))
		}
		e := page.Events[0]
		if e.ActorName != "dialer" || e.ActorKeyID == nil || *e.ActorKeyID != string(keyA.ID) || e.TargetID != string(trg) ||
			len(e.RelatedIds) != 1 || e.RelatedIds[0] != "cmp_x" || e.Outcome != "FORBIDDEN" {
			t.Fatalf("event %+v", e)
		}
		if _, err := svc.AuditEvents(reader, service.AuditFilter{}); service.Classify(err).Code != service.CodeForbidden {
			t.Fatalf("a read-only key reading the trail: %v, want FORBIDDEN", err)
		}

		// Pruning: old events of both organizations go, in small batches;
		// recent ones stay.
		now := time.Now().UTC()
		for _, org := range []*ent.Organization{orgA, orgB} {
			for i := range 5 {
				c.AuditEvent.Create().SetOrganizationID(org.ID).SetActorKind(auditevent.ActorKindSYSTEM).
					SetOperation("old").SetOutcome("ok").SetCreatedAt(now.Add(-time.Duration(100+i) * 24 * time.Hour)).ExecX(sys)
			}
		}
		cutoff := now.Add(-90 * 24 * time.Hour)
		n, err := service.PruneAudit(ctx, c, cutoff, 2, 7)
		if err != nil || n != 7 {
			t.Fatalf("first pass pruned %d (%v), want its limit of 7", n, err)
		}
		if n, err = service.PruneAudit(ctx, c, cutoff, 2, 7); err != nil || n != 3 {
			t.Fatalf("second pass pruned %d (%v), want the other 3", n, err)
		}
		left := c.AuditEvent.Query().Select(auditevent.FieldOperation).StringsX(sys)
		if len(left) != 2 || left[0] == "old" || left[1] == "old" {
			t.Fatalf("left %v, want the 2 recent events", left)
		}
	})
}
