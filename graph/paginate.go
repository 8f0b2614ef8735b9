package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/intake/intake/ent"
)

// countedPage runs a generated Paginate (paginate) for a connection whose
// selection has edges, and counts its rows only when the page does not
// hold them all. The generated Paginate counts before it fetches, whatever
// the page turns out to hold, yet the page a client asks for most is a
// list that fits on one screen: a page without cursors that has no next
// (or previous) page holds every row, and totalCount is its length. Any
// other page is counted with count, as Paginate would have. page reads the
// connection: where its totalCount goes, its number of edges, and whether
// it has a next or a previous page.
//
// A connection selected without edges, or with first or last 0 (whose
// pageInfo Paginate derives from the count), goes to Paginate as it is.
func countedPage[C any](ctx context.Context, after, before *ent.Cursor, first, last *int,
	paginate func(context.Context) (C, error), count func(context.Context) (int, error),
	page func(C) (total *int, edges int, more bool),
) (C, error) {
	pctx, wantsTotal, ok := withoutCount(ctx, first, last)
	conn, err := paginate(pctx)
	if err != nil || !ok || !wantsTotal {
		return conn, err
	}
	total, edges, more := page(conn)
	if after == nil && before == nil && !more {
		*total = edges
		return conn, nil
	}
	*total, err = count(ctx)
	return conn, err
}

// counter counts the rows of q, the query of a connection's filter (or
// reports the filter's error).
func counter[Q interface {
	Count(context.Context) (int, error)
}](q Q, err error) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if err != nil {
			return 0, err
		}
		return q.Count(ctx)
	}
}

// withoutCount returns ctx with a field context that selects the
// connection's edges alone, so that the generated Paginate fetches the
// page without counting (it counts when it sees totalCount or pageInfo,
// and builds pageInfo from the page when it has edges). wantsTotal says
// whether the selection asks for totalCount, under any alias. ok is false,
// and ctx unchanged, when Paginate must count: no edges are selected (by
// alias, as Paginate finds them), or first or last is 0.
func withoutCount(ctx context.Context, first, last *int) (_ context.Context, wantsTotal, ok bool) {
	if (first != nil && *first == 0) || (last != nil && *last == 0) {
		return ctx, false, false
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return ctx, false, false
	}
	var edges ast.SelectionSet
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, nil) {
		switch {
		case f.Alias == "edges":
			e := *f.Field
			e.SelectionSet = f.Selections
			edges = append(edges, &e)
		case f.Name == "totalCount":
			wantsTotal = true
		}
	}
	if len(edges) == 0 {
		return ctx, false, false
	}
	cp := *fc
	cp.Field.Selections = edges
	ctx = graphql.WithFieldContext(ctx, &cp)
	cp.Parent = fc.Parent // in place of fc, not below it
	return ctx, wantsTotal, true
}
