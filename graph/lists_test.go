package graph

import (
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// selectionOf parses query against the schema and returns the selection
// below the field at path (field names from the operation down).
func selectionOf(t *testing.T, query string, path ...string) (*graphql.OperationContext, ast.SelectionSet) {
	t.Helper()
	doc, err := gqlparser.LoadQueryWithRules(NewSchema(Deps{}).Schema(), query, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel := doc.Operations[0].SelectionSet
	for _, name := range path {
		var next ast.SelectionSet
		var walk func(ast.SelectionSet)
		walk = func(s ast.SelectionSet) {
			for _, x := range s {
				switch x := x.(type) {
				case *ast.Field:
					if x.Name == name {
						next = x.SelectionSet
					}
				case *ast.InlineFragment:
					walk(x.SelectionSet)
				}
			}
		}
		walk(sel)
		if next == nil {
			t.Fatalf("no field %s in %s", name, query)
		}
		sel = next
	}
	return &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}, sel
}

// A list is marshalled in order only when nothing below its elements is
// resolved concurrently, through fragments, skipped fields and nesting.
func TestMayWait(t *testing.T) {
	const contacts = `query { node(id: "x") { ... on Campaign { contacts { edges { %s } } } } }`
	for _, tc := range []struct {
		name, selection string
		want            bool
	}{
		{"leaf fields", `cursor node { id phoneRaw attributes createdAt }`, false},
		{"a resolver below", `node { id callable }`, true},
		{"a resolver in place", `node { id callResults { id contact { id } } }`, false},
		{"below a resolver in place", `node { id callResults { id contact { id callable } } }`, true},
		{"an edge of ent", `node { id campaign { id } }`, true},
		{"a resolver in a fragment", `node { ...F }`, true},
		{"a skipped resolver", `node { id callable @skip(if: true) }`, false},
		{"typename only", `__typename`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := strings.Replace(contacts, "%s", tc.selection, 1)
			if strings.Contains(tc.selection, "...F") {
				q += ` fragment F on Contact { id trigger { id } }`
			}
			oc, sel := selectionOf(t, q, "node", "contacts", "edges")
			if got := mayWait(oc, sel, "ContactEdge"); got != tc.want {
				t.Errorf("mayWait = %v, want %v", got, tc.want)
			}
		})
	}
	oc, sel := selectionOf(t, `query { campaigns { edges { node { id } } } }`, "campaigns", "edges")
	if mayWait(oc, sel, "NoSuchType") != true {
		t.Error("an unknown type may not wait")
	}
	if mayWait(oc, sel, "CampaignEdge") {
		t.Error("campaign IDs may wait")
	}
}

// In order, each element gets its index and a panic makes it null, as
// concurrently.
func TestMarshalListInOrder(t *testing.T) {
	oc, sel := selectionOf(t, `query { campaigns { edges { cursor } } }`, "campaigns", "edges")
	ctx := graphql.WithResponseContext(graphql.WithOperationContext(context.Background(), oc), graphql.DefaultErrorPresenter, func(_ context.Context, err any) error {
		return errors.New("recovered")
	})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "edges"}}})
	var order []int
	ret := marshalList(ctx, oc, sel, "CampaignEdge", 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if idx := graphql.GetFieldContext(ctx).Index; idx == nil || *idx != i {
			t.Errorf("element %d: index %v", i, idx)
		}
		order = append(order, i) // no lock: in order on this goroutine
		if i == 1 {
			panic("element 1")
		}
		return graphql.MarshalInt(i)
	})
	var b strings.Builder
	ret.MarshalGQL(io.Writer(&b))
	if b.String() != "[0,null,2]" || len(order) != 3 || order[2] != 2 {
		t.Errorf("marshalled %s in order %v", b.String(), order)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 || errs[0].Message != "recovered" || errs[0].Path.String() != "edges[1]" {
		t.Errorf("errors %v", errs)
	}
}

// Every list of objects in the generated executor names its element's
// type, one listObjects knows, or none for an interface (internal/trimexec).
func TestGeneratedListsNameTheirType(t *testing.T) {
	src, err := os.ReadFile("generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "graphql.MarshalSliceConcurrently(") {
		t.Error("a list is still marshalled by graphql.MarshalSliceConcurrently")
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`marshalList\(ctx, ec\.OperationContext, sel, "(\w*)",`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := listObjects[m[1]]; !ok && m[1] != "" {
			t.Errorf("a list names %q, which listObjects does not know", m[1])
		}
		named[m[1]] = true
	}
	for _, typ := range []string{"CampaignEdge", "ContactEdge", "ImportIssueEdge", "Trigger", "CallResult"} {
		if !named[typ] {
			t.Errorf("no list names %s", typ)
		}
	}
	// callable waits for a batch by time; callResults is resolved in
	// place (graph/resolver.go's go:generate); phoneRaw is a column.
	if c := listObjects["Contact"].concurrent; !slices.Contains(c, "callable") || slices.Contains(c, "callResults") || slices.Contains(c, "phoneRaw") {
		t.Errorf("Contact's concurrent fields %v", c)
	}
}
