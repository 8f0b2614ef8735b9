package graph

import (
	"fmt"

	"github.com/intake/intake/graph/model"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/engine"
)

func (r *Resolver) provider(key schematype.ProviderKey) (*model.Provider, error) {
	for _, d := range r.svc.Providers() {
		if d.Key == key {
			return providerModel(d), nil
		}
	}
	return nil, fmt.Errorf("provider %s is not registered", key)
}

func providerModel(d connector.Descriptor) *model.Provider {
	p := &model.Provider{
		Key:                   d.Key,
		Name:                  d.Name,
		SupportsPushback:      d.SupportsPushback,
		SupportsStatusMapping: d.SupportsStatusMapping,
		SupportsWebhooks:      d.SupportsWebhooks,
		ReferenceKinds:        d.ReferenceKinds,
	}
	for _, st := range d.SearchTypes {
		m := &model.SearchType{Key: st.Key, Name: st.Name, Description: st.Description, IsDefault: st.IsDefault, Fields: []*model.SearchField{}}
		for _, f := range st.Fields {
			m.Fields = append(m.Fields, &model.SearchField{
				Key: f.Key, Label: f.Label, Description: f.Description,
				Type: f.Type, Required: f.Required, Min: f.Min, Max: f.Max,
			})
		}
		p.SearchTypes = append(p.SearchTypes, m)
	}
	return p
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func screeningPreview(pv engine.Preview) *model.ScreeningPreview {
	out := &model.ScreeningPreview{
		Screening: pv.State, Tokens: pv.Tokens, Cached: pv.Cached,
		Records: make([]*model.ScreenedRecord, len(pv.Records)),
	}
	if pv.Model != "" {
		out.Model = &pv.Model
	}
	for i, r := range pv.Records {
		m := &model.ScreenedRecord{
			ExternalID: r.Record.ExternalID, FirstName: nonEmpty(r.Record.FirstName), LastName: nonEmpty(r.Record.LastName),
			Attributes: r.Attributes,
		}
		if m.Attributes == nil {
			m.Attributes = map[string]any{}
		}
		if r.Decision != "" {
			m.Screening = &model.ContactScreening{Decision: r.Decision, Reason: r.Reason}
		}
		out.Records[i] = m
	}
	return out
}

// nonEmpty is s, or nil when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func erasureResult(e service.Erasure) *model.ErasureResult {
	ids := e.Contacts
	if ids == nil {
		ids = []pulid.ID{}
	}
	return &model.ErasureResult{Contacts: ids, CallResults: e.CallResults, PushbacksCancelled: e.Pushbacks, ImportIssuesDeleted: e.ImportIssues}
}
