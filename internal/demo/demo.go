// Package demo prepares a demo organization connected to the sandbox fakes,
// so a newcomer can try every mutation in the playground, and see a
// configured campaign in the console, within a minute.
package demo

import (
	"context"
	"fmt"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/campaign"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// Org is the demo organization's name.
const Org = "demo"

// Campaign is the name of the demo's ready campaign.
const Campaign = "Demo: nurses Berlin"

// Description is the demo triggers' general description.
const Description = "Registered nurses and care workers with at least two years of experience"

// PushbackProvider is the provider whose demo trigger pushes call results
// back, with StatusMapping: one trigger of a campaign may.
const PushbackProvider = schematype.ProviderTalention

// StatusMapping is the demo's status mapping: stages the Talention fake's
// jobs have.
var StatusMapping = service.StatusMappingInput{
	Success: ptr("Accepted"), Partial: ptr("Interview"), Failure: ptr("Rejected"), NotAnswered: ptr("Unreachable"),
}

// Result is what Setup made or found.
type Result struct {
	// Key is a new admin API key of the demo organization.
	Key string
	// Campaign is the ready campaign's ID.
	Campaign pulid.ID
}

// Setup creates a new admin key for the demo organization, connects one
// integration of each provider to the fakes, and creates a campaign with
// an enabled trigger on each of them. All but the key is made once: later
// runs find what the first made by name (which is why the sandbox listens
// on a fixed address) and leave it, and any change made to it since, as it
// is.
func Setup(ctx context.Context, svc *service.Service, db *ent.Client, fk *fakes.Set) (Result, error) {
	key, err := svc.CreateAPIKey(ctx, Org, schematype.RoleAdmin)
	if err != nil {
		return Result{}, fmt.Errorf("demo key: %w", err)
	}
	v, err := svc.Authenticate(ctx, key)
	if err != nil {
		return Result{}, err
	}
	ctx = viewer.NewContext(ctx, v)
	existing, err := svc.IntegrationNames(ctx)
	if err != nil {
		return Result{}, err
	}
	for _, d := range svc.Providers() {
		name := integrationName(d)
		if existing[name] {
			continue
		}
		creds := map[string]any{}
		for k, v := range fk.Credentials(d.Key) {
			creds[k] = v
		}
		in, err := svc.ConnectIntegration(ctx, service.ConnectIntegrationInput{
			Provider: d.Key, Name: name, Credentials: creds,
		})
		if err != nil {
			return Result{}, fmt.Errorf("demo: connecting %s: %w", d.Name, err)
		}
		if in.Status != integration.StatusCONNECTED {
			return Result{}, fmt.Errorf("demo: %s sandbox answered %s: %s", d.Name, in.Status, deref(in.LastError))
		}
	}
	id, err := setupCampaign(ctx, svc, db)
	if err != nil {
		return Result{}, fmt.Errorf("demo campaign: %w", err)
	}
	return Result{Key: key, Campaign: id}, nil
}

func integrationName(d connector.Descriptor) string { return d.Name + " (sandbox)" }

// setupCampaign creates the demo campaign unless it exists, and gives it a
// trigger on each demo integration that has none: the provider's default
// search, the demo description, and on PushbackProvider push-back with a
// status mapping.
func setupCampaign(ctx context.Context, svc *service.Service, db *ent.Client) (pulid.ID, error) {
	camp, err := db.Campaign.Query().Where(campaign.Name(Campaign)).Order(ent.Asc(campaign.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		camp, err = svc.CreateCampaign(ctx, service.CreateCampaignInput{Name: Campaign})
	}
	if err != nil {
		return "", err
	}
	for _, d := range svc.Providers() {
		in, err := db.Integration.Query().
			Where(integration.Name(integrationName(d)), integration.StatusEQ(integration.StatusCONNECTED)).
			Order(ent.Asc(integration.FieldID)).First(ctx)
		if ent.IsNotFound(err) {
			continue // disconnected since: nothing to configure
		}
		if err != nil {
			return "", err
		}
		has, err := db.Trigger.Query().Where(trigger.CampaignID(camp.ID), trigger.IntegrationID(in.ID)).Exist(ctx)
		if err != nil {
			return "", err
		}
		if has {
			continue
		}
		cfg := service.ConfigureTriggerInput{
			CampaignID: camp.ID, IntegrationID: in.ID, Enabled: true, Description: ptr(Description),
		}
		if d.Key == PushbackProvider {
			cfg.PushbackEnabled, cfg.StatusMapping = ptr(true), &StatusMapping
		}
		if _, err := svc.ConfigureTrigger(ctx, cfg); err != nil {
			return "", fmt.Errorf("configuring the %s trigger: %w", d.Name, err)
		}
	}
	return camp.ID, nil
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
