package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/reference"
	"github.com/intake/intake/ent/statusmapping"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Limits of a trigger's configuration.
const (
	DefaultSyncInterval = 900
	MinSyncInterval     = 60
	MaxSyncInterval     = 30 * 24 * 3600
	MaxDescription      = 2000
	MaxStatusName       = 100
	MaxReferences       = 500
)

// ConfigureTriggerInput is configureTrigger's input.
type ConfigureTriggerInput struct {
	CampaignID          pulid.ID
	IntegrationID       pulid.ID
	Enabled             bool
	SearchType          *string
	SearchParams        map[string]any
	Description         *string
	References          []ReferenceInput
	PushbackEnabled     *bool
	StatusMapping       *StatusMappingInput
	SyncIntervalSeconds *int
	// ImportUnsure: whether records the screening model cannot judge are
	// imported; absent means true.
	ImportUnsure *bool
}

// ReferenceInput is one reference to pull from.
type ReferenceInput struct {
	ExternalID string
	Kind       schematype.ReferenceKind
	Name       string
}

// StatusMappingInput maps call outcomes to external status names: all four
// set, or none.
type StatusMappingInput struct {
	Success     *string
	Partial     *string
	Failure     *string
	NotAnswered *string
}

// triggerConfig is a validated ConfigureTriggerInput.
type triggerConfig struct {
	searchType  string
	params      map[string]any
	description string
	references  []ReferenceInput
	pushback    bool
	mapping     *[4]string // success, partial, failure, notAnswered
	interval    int
	unsure      bool
}

var errPushbackTaken = invalid("input.pushbackEnabled", "another trigger of this campaign already pushes call results back; only one may")

