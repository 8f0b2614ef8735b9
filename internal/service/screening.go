package service

import (
	"context"
	"errors"

	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/engine"
)

// DefaultPreviewSample is how many records previewScreening judges when
// the input does not say.
const DefaultPreviewSample = 20

// PreviewScreeningInput is previewScreening's input: a trigger's search and
// description, not saved.
type PreviewScreeningInput struct {
	IntegrationID pulid.ID
	SearchType    *string
	SearchParams  map[string]any
	References    []ReferenceInput
	Description   string
	Sample        *int
}

// PreviewScreening judges a live sample of the integration's records
// against a description, as a sync would, and imports nothing. The search,
// its parameters and the references are validated as configureTrigger
// validates them; the description must not be empty.
func (s *Service) PreviewScreening(ctx context.Context, in PreviewScreeningInput) (engine.Preview, error) {
	integ, err := s.integration(ctx, "input.integrationID", in.IntegrationID)
	if err != nil {
		return engine.Preview{}, err
	}
	p, ok := s.providers.Get(integ.Provider)
	if !ok {
		return engine.Preview{}, errors.New("provider " + string(integ.Provider) + " is not registered")
	}
	desc, err := checkText("input.description", in.Description, true, MaxDescription)
	if err != nil {
		return engine.Preview{}, err
	}
	cfg, err := validateTrigger(ConfigureTriggerInput{
		SearchType: in.SearchType, SearchParams: in.SearchParams, References: in.References,
	}, p.Descriptor())
	if err != nil {
		return engine.Preview{}, err
	}
	sample := DefaultPreviewSample
	if in.Sample != nil {
		if sample = *in.Sample; sample < 1 || sample > engine.MaxPreviewSample {
			return engine.Preview{}, invalid("input.sample", "must be between 1 and %d", engine.MaxPreviewSample)
		}
	}
	if integ.Status != integration.StatusCONNECTED {
		return engine.Preview{}, invalid("input.integrationID", "the integration is %s: only a CONNECTED integration can be previewed", integ.Status)
	}
	if s.jobs == nil {
		return engine.Preview{}, errNoEngine
	}
	conn, err := s.OpenConnector(integ)
	if err != nil {
		return engine.Preview{}, err
	}
	refs := make([]connector.Reference, len(cfg.references))
	for i, r := range cfg.references {
		refs[i] = connector.Reference{ExternalID: r.ExternalID, Kind: r.Kind, Name: r.Name}
	}
	req := connector.FetchRequest{SearchType: cfg.searchType, Params: cfg.params, References: refs}
	pv, err := s.jobs.PreviewScreening(ctx, conn, viewer.FromContext(ctx).OrgID, req, desc, sample)
	var se *screening.Error
	if errors.As(err, &se) {
		return engine.Preview{}, &Error{Code: CodeIntegration, Message: "the screening model failed: " + se.Error(), Err: err}
	}
	if err != nil {
		return engine.Preview{}, Classify(err)
	}
	return pv, nil
}
