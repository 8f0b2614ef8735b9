package graph

import (
	"context"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
)

// resolveInPlace resolves field i of out on the caller's goroutine, where
// the generated executor would have scheduled it to run concurrently with
// its siblings (FieldSet.ResolveConcurrently). internal/trimexec points the
// fields named by its -inplace flag here: fields whose resolvers never
// wait for a sibling object's resolver, because they read what is loaded
// already, or because their batcher knows the keys of the whole list at
// the first call (primed, or getListed). Resolving them in place spares a
// goroutine per object, and lets a list of such objects be marshalled in
// order (marshalList).
//
// A deferred field goes to ResolveConcurrently as before. Otherwise the
// result is counted as the generated code counts a synchronous field's:
// Null invalidates the object for a non-null field, RequiredNull for a
// nullable one. graphql.ResolveField guards the resolver against panics
// when recoverFromPanic is set, as ResolveConcurrently's guard did.
func resolveInPlace(ctx context.Context, field graphql.CollectedField, out *graphql.FieldSet,
	oc *graphql.OperationContext, deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool,
	resolve func(context.Context) graphql.Marshaler,
) {
	if field.IsDeferred() {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := resolve(ctx)
	out.Values[i] = v
	invalid := graphql.RequiredNull
	if nonNull {
		invalid = graphql.Null
	}
	if v == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}
