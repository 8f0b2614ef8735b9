// Package compleet connects Intake to Compleet through the unified ATS API
// shape (package ats): jobs as references, new applications as the search
// and call results as candidate notes. Compleet has no status mapping and
// no webhooks.
package compleet

import (
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
)

// New returns the Compleet provider.
func New() connector.Provider {
	return ats.New(ats.Config{Key: schematype.ProviderCompleet, Name: "Compleet"})
}
