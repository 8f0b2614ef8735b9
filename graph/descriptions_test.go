package graph

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestDescriptions checks that the schema, which is the API reference, is
// complete: every type, field, argument and enum value of graph/*.graphqls
// has a description, generated ent.graphqls included (ent/entc.go fills in
// what entgql leaves out). The gqlgen directives (@goField, @goModel) are
// not checked: they only steer code generation.
func TestDescriptions(t *testing.T) {
	files, err := filepath.Glob("*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .graphqls files: %v", err)
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	schema, gerr := gqlparser.LoadSchema(sources...)
	if gerr != nil {
		t.Fatalf("loading the schema: %v", gerr)
	}

	var missing []string
	check := func(description, what string) {
		if strings.TrimSpace(description) == "" {
			missing = append(missing, what)
		}
	}
	for _, def := range schema.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") {
			continue
		}
		check(def.Description, def.Name)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue // introspection
			}
			check(f.Description, def.Name+"."+f.Name)
			for _, a := range f.Arguments {
				check(a.Description, def.Name+"."+f.Name+"("+a.Name+")")
			}
		}
		for _, v := range def.EnumValues {
			check(v.Description, def.Name+"."+v.Name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d without a description (ent types: .Comment on the field or edge, schema.Comment on the type, schema.EnumDoc on an enum field; see ent/entc.go):\n\t%s",
			len(missing), strings.Join(missing, "\n\t"))
	}
}