// ConfigureTrigger creates or replaces the trigger of (campaign,
// integration). Every rule is checked before anything is written, and the
// write is one transaction: on any error nothing changes.
func (s *Service) ConfigureTrigger(ctx context.Context, in ConfigureTriggerInput) (*ent.Trigger, error) {
	if err := checkID("input.campaignID", in.CampaignID, "cmp", "campaign"); err != nil {
		return nil, err
	}
	integ, err := s.integration(ctx, "input.integrationID", in.IntegrationID)
	if err != nil {
		return nil, err
	}
	p, ok := s.providers.Get(integ.Provider)
	if !ok {
		return nil, fmt.Errorf("provider %s is not registered", integ.Provider)
	}
	cfg, err := validateTrigger(in, p.Descriptor())
	if err != nil {
		return nil, err
	}
	if in.Enabled && integ.Status != integration.StatusCONNECTED {
		return nil, invalid("input.enabled", "the integration is %s: only a CONNECTED integration's trigger can be enabled", integ.Status)
	}

	var saved *ent.Trigger
	err = s.tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Campaign.Get(ctx, in.CampaignID); err != nil {
			if ent.IsNotFound(err) {
				return notFound("input.campaignID", "campaign")
			}
			return err
		}
		existing, err := tx.Trigger.Query().
			Where(trigger.CampaignID(in.CampaignID), trigger.IntegrationID(in.IntegrationID)).
			Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		if cfg.pushback {
			q := tx.Trigger.Query().Where(trigger.CampaignID(in.CampaignID), trigger.PushbackEnabled(true))
			if existing != nil {
				q.Where(trigger.IDNEQ(existing.ID))
			}
			if taken, err := q.Exist(ctx); err != nil {
				return err
			} else if taken {
				return errPushbackTaken
			}
		}
		saved, err = s.saveTrigger(ctx, tx, in, existing, cfg)
		return err
	})
	if err != nil && ent.IsConstraintError(err) {
		// Two requests that both passed the checks above raced on a unique
		// index. The loser gets the answer it would have had coming second.
		if cfg.pushback {
			taken, qerr := s.db.Trigger.Query().
				Where(trigger.CampaignID(in.CampaignID), trigger.PushbackEnabled(true), trigger.IntegrationIDNEQ(in.IntegrationID)).
				Exist(ctx)
			if qerr == nil && taken {
				return nil, errPushbackTaken
			}
		}
		return nil, &Error{Code: CodeConflict, Field: "input", Message: "the trigger was changed by another request at the same time; retry", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return saved.Unwrap(), nil // unbound from the committed transaction
}

func (s *Service) saveTrigger(ctx context.Context, tx *ent.Tx, in ConfigureTriggerInput, existing *ent.Trigger, cfg triggerConfig) (*ent.Trigger, error) {
	var next *time.Time
	if in.Enabled {
		now := time.Now().UTC().Truncate(time.Microsecond)
		next = &now // a newly enabled trigger syncs at once
		if existing != nil && existing.Enabled && existing.NextSyncAt != nil {
			next = existing.NextSyncAt
		}
	}
	var (
		t   *ent.Trigger
		err error
	)
	if existing == nil {
		t, err = tx.Trigger.Create().
			SetCampaignID(in.CampaignID).
			SetIntegrationID(in.IntegrationID).
			SetEnabled(in.Enabled).
			SetSearchType(cfg.searchType).
			SetSearchParams(cfg.params).
			SetDescription(cfg.description).
			SetImportUnsure(cfg.unsure).
			SetPushbackEnabled(cfg.pushback).
			SetSyncIntervalSeconds(cfg.interval).
			SetNillableNextSyncAt(next).
			Save(ctx)
	} else {
		upd := existing.Update().
			SetEnabled(in.Enabled).
			SetSearchType(cfg.searchType).
			SetSearchParams(cfg.params).
			SetDescription(cfg.description).
			SetImportUnsure(cfg.unsure).
			SetPushbackEnabled(cfg.pushback).
			SetSyncIntervalSeconds(cfg.interval)
		if next != nil {
			upd.SetNextSyncAt(*next)
		} else {
			upd.ClearNextSyncAt()
		}
		t, err = upd.Save(ctx)
		if err == nil {
			_, err = tx.Reference.Delete().Where(reference.TriggerID(t.ID)).Exec(ctx)
		}
		if err == nil {
			_, err = tx.StatusMapping.Delete().Where(statusmapping.TriggerID(t.ID)).Exec(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(cfg.references) > 0 {
		builders := make([]*ent.ReferenceCreate, len(cfg.references))
		for i, r := range cfg.references {
			builders[i] = tx.Reference.Create().SetTriggerID(t.ID).SetExternalID(r.ExternalID).SetKind(r.Kind).SetName(r.Name)
		}
		if err := tx.Reference.CreateBulk(builders...).Exec(ctx); err != nil {
			return nil, err
		}
	}
	if m := cfg.mapping; m != nil {
		if err := tx.StatusMapping.Create().SetTriggerID(t.ID).
			SetSuccess(m[0]).SetPartial(m[1]).SetFailure(m[2]).SetNotAnswered(m[3]).
			Exec(ctx); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// validateTrigger applies every rule of the product to a trigger's
// configuration, naming the first offending field.
func validateTrigger(in ConfigureTriggerInput, d connector.Descriptor) (triggerConfig, error) {
	cfg := triggerConfig{interval: DefaultSyncInterval, unsure: true}
	if in.ImportUnsure != nil {
		cfg.unsure = *in.ImportUnsure
	}

	st := d.DefaultSearchType()
	if in.SearchType != nil {
		var ok bool
		if st, ok = d.SearchType(*in.SearchType); !ok {
			keys := make([]string, len(d.SearchTypes))
			for i, t := range d.SearchTypes {
				keys[i] = t.Key
			}
			return cfg, invalid("input.searchType", "%q is not a search type of %s (one of: %s)", *in.SearchType, d.Name, strings.Join(keys, ", "))
		}
	}
	cfg.searchType = st.Key
	params, err := connector.ValidateParams(st, in.SearchParams)
	if err != nil {
		var pe *connector.ParamError
		if errors.As(err, &pe) {
			return cfg, invalid("input.searchParams."+pe.Key, "%s", pe.Message)
		}
		return cfg, err
	}
	cfg.params = params

	if in.Description != nil {
		if cfg.description, err = checkText("input.description", *in.Description, false, MaxDescription); err != nil {
			return cfg, err
		}
	}

	if len(in.References) > MaxReferences {
		return cfg, invalid("input.references", "at most %d references", MaxReferences)
	}
	seen := map[string]bool{}
	for i, r := range in.References {
		field := fmt.Sprintf("input.references[%d]", i)
		if !slices.Contains(d.ReferenceKinds, r.Kind) {
			return cfg, invalid(field+".kind", "%s has no references of kind %s", d.Name, r.Kind)
		}
		id, err := checkText(field+".externalID", r.ExternalID, true, 200)
		if err != nil {
			return cfg, err
		}
		name, err := checkText(field+".name", r.Name, false, 500)
		if err != nil {
			return cfg, err
		}
		if key := string(r.Kind) + "/" + id; seen[key] {
			return cfg, invalid(field, "reference %s %s is listed twice", r.Kind, id)
		} else {
			seen[key] = true
		}
		cfg.references = append(cfg.references, ReferenceInput{ExternalID: id, Kind: r.Kind, Name: name})
	}

	if in.PushbackEnabled != nil && *in.PushbackEnabled {
		if !d.SupportsPushback {
			return cfg, invalid("input.pushbackEnabled", "%s cannot receive call results", d.Name)
		}
		cfg.pushback = true
	}

	if m := in.StatusMapping; m != nil {
		names := [4]string{}
		fields := [4]string{"success", "partial", "failure", "notAnswered"}
		set := 0
		for i, p := range []*string{m.Success, m.Partial, m.Failure, m.NotAnswered} {
			if p == nil {
				continue
			}
			if names[i], err = checkText("input.statusMapping."+fields[i], *p, false, MaxStatusName); err != nil {
				return cfg, err
			}
			if names[i] != "" {
				set++
			}
		}
		switch {
		case set == 0: // all empty: no status-specific pushback
		case set < 4:
			for i, n := range names {
				if n == "" {
					return cfg, invalid("input.statusMapping."+fields[i], "all four status mappings must be filled in, or all left empty")
				}
			}
		case !d.SupportsStatusMapping:
			return cfg, invalid("input.statusMapping", "%s does not support candidate status mapping", d.Name)
		case !cfg.pushback:
			return cfg, invalid("input.statusMapping", "status mapping needs pushbackEnabled")
		default:
			cfg.mapping = &names
		}
	}

	if in.SyncIntervalSeconds != nil {
		cfg.interval = *in.SyncIntervalSeconds
		if cfg.interval < MinSyncInterval || cfg.interval > MaxSyncInterval {
			return cfg, invalid("input.syncIntervalSeconds", "must be between %d and %d", MinSyncInterval, MaxSyncInterval)
		}
	}
	return cfg, nil
}
