package graph

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// An object's @defer group is gqlgen's own when a field is deferred, and
// an empty one, with nothing to process, otherwise.
func TestDeferredGroup(t *testing.T) {
	ctx := graphql.WithPathContext(context.Background(), graphql.NewPathWithField("campaigns"))
	plain := []graphql.CollectedField{{Field: &ast.Field{Name: "id"}}, {Field: &ast.Field{Name: "name"}}}
	if g := deferredGroup(ctx, plain); g.FieldSet != nil || len(g.Defers) != 0 || g.Context != ctx {
		t.Errorf("no deferred field: %+v", g)
	}
	deferred := append(plain, graphql.CollectedField{Field: &ast.Field{Name: "triggers"}, Deferrables: []*graphql.Deferrable{{Label: "later"}}})
	if g := deferredGroup(ctx, deferred); g.FieldSet == nil || g.Defers == nil || g.Path.String() != "campaigns" {
		t.Errorf("a deferred field: %+v", g)
	}
}
