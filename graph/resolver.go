// Package graph is Intake's GraphQL layer: the schema (*.graphqls), the
// gqlgen-generated executor, and resolvers that translate between GraphQL
// and the service layer. Resolvers hold no business rules.
package graph

//go:generate go tool -C .. gqlgen generate
//go:generate go run ../internal/trimexec generated.go

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
