package service_test

import (
	"context"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

func TestAuditWriteReadPrune(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		c := db.Store.Client
		svc := service.New(service.Deps{Store: db.Store})
		sys := viewer.SystemContext(ctx)
		orgA := c.Organization.Create().SetName("a").SaveX(sys)
		orgB := c.Organization.Create().SetName("b").SaveX(sys)
		keyA := c.APIKey.Create().SetOrganizationID(orgA.ID).SetName("dialer").SetHash("h-a").SetRole("VIEWER").SaveX(sys)
		admin := viewer.NewContext(ctx, &viewer.Viewer{OrgID: orgA.ID, Role: schematype.RoleAdmin, KeyID: keyA.ID})
		reader := viewer.NewContext(ctx, &viewer.Viewer{OrgID: orgA.ID, Role: schematype.RoleViewer, KeyID: keyA.ID})

		// A read-only caller's record is written: the write acts for the
		// system, not through the caller's context.
		trg := pulid.New("trg")
		err := svc.RecordAudit(reader, service.AuditRecord{
			OrgID: orgA.ID, Actor: schematype.ActorAPIKey, KeyID: keyA.ID, ActorName: keyA.Name, Operation: "configureTrigger",
			TargetID: trg, Related: []pulid.ID{trg, "cmp_x", "cmp_x"}, Fields: []string{"enabled"}, Outcome: "FORBIDDEN",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.RecordAudit(ctx, service.AuditRecord{OrgID: orgB.ID, Actor: schematype.ActorWebhook,
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
	})
}
