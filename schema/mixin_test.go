package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/campaign"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema"
	"github.com/intake/intake/schema/schematype"
)

// The tenant scoping of the schema, on the ent client as the process gets it
// from internal/store: without it nothing else about isolation holds.
func TestTenantScoping(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		c := db.Store.Client
		bg := context.Background()
		sys := viewer.SystemContext(bg)
		orgA := c.Organization.Create().SetName("a").SaveX(sys)
		orgB := c.Organization.Create().SetName("b").SaveX(sys)
		as := func(org pulid.ID, role schematype.Role) context.Context {
			return viewer.NewContext(bg, &viewer.Viewer{OrgID: org, Role: role})
		}
		a, b, readA := as(orgA.ID, schematype.RoleAdmin), as(orgB.ID, schematype.RoleAdmin), as(orgA.ID, schematype.RoleViewer)

		// Creates are stamped with the viewer's organization.
		campA := c.Campaign.Create().SetName("a1").SaveX(a)
		c.Campaign.Create().SetName("a2").SaveX(a)
		campB := c.Campaign.Create().SetName("b1").SaveX(b)
		if campA.OrganizationID != orgA.ID || campB.OrganizationID != orgB.ID {
			t.Fatalf("created in %s and %s, want %s and %s", campA.OrganizationID, campB.OrganizationID, orgA.ID, orgB.ID)
		}
		if _, err := c.Campaign.Create().SetName("x").SetOrganizationID(orgB.ID).Save(a); err == nil {
			t.Fatal("A created a campaign in B's organization")
		}

		names := func(ctx context.Context) []string {
			t.Helper()
			return c.Campaign.Query().Order(campaign.ByName()).Select(campaign.FieldName).StringsX(ctx)
		}
		same := func(got []string, want ...string) bool {
			if len(got) != len(want) {
				return false
			}
			for i := range got {
				if got[i] != want[i] {
					return false
				}
			}
			return true
		}

		t.Run("without a viewer nothing is read or written", func(t *testing.T) {
			if _, err := c.Campaign.Query().All(bg); !errors.Is(err, schema.ErrNoViewer) {
				t.Errorf("query: %v, want ErrNoViewer", err)
			}
			if _, err := c.Organization.Query().All(bg); !errors.Is(err, schema.ErrNoViewer) {
				t.Errorf("organizations: %v, want ErrNoViewer", err)
			}
			if _, err := c.Campaign.Create().SetName("x").SetOrganizationID(orgA.ID).Save(bg); !errors.Is(err, schema.ErrNoViewer) {
				t.Errorf("create: %v, want ErrNoViewer", err)
			}
			if _, err := c.Campaign.Update().SetName("x").Save(bg); !errors.Is(err, schema.ErrNoViewer) {
				t.Errorf("update: %v, want ErrNoViewer", err)
			}
			if _, err := c.Campaign.Delete().Exec(bg); !errors.Is(err, schema.ErrNoViewer) {
				t.Errorf("delete: %v, want ErrNoViewer", err)
			}
		})

		t.Run("a viewer reads only its organization", func(t *testing.T) {
			if got := names(a); !same(got, "a1", "a2") {
				t.Errorf("A reads %v", got)
			}
			if got := names(readA); !same(got, "a1", "a2") {
				t.Errorf("A's read-only key reads %v", got)
			}
			if _, err := c.Campaign.Get(a, campB.ID); !ent.IsNotFound(err) {
				t.Errorf("A getting B's campaign: %v, want not found", err)
			}
			if ids := c.Organization.Query().IDsX(a); len(ids) != 1 || ids[0] != orgA.ID {
				t.Errorf("A sees organizations %v", ids)
			}
			// A graph traversal is scoped at every step, not only the last:
			// a contact of A's filed under B's campaign is not reached through
			// that campaign.
			c.Contact.Create().SetOrganizationID(orgA.ID).SetCampaignID(campB.ID).
				SetPhoneE164("+4915112345678").SetPhoneRaw("0151 12345678").SetExternalID("x").SaveX(sys)
			if n := c.Campaign.Query().Where(campaign.ID(campB.ID)).QueryContacts().CountX(a); n != 0 {
				t.Errorf("A reaches %d contacts through B's campaign", n)
			}
			if got := names(viewer.ForOrg(sys, orgB.ID)); !same(got, "b1") {
				t.Errorf("the system acting for B reads %v", got)
			}
		})

		t.Run("a read-only key changes nothing", func(t *testing.T) {
			if _, err := c.Campaign.Create().SetName("x").Save(readA); !errors.Is(err, schema.ErrReadOnly) {
				t.Errorf("create: %v, want ErrReadOnly", err)
			}
			if _, err := c.Campaign.UpdateOneID(campA.ID).SetName("x").Save(readA); !errors.Is(err, schema.ErrReadOnly) {
				t.Errorf("update: %v, want ErrReadOnly", err)
			}
			if err := c.Campaign.DeleteOneID(campA.ID).Exec(readA); !errors.Is(err, schema.ErrReadOnly) {
				t.Errorf("delete: %v, want ErrReadOnly", err)
			}
		})

		t.Run("updates and deletes reach only the viewer's organization", func(t *testing.T) {
			if n := c.Campaign.Update().SetPhoneRegion("AT").SaveX(a); n != 2 {
				t.Errorf("A's update of all campaigns changed %d, want its 2", n)
			}
			if _, err := c.Campaign.UpdateOneID(campB.ID).SetName("x").Save(a); !ent.IsNotFound(err) {
				t.Errorf("A updating B's campaign: %v, want not found", err)
			}
			if err := c.Campaign.DeleteOneID(campB.ID).Exec(a); !ent.IsNotFound(err) {
				t.Errorf("A deleting B's campaign: %v, want not found", err)
			}
			if n := c.Campaign.Delete().ExecX(a); n != 2 {
				t.Errorf("A's delete of all campaigns removed %d, want its 2", n)
			}
			got := c.Campaign.Query().AllX(sys)
			if len(got) != 1 || got[0].ID != campB.ID || got[0].Name != "b1" || got[0].PhoneRegion != "DE" {
				t.Errorf("left after A's update and delete: %v, want B's campaign unchanged", got)
			}
		})

		t.Run("the system context reads and writes every organization", func(t *testing.T) {
			c.Campaign.Create().SetName("s").SetOrganizationID(orgA.ID).SaveX(sys)
			if got := names(sys); !same(got, "b1", "s") {
				t.Errorf("the system reads %v", got)
			}
			if n := c.Campaign.Update().SetPhoneRegion("CH").SaveX(sys); n != 2 {
				t.Errorf("the system's update changed %d, want 2", n)
			}
			if n := c.Organization.Query().CountX(sys); n != 2 {
				t.Errorf("the system counts %d organizations, want 2", n)
			}
		})
	})
}
