//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// seedProviders are the integrations the seeded organization connects,
// one of each provider; every campaign has a trigger on each.
var seedProviders = []schematype.ProviderKey{schematype.ProviderHubSpot, schematype.ProviderTalention, schematype.ProviderZvoove, schematype.ProviderCompleet}

// talentionMapping is the status mapping of the pushback trigger: stages
// the Talention fake accepts.
var talentionMapping = map[string]any{"success": "Accepted", "partial": "Interview", "failure": "Rejected", "notAnswered": "Unreachable"}

// triggerConfig is one seeded trigger's configuration, which the
// configureTrigger writes of the mix send again with a new description.
type triggerConfig struct {
	campaignID, integrationID string
	provider                  schematype.ProviderKey
	searchType                string
	params                    map[string]any
	pushback                  bool
	refKind                   schematype.ReferenceKind
}

// input is the configureTrigger input for the configuration with the
// given description and references.
func (t triggerConfig) input(description string, refs []map[string]any) map[string]any {
	in := map[string]any{
		"campaignID": t.campaignID, "integrationID": t.integrationID, "enabled": true,
		"searchType": t.searchType, "searchParams": t.params, "description": description,
		"references": refs, "pushbackEnabled": t.pushback, "syncIntervalSeconds": service.MaxSyncInterval,
	}
	if t.pushback {
		in["statusMapping"] = talentionMapping
	}
	return in
}

// org is what the seeding made, as the mix and the phases use it.
type org struct {
	campaigns []string        // IDs, in creation order
	triggers  []triggerConfig // every campaign's triggers
	runs      []string        // finished runs (their import issues)
	contacts  []string        // a sample of contact IDs
	// pushbackContact is a contact of campaigns[0], whose trigger on
	// Talention pushes call results back.
	pushbackContact string
	// Totals the seeding made.
	contactCount, issueCount int
	// progressIntegration is connected to the fake of -sync-size people.
	progressIntegration string
}

// seeder seeds through the Intake API as an admin of the organization.
type seeder struct {
	hc  *http.Client
	url string // the /graphql endpoint
	key string
}

func (s *seeder) do(ctx context.Context, query string, vars map[string]any, out any) error {
	return graphQL(ctx, s.hc, s.url, s.key, query, vars, out)
}

