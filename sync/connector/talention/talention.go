// Package talention connects Intake to Talention through the unified ATS
// API shape (package ats): jobs as references, new applications as the
// search, call results as candidate notes, mapped statuses as application
// stage moves, and signed application webhooks.
package talention

import (
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
)

// New returns the Talention provider.
func New() connector.Provider {
	return ats.New(ats.Config{
		Key:           schematype.ProviderTalention,
		Name:          "Talention",
		StatusMapping: true,
		Webhooks:      true,
	})
}
