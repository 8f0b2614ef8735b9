// Package providers lists the external systems Intake connects to. It sits
// apart from package connector, which every provider imports.
package providers

import (
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/connector/zvoove"
)

// All returns a registry of every provider.
func All() *connector.Registry {
	return connector.NewRegistry(zvoove.New(), talention.New(), compleet.New(), hubspot.New())
}
