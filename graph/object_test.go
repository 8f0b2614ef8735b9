package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestObjectFieldsAsFieldSet: objectFields writes what
// graphql.FieldSet.MarshalGQL writes, for objects of 0 to 20 fields whose
// names repeat and whose values are of every kind, nulls included.
func TestObjectFieldsAsFieldSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"id", "name", "__typename", "a", "phoneE164", "x_1"}
	values := []graphql.Marshaler{
		graphql.Null, graphql.MarshalString(`q"<&>`), graphql.MarshalInt(-3), graphql.MarshalBoolean(true),
		graphql.Array{graphql.MarshalInt(1), graphql.Null}, &graphql.Array{},
	}
	for range 2000 {
		n := r.IntN(21)
		fields := make([]graphql.CollectedField, n)
		for i := range fields {
			fields[i] = graphql.CollectedField{Field: &ast.Field{Alias: names[r.IntN(len(names))]}}
		}
		out := graphql.NewFieldSet(fields)
		for i := range out.Values {
			out.Values[i] = values[r.IntN(len(values))]
		}
		var got, want bytes.Buffer
		objectFields(fields, out).MarshalGQL(&got)
		out.MarshalGQL(&want)
		if got.String() != want.String() {
			t.Fatalf("objectFields: %s\nFieldSet:     %s", got.String(), want.String())
		}
	}
}

// BenchmarkObjectFields: a contact of 9 fields, written by objectFields
// and by graphql.FieldSet.
func BenchmarkObjectFields(b *testing.B) {
	fields := make([]graphql.CollectedField, 9)
	out := graphql.NewFieldSet(fields)
	for i := range fields {
		fields[i] = graphql.CollectedField{Field: &ast.Field{Alias: fmt.Sprintf("field%d", i)}}
		out.Values[i] = graphql.MarshalString("value")
	}
	var buf bytes.Buffer
	b.Run("objectFields", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			objectFields(fields, out).MarshalGQL(&buf)
		}
	})
	b.Run("FieldSet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			out.MarshalGQL(&buf)
		}
	})
}
