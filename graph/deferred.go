package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// deferredGroup is the @defer group of an object whose selected fields are
// fields: graphql.NewDeferredGroup's when one of them is deferred, and
// otherwise an empty one, which the generated executor neither adds to
// nor processes. NewDeferredGroup computes the object's path and makes a
// field set and a map, for every object of every answer. The generated
// object marshallers call it (internal/trimexec).
func deferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for _, f := range fields {
		if f.IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{Context: ctx}
}