// seed builds a realistic organization: an integration of each provider
// connected to the seed fakes, campaigns with a trigger on each (search
// parameters, a pushback with a status mapping on Talention), one test
// sync of every trigger (the first to import a person's number imports
// it, the others record it as a DUPLICATE import issue), and a HubSpot
// integration connected to the progress fakes.
func (s *seeder) seed(ctx context.Context, seedFakes, progressFakes *fakes.Set, seedData sandbox.Dataset, campaigns int) (*org, error) {
	o := &org{}
	integrations := map[schematype.ProviderKey]string{}
	for _, p := range seedProviders {
		id, err := s.connect(ctx, seedFakes, p, "load "+string(p))
		if err != nil {
			return nil, err
		}
		integrations[p] = id
	}
	var err error
	if o.progressIntegration, err = s.connect(ctx, progressFakes, schematype.ProviderHubSpot, "load progress HUBSPOT"); err != nil {
		return nil, err
	}
	for i := range campaigns {
		var out struct {
			CreateCampaign struct{ ID string } `json:"createCampaign"`
		}
		if err := s.do(ctx, `mutation($name: String!) { createCampaign(input: {name: $name, phoneRegion: "DE"}) { id } }`,
			map[string]any{"name": fmt.Sprintf("load campaign %d", i+1)}, &out); err != nil {
			return nil, fmt.Errorf("creating a campaign: %w", err)
		}
		camp := out.CreateCampaign.ID
		o.campaigns = append(o.campaigns, camp)
		for _, p := range seedProviders {
			d, _ := providers.All().Get(p)
			desc := d.Descriptor()
			t := triggerConfig{campaignID: camp, integrationID: integrations[p], provider: p, pushback: p == schematype.ProviderTalention,
				refKind: desc.ReferenceKinds[0]}
			t.searchType, t.params = benchkit.SearchAll(desc, seedData)
			o.triggers = append(o.triggers, t)
		}
	}
	// Configure every trigger and start its test sync; then wait for all.
	var runs []string
	for _, t := range o.triggers {
		var out struct {
			ConfigureTrigger struct{ ID string } `json:"configureTrigger"`
		}
		if err := s.do(ctx, configureMutation, map[string]any{"input": t.input("Nurses with 3+ years of experience", nil)}, &out); err != nil {
			return nil, fmt.Errorf("configuring the %s trigger: %w", t.provider, err)
		}
		var run struct {
			TestSync struct{ ID string } `json:"testSync"`
		}
		if err := s.do(ctx, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": out.ConfigureTrigger.ID}, &run); err != nil {
			return nil, fmt.Errorf("starting a test sync: %w", err)
		}
		runs = append(runs, run.TestSync.ID)
	}
	for _, id := range runs {
		r, err := s.waitRun(ctx, id, 10*time.Minute)
		if err != nil {
			return nil, err
		}
		if r.Status != "SUCCEEDED" {
			return nil, fmt.Errorf("seeding: sync run %s ended %s: %s", id, r.Status, r.Error)
		}
		o.issueCount += r.Fetched - r.Imported
		if r.Fetched > r.Imported {
			o.runs = append(o.runs, id)
		}
	}
	if len(o.runs) == 0 {
		return nil, fmt.Errorf("seeding: no sync run left import issues")
	}
	// A sample of contacts for the node lookups, a page from each campaign.
	for i, camp := range o.campaigns {
		var out struct {
			Node struct {
				Contacts struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID string } }
				}
			}
		}
		if err := s.do(ctx, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 100) { totalCount edges { node { id } } } } } }`,
			map[string]any{"id": camp}, &out); err != nil {
			return nil, fmt.Errorf("listing contacts: %w", err)
		}
		o.contactCount += out.Node.Contacts.TotalCount
		for _, e := range out.Node.Contacts.Edges {
			o.contacts = append(o.contacts, e.Node.ID)
		}
		if i == 0 && len(out.Node.Contacts.Edges) > 0 {
			o.pushbackContact = out.Node.Contacts.Edges[0].Node.ID
		}
	}
	if len(o.contacts) == 0 || o.pushbackContact == "" {
		return nil, fmt.Errorf("seeding: the syncs imported no contacts")
	}
	// Enabled triggers are due for their first scheduled sync right away,
	// and the scheduler's look at start may have queued some: let those
	// runs end before a phase measures anything. (Its next look is an hour
	// away: triggers that stay due start nothing meanwhile.)
	if err := s.waitQuiet(ctx, 10*time.Minute); err != nil {
		return nil, err
	}
	return o, nil
}

// waitQuiet polls the triggers until none has a run queued or running.
func (s *seeder) waitQuiet(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var out struct {
			Campaigns struct {
				Edges []struct {
					Node struct {
						Triggers []struct {
							ID      string
							LastRun *struct{ Status string }
						}
					}
				}
			}
		}
		if err := s.do(ctx, `{ campaigns(first: 100) { edges { node { triggers { id lastRun { status } } } } } }`, nil, &out); err != nil {
			return fmt.Errorf("reading the triggers: %w", err)
		}
		busy := ""
		for _, e := range out.Campaigns.Edges {
			for _, t := range e.Node.Triggers {
				switch {
				case t.LastRun != nil && (t.LastRun.Status == "QUEUED" || t.LastRun.Status == "RUNNING"):
					busy = fmt.Sprintf("trigger %s has a run %s", t.ID, t.LastRun.Status)
				}
			}
		}
		if busy == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seeding: the scheduled syncs did not settle within %s: %s", timeout, busy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connect connects an integration of provider p to the fakes.
func (s *seeder) connect(ctx context.Context, fk *fakes.Set, p schematype.ProviderKey, name string) (string, error) {
	creds := map[string]any{}
	for k, v := range fk.Credentials(p) {
		creds[k] = v
	}
	var out struct {
		ConnectIntegration struct{ ID, Status string } `json:"connectIntegration"`
	}
	if err := s.do(ctx, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": string(p), "name": name, "credentials": creds,
			"rateLimit": map[string]any{"requests": 100000, "intervalSeconds": 1, "searchesPerSecond": 1000}}}, &out); err != nil {
		return "", fmt.Errorf("connecting %s: %w", p, err)
	}
	if out.ConnectIntegration.Status != "CONNECTED" {
		return "", fmt.Errorf("connecting %s: the fake answered the check with %s", p, out.ConnectIntegration.Status)
	}
	return out.ConnectIntegration.ID, nil
}

// runState is what waitRun reads of a run.
type runState struct {
	ID, Status, Error string
	Fetched, Imported int
}

// waitRun polls a run until it has ended.
func (s *seeder) waitRun(ctx context.Context, id string, timeout time.Duration) (runState, error) {
	deadline := time.Now().Add(timeout)
	for {
		var out struct{ Node runState }
		if err := s.do(ctx, `query($id: ID!) { node(id: $id) { ... on SyncRun { id status error fetched imported } } }`,
			map[string]any{"id": id}, &out); err != nil {
			return runState{}, fmt.Errorf("reading sync run %s: %w", id, err)
		}
		switch out.Node.Status {
		case "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED":
			return out.Node, nil
		}
		if time.Now().After(deadline) {
			return out.Node, fmt.Errorf("sync run %s is still %s after %s", id, out.Node.Status, timeout)
		}
		select {
		case <-ctx.Done():
			return runState{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
