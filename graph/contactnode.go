package graph

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/campaign"
	"github.com/intake/intake/ent/contact"
	"github.com/intake/intake/internal/pulid"
)

// contactNode answers node(id) for a contact whose selection asks only
// for the contact's columns and its campaign's plain columns, as a
// contact's page in the console does: in one statement, the contact
// joined with its campaign. ent's eager loading reads the campaign in a
// second statement, and a node lookup spent about a fifth of its CPU in
// the system calls of its two round trips. ok is false for any other
// selection and for a contact not found: ent's Noder answers those, as
// before.
func (r *queryResolver) contactNode(ctx context.Context, id pulid.ID) (_ *ent.Contact, ok bool, _ error) {
	if table, err := ent.NodeType(ctx, id); err != nil || table != contact.Table {
		return nil, false, nil
	}
	fc, oc := graphql.GetFieldContext(ctx), graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return nil, false, nil
	}
	needs := contactNodeBase
	var campaignFields []string
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, contactImplementors) {
		switch f.Name {
		case "__typename":
		case "campaign":
			for _, cf := range graphql.CollectFields(oc, f.Selections, campaignImplementors) {
				if cf.Name == "__typename" {
					continue
				}
				if _, plain := campaignNodeColumns[cf.Name]; !plain {
					return nil, false, nil
				}
				if !slices.Contains(campaignFields, cf.Name) {
					campaignFields = append(campaignFields, cf.Name)
				}
			}
			if campaignFields == nil {
				campaignFields = []string{} // the campaign with its ID alone
			}
		default:
			bit, plain := contactCols.byField[f.Name]
			if !plain || slices.Contains(listObjects["Contact"].concurrent, f.Name) {
				return nil, false, nil
			}
			needs |= bit
		}
	}
	if campaignFields == nil {
		return nil, false, nil // no campaign: ent's one statement
	}
	q := r.db.Contact.Query().Where(contact.ID(id))
	q.Select(contactCols.names(needs)...)
	q.Modify(func(s *sql.Selector) {
		t := sql.Table(campaign.Table)
		s.Join(t).OnP(sql.And(
			sql.ColumnsEQ(s.C(contact.FieldCampaignID), t.C(campaign.FieldID)),
			// The campaign of the contact's organization only, as the
			// campaign's own query would be scoped.
			sql.ColumnsEQ(s.C(contact.FieldOrganizationID), t.C(campaign.FieldOrganizationID)),
		))
		for _, f := range campaignFields {
			s.AppendSelectAs(t.C(campaignNodeColumns[f]), campaignAlias(f))
		}
	})
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	camp := &ent.Campaign{ID: c.CampaignID, OrganizationID: c.OrganizationID}
	for _, f := range campaignFields {
		v, err := c.Value(campaignAlias(f))
		if err != nil {
			return nil, true, err
		}
		if err := setCampaignField(camp, f, v); err != nil {
			return nil, true, err
		}
	}
	c.Edges.Campaign = camp
	return c, true, nil
}

// contactNodeBase: a contact is read with its ID, its organization's and
// its campaign's, which the join needs.
var (
	contactCols     = newColumnSet(contact.Columns, 0)
	contactNodeBase = contactCols.of("id", "organizationID", "campaignID")
)

// campaignNodeColumns are the campaign's fields contactNode reads in its
// join: those answered from a text column of the same name. Its times
// are not among them: the join's extra columns come back as the driver
// returns them, and SQLite's driver returns a time it cannot tell is one
// as the text stored.
var campaignNodeColumns = map[string]string{
	"id":          campaign.FieldID,
	"name":        campaign.FieldName,
	"phoneRegion": campaign.FieldPhoneRegion,
}

func campaignAlias(field string) string { return "campaign__" + campaignNodeColumns[field] }

// setCampaignField sets a field of c from the text the driver returned
// for its column.
func setCampaignField(c *ent.Campaign, field string, v any) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("campaign.%s: unexpected %T from the database", field, v)
	}
	switch field {
	case "name":
		c.Name = s
	case "phoneRegion":
		c.PhoneRegion = s
	}
	return nil // id: the contact's campaign_id
}
