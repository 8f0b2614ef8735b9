package service

import (
	"context"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/campaign"
	"github.com/intake/intake/internal/pulid"
)

// CreateCampaignInput is createCampaign's input.
type CreateCampaignInput struct {
	Name        string
	PhoneRegion *string
}

// UpdateCampaignInput is updateCampaign's input; nil fields stay as they are.
type UpdateCampaignInput struct {
	Name        *string
	PhoneRegion *string
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
	return s.db.Campaign.Create().SetName(name).SetPhoneRegion(region).Save(ctx)
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
