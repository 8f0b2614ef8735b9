package service

import (
	"context"
	"fmt"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/campaign"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// CreateCampaignInput is createCampaign's input.
type CreateCampaignInput struct {
	Name                string
	PhoneRegion         *string
	AcceptedNumberTypes []schematype.NumberType
	CallingHours        []schematype.CallingWindow
}

// UpdateCampaignInput is updateCampaign's input; nil fields stay as they are.
type UpdateCampaignInput struct {
	Name                *string
	PhoneRegion         *string
	AcceptedNumberTypes []schematype.NumberType
	CallingHours        []schematype.CallingWindow
}

// DefaultPhoneRegion is the region of numbers without a country code when a
// campaign names none.
const DefaultPhoneRegion = "DE"

// CreateCampaign creates a campaign in the viewer's organization.
func (s *Service) CreateCampaign(ctx context.Context, in CreateCampaignInput) (*ent.Campaign, error) {
	name, err := checkText("input.name", in.Name, true, 200)
	if err != nil {
		return nil, err
	}
	region := DefaultPhoneRegion
	if in.PhoneRegion != nil {
		if region, err = checkRegion("input.phoneRegion", *in.PhoneRegion); err != nil {
			return nil, err
		}
	}
	create := s.db.Campaign.Create().SetName(name).SetPhoneRegion(region)
	if in.AcceptedNumberTypes != nil {
		types, err := checkNumberTypes("input.acceptedNumberTypes", in.AcceptedNumberTypes)
		if err != nil {
			return nil, err
		}
		create.SetAcceptedNumberTypes(types)
	}
	if in.CallingHours != nil {
		hours, err := checkCallingHours("input.callingHours", in.CallingHours)
		if err != nil {
			return nil, err
		}
		create.SetCallingHours(hours)
	}
	return create.Save(ctx)
}

// checkNumberTypes validates a campaign's accepted number types: at least
// one, each once.
func checkNumberTypes(field string, types []schematype.NumberType) ([]schematype.NumberType, error) {
	if len(types) == 0 {
		return nil, invalid(field, "must name at least one type: a campaign that calls no number imports nothing")
	}
	seen := map[schematype.NumberType]bool{}
	for i, t := range types {
		if seen[t] {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "%s is listed twice", t)
		}
		seen[t] = true
	}
	return types, nil
}

// AcceptedNumberTypes is what a campaign calls (Campaign.acceptedNumberTypes).
func AcceptedNumberTypes(c *ent.Campaign) []schematype.NumberType {
	if c.AcceptedNumberTypes == nil {
		return schematype.DefaultAcceptedNumberTypes()
	}
	return c.AcceptedNumberTypes
}

// UpdateCampaign changes a campaign's name or phone region.
func (s *Service) UpdateCampaign(ctx context.Context, id pulid.ID, in UpdateCampaignInput) (*ent.Campaign, error) {
	if err := checkID("id", id, "cmp", "campaign"); err != nil {
		return nil, err
	}
	upd := s.db.Campaign.UpdateOneID(id)
	if in.Name != nil {
		name, err := checkText("input.name", *in.Name, true, 200)
		if err != nil {
			return nil, err
		}
		upd.SetName(name)
	}
	if in.PhoneRegion != nil {
		region, err := checkRegion("input.phoneRegion", *in.PhoneRegion)
		if err != nil {
			return nil, err
		}
		upd.SetPhoneRegion(region)
	}
	if in.AcceptedNumberTypes != nil {
		types, err := checkNumberTypes("input.acceptedNumberTypes", in.AcceptedNumberTypes)
		if err != nil {
			return nil, err
		}
		upd.SetAcceptedNumberTypes(types)
	}
	if in.CallingHours != nil {
		hours, err := checkCallingHours("input.callingHours", in.CallingHours)
		if err != nil {
			return nil, err
		}
		upd.SetCallingHours(hours)
	}
	c, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("id", "campaign")
	}
	return c, err
}

// DeleteCampaign deletes a campaign with its triggers, contacts, runs and
// call results.
func (s *Service) DeleteCampaign(ctx context.Context, id pulid.ID) (pulid.ID, error) {
	if err := checkID("id", id, "cmp", "campaign"); err != nil {
		return "", err
	}
	n, err := s.db.Campaign.Delete().Where(campaign.ID(id)).Exec(ctx)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", notFound("id", "campaign")
	}
	return id, nil
}
