// Package graph is Intake's GraphQL layer: the schema (*.graphqls), the
// gqlgen-generated executor, and resolvers that translate between GraphQL
// and the service layer. Resolvers hold no business rules.
package graph

//go:generate go tool -C .. gqlgen generate
// Fields resolved in place (internal/trimexec, graph/inplace.go), none of
// which waits for a sibling's resolver: a campaign's triggers and a
// trigger's latest run and references come from batchers primed by, or
// listing, the list their object is in; the edges named are loaded with
// their batch (or read alone, as they would be concurrently); the rest
// read the object itself.
//
//go:generate go run ../internal/trimexec -inplace Campaign.triggers,Campaign.acceptedNumberTypes,Campaign.callingHours,Trigger.integration,Trigger.statusMapping,Trigger.references,Trigger.lastRun,Contact.callResults,CallResult.contact,CallResult.pushback generated.go

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/sync/progress"
)

// Deps are the resolvers' dependencies.
type Deps struct {
	DB      *ent.Client
	Service *service.Service
	Broker  progress.Broker
	Logger  *slog.Logger
}

// Resolver is the root resolver.
type Resolver struct {
	db     *ent.Client
	svc    *service.Service
	broker progress.Broker
	log    *slog.Logger
	reads  *sharedReads // subscribers' reads of the objects notices name
}

// NewSchema returns the executable schema.
func NewSchema(d Deps) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{
		db: d.DB, svc: d.Service, broker: d.Broker, log: d.Logger, reads: newSharedReads(),
	}})
}
