package graph

import (
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// objectFields returns what an object marshaller answers once it has
// resolved its fields into out: the object, written as
// graphql.FieldSet.MarshalGQL writes it, byte for byte. FieldSet's
// copies each field to the heap as it writes it (it yields a pointer to
// its loop variable) and makes a map of the names written, a flag and an
// iterator per object: on a page of 50 contacts, a tenth of the
// allocations. internal/trimexec makes every object marshaller of
// generated.go return through it.
func objectFields(fields []graphql.CollectedField, out *graphql.FieldSet) graphql.Marshaler {
	return &object{fields: fields, values: out.Values}
}

type object struct {
	fields []graphql.CollectedField
	values []graphql.Marshaler
}

func (o *object) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, "{")
	first := true
	for i := range o.fields {
		alias := o.fields[i].Alias
		if written(o.fields[:i], alias) {
			continue
		}
		if !first {
			_, _ = io.WriteString(w, ",")
		}
		first = false
		// A response name is a GraphQL Name ([_A-Za-z][_0-9A-Za-z]*,
		// which the parser enforces): nothing in it needs escaping.
		_, _ = io.WriteString(w, `"`)
		_, _ = io.WriteString(w, alias)
		_, _ = io.WriteString(w, `":`)
		o.values[i].MarshalGQL(w)
	}
	_, _ = io.WriteString(w, "}")
}

// written reports whether a field before has the response name alias:
// FieldSet writes a name once. CollectFields merges the fields of one
// name, and validation refuses one name for two fields, so this never
// holds in a valid operation; it costs a comparison of lengths per pair.
func written(before []graphql.CollectedField, alias string) bool {
	for i := range before {
		if before[i].Alias == alias {
			return true
		}
	}
	return false
}
