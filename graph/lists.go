package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// listObject is what marshalList knows of an object type: its
// implementors (for collecting fields) and the fields the executor
// resolves concurrently (resolvers, methods taking a context).
type listObject struct {
	implementors []string
	concurrent   []string
}

// listObjects holds one listObject per object type, set by generated.go
// (internal/trimexec appends it); without it every list is marshalled
// concurrently.
var listObjects map[string]listObject

// marshalList marshals a list of n elements of object type typ, selected
// by sel, as graphql.MarshalSliceConcurrently does: each element with a
// field context holding its index, a panic in one making it null. When
// nothing the selection reaches below the elements can wait (no field the
// executor resolves concurrently, no interface or union), the elements are
// marshalled one after another on the caller's goroutine: a goroutine per
// element costs more than the element itself, mostly in growing its stack.
// Otherwise the elements go concurrently, so that their resolvers wait
// together (batchers gather siblings).
func marshalList(ctx context.Context, oc *graphql.OperationContext, sel ast.SelectionSet, typ string, n int,
	workerLimit int64, omitPanicHandler bool, elem func(context.Context, int) graphql.Marshaler,
) graphql.Array {
	if n <= 1 || mayWait(oc, sel, typ) {
		return graphql.MarshalSliceConcurrently(ctx, n, workerLimit, omitPanicHandler, elem)
	}
	ret := make(graphql.Array, n)
	for i := range n {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = elem(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = elem(childCtx, i)
		}()
	}
	return ret
}

// mayWait reports whether marshalling an object of type typ selected by
// sel may wait for anything: a field resolved concurrently, at any depth,
// or a type marshalList does not know (an interface or a union).
func mayWait(oc *graphql.OperationContext, sel ast.SelectionSet, typ string) bool {
	o, ok := listObjects[typ]
	if !ok {
		return true
	}
	for _, f := range graphql.CollectFields(oc, sel, o.implementors) {
		for _, c := range o.concurrent {
			if f.Name == c {
				return true
			}
		}
		if len(f.Selections) > 0 {
			if f.Definition == nil || mayWait(oc, f.Selections, f.Definition.Type.Name()) {
				return true
			}
		}
	}
	return false
}
