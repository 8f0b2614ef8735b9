package graph

import (
	"slices"
	"testing"

	"github.com/intake/intake/schema/schematype"
)

// TestEnumsMatchSchema checks that each GraphQL enum bound to a schematype
// type (gqlgen.yml) has exactly the Go type's values. ent.graphqls is
// generated from them, but SearchFieldType, Role and AuditActorKind are
// written by hand in the .graphqls files, and gqlgen does not compare.
func TestEnumsMatchSchema(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for name, values := range map[string][]string{
		"ProviderKey":       schematype.ProviderKey("").Values(),
		"ReferenceKind":     schematype.ReferenceKind("").Values(),
		"CallOutcome":       schematype.CallOutcome("").Values(),
		"ImportIssueCode":   schematype.ImportIssueCode("").Values(),
		"SearchFieldType":   schematype.SearchFieldType("").Values(),
		"Role":              schematype.Role("").Values(),
		"AuditActorKind":    schematype.AuditActorKind("").Values(),
		"ScreeningState":    schematype.ScreeningState("").Values(),
		"ScreeningDecision": schematype.ScreeningDecision("").Values(),
		"DoNotCallSource":   schematype.DoNotCallSource("").Values(),
		"NumberType":        schematype.NumberType("").Values(),
		"Weekday":           schematype.Weekday("").Values(),
	} {
		def := schema.Types[name]
		if def == nil {
			t.Errorf("the schema has no type %s", name)
			continue
		}
		var got []string
		for _, v := range def.EnumValues {
			got = append(got, v.Name)
		}
		if !slices.Equal(got, values) {
			t.Errorf("GraphQL %s has %q, the Go type %q", name, got, values)
		}
	}
}
