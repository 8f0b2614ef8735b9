package fakes

import (
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
)

// Delivered returns, for each of the given contacts (external IDs), the
// bodies of the call results the provider's fake holds for it: the
// hs_call_body of every call logged on a HubSpot contact, the content of
// every note on an ATS candidate. Each delivery leaves connector.Marker of
// its key in what it creates, so a test counts deliveries by marker.
func (s *Set) Delivered(p schematype.ProviderKey, contacts []string) map[string][]string {
	out := make(map[string][]string, len(contacts))
	switch p {
	case schematype.ProviderHubSpot:
		want := make(map[string]bool, len(contacts))
		for _, id := range contacts {
			want[id] = true
		}
		for _, c := range s.HubSpot.Calls() {
			for _, id := range c.ContactIDs {
				if want[id] {
					out[id] = append(out[id], c.Properties["hs_call_body"])
				}
			}
		}
	case schematype.ProviderTalention, schematype.ProviderCompleet:
		fake := s.Talention
		if p == schematype.ProviderCompleet {
			fake = s.Compleet
		}
		for _, id := range contacts {
			if notes := fake.Notes(id); len(notes) > 0 {
				out[id] = notes
			}
		}
	}
	return out
}

// Faults returns the fault injector of the provider's fake.
func (s *Set) Faults(p schematype.ProviderKey) *sandbox.Faults {
	switch p {
	case schematype.ProviderZvoove:
		return s.Zvoove.Faults
	case schematype.ProviderTalention:
		return s.Talention.Faults
	case schematype.ProviderCompleet:
		return s.Compleet.Faults
	}
	return s.HubSpot.Faults
}

// ContractViolations returns what the fakes' contract checkers found in
// the requests they received and the answers they gave, every provider's
// violations prefixed with its name. Tests that drive the fakes end to end
// require it to be empty.
func (s *Set) ContractViolations() []string {
	var out []string
	out = append(out, s.Zvoove.Contract.Violations()...)
	out = append(out, s.Talention.Contract.Violations()...)
	out = append(out, s.Compleet.Contract.Violations()...)
	out = append(out, s.HubSpot.Contract.Violations()...)
	return out
}
