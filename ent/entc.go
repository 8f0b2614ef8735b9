//go:build ignore

// entc.go generates the ent client from ../schema and the GraphQL schema of
// the ent types (../graph/ent.graphqls). Run through `go generate ./...`.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("../graph/ent.graphqls"),
		entgql.WithConfigPath("../gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithSchemaHook(describe),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	cfg := &gen.Config{
		Target:  ".",
		Package: "github.com/intake/intake/ent",
		Features: []gen.Feature{
			gen.FeatureIntercept,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
			gen.FeatureVersionedMigration,
		},
		Templates: append(entgql.AllTemplates, gen.MustParse(gen.NewTemplate("idprefix").ParseFiles("template/idprefix.tmpl"))),
	}
	if err := entc.Generate("../schema", cfg, entc.Extensions(ex)); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
	if err := unionAliasedEdges("gql_collection.go"); err != nil {
		log.Fatalf("gql_collection.go: %v", err)
	}
	if err := pointIntoHolders("."); err != nil {
		log.Fatalf("assignValues: %v", err)
	}
}

// nullableCopy is how an entity's assignValues sets a nullable field from
// the value scanned for it: a new variable, and the value copied into it.
var nullableCopy = regexp.MustCompile(`(_m\.\w+) = new\((string|int64|time\.Time)\)\n\t+\*(_m\.\w+) = value\.(String|Int64|Time)\n`)

// holderField is the field of the scan holder (sql.NullString,
// sql.NullInt64, sql.NullTime) that holds a value of each type.
var holderField = map[string]string{"string": "String", "int64": "Int64", "time.Time": "Time"}

// pointIntoHolders makes every entity's assignValues point a nullable
// field (a contact's first name, a run's finish time) at the value in its
// scan holder instead of copying it into a new variable: an allocation
// per field per row (a page of 50 contacts has 150 such fields). The
// holders are made by scanValues for one row and read by nothing else,
// so the entity owns them from then on.
func pointIntoHolders(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	n := 0
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, []byte(") assignValues(")) {
			continue
		}
		out := nullableCopy.ReplaceAllFunc(src, func(m []byte) []byte {
			sub := nullableCopy.FindSubmatch(m)
			field, typ, again, holder := sub[1], sub[2], sub[3], sub[4]
			if !bytes.Equal(field, again) || holderField[string(typ)] != string(holder) {
				return m
			}
			n++
			return []byte(fmt.Sprintf("%s = &value.%s\n", field, holder))
		})
		if !bytes.Equal(out, src) {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("no nullable field copied out of its holder: ent's assignValues changed")
	}
	return nil
}

// toOneEdge is how entgql's collectField eager-loads a to-one edge (a
// contact's campaign): it collects the field's selection into a new query
// of the edge's type and stores it in the one slot the edge has.
var toOneEdge = regexp.MustCompile(`query = \(&(\w+)Client\{config: _q\.config\}\)\.Query\(\)\n\t+\)\n` +
	`\t+if err := query\.collectField\([^\n]*\n[^\n]*\n\t+}\n(\t+)_q\.with(\w+) = query\n`)

// unionAliasedEdges fixes collectField for a to-one edge selected twice
// under different aliases with different fields (a: campaign { name }
// b: campaign { id }): the second selection's query replaced the first's,
// and the first alias answered from the columns the second selected (an
// empty name). The edge asked for again is loaded with every column, and
// whatever is below it is loaded when asked for.
func unionAliasedEdges(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := 0
	out := toOneEdge.ReplaceAllFunc(src, func(m []byte) []byte {
		n++
		sub := toOneEdge.FindSubmatch(m)
		client, indent, edge := sub[1], sub[2], sub[3]
		guard := fmt.Sprintf("%sif _q.with%s != nil { // the edge again, under another alias\n%s\tquery = (&%sClient{config: _q.config}).Query()\n%s}\n",
			indent, edge, indent, client, indent)
		at := len(m) - len(indent) - len("_q.with") - len(edge) - len(" = query\n")
		return append(append(m[:at:at], guard...), m[at:]...)
	})
	if n == 0 {
		return fmt.Errorf("no to-one edge found to fix: entgql's collectField changed")
	}
	if out, err = format.Source(out); err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// describe completes the API reference in ent.graphqls. entgql describes
// fields and edges from their Comment (but not edges that are connections)
// and little else; describe adds the descriptions of the types (their
// schema.Comment), of the enums and their values (the schema.EnumDoc of the
// enum field), of the fields every type has (id, createdAt, updatedAt), of
// Query, of the order fields and of the where inputs.
func describe(g *gen.Graph, s *ast.Schema) error {
	camel := gen.Funcs["camel"].(func(string) string)
	if q := s.Types["Query"]; q != nil && q.Description == "" {
		q.Description = "Reads. Everything a query returns belongs to the API key's organization; another organization's IDs answer NOT_FOUND."
	}
	for _, n := range g.Nodes {
		def := s.Types[n.Name]
		if def == nil {
			continue // not exposed
		}
		noun := words(n.Name)
		if c, ok := n.Annotations["Comment"]; ok {
			var ant struct{ Text string }
			if err := decode(c, &ant); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			def.Description = ant.Text
		}
		var prefix struct{ Prefix string }
		if err := decode(n.Annotations["IDPrefix"], &prefix); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		for _, f := range def.Fields {
			if f.Description != "" {
				continue
			}
			switch f.Name {
			case "id":
				f.Description = fmt.Sprintf("The %s's globally unique ID, e.g. %q: its type's prefix and a ULID. IDs sort by creation time; node(id:) resolves them.", noun, prefix.Prefix+"_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5")
			case "createdAt":
				f.Description = fmt.Sprintf("When the %s was created.", noun)
			case "updatedAt":
				f.Description = fmt.Sprintf("When the %s last changed.", noun)
			}
		}
		for _, e := range n.Edges {
			if f := def.Fields.ForName(camel(e.Name)); f != nil && f.Description == "" {
				f.Description = e.Comment()
			}
		}
		for _, f := range n.Fields {
			if err := describeEnum(s, n.Name, f); err != nil {
				return err
			}
		}
		if def := s.Types[n.Name+"OrderField"]; def != nil {
			for _, v := range def.EnumValues {
				for _, f := range append([]*gen.Field{n.ID}, n.Fields...) {
					var ant entgql.Annotation
					if err := decode(f.Annotations[ant.Name()], &ant); err != nil {
						return fmt.Errorf("%s.%s: %w", n.Name, f.Name, err)
					}
					if ant.OrderField == v.Name {
						v.Description = fmt.Sprintf("Orders by %s.", camel(f.Name))
					}
				}
			}
		}
		if def := s.Types[n.Name+"WhereInput"]; def != nil {
			bases := []string{"id"}
			for _, f := range n.Fields {
				bases = append(bases, camel(f.Name))
			}
			describeWhere(def, n, noun, bases, camel)
		}
	}
	return nil
}

// describeEnum describes the GraphQL enum of an enum field of node from
// the field's schema.EnumDoc.
func describeEnum(s *ast.Schema, node string, f *gen.Field) error {
	raw, ok := f.Annotations["EnumDoc"]
	if !ok || !f.IsEnum() {
		return nil
	}
	var doc struct {
		Description string
		Values      map[string]string
	}
	if err := decode(raw, &doc); err != nil {
		return fmt.Errorf("%s.%s: %w", node, f.Name, err)
	}
	// The enum's name as entgql gives it.
	var ant entgql.Annotation
	if err := decode(f.Annotations[ant.Name()], &ant); err != nil {
		return fmt.Errorf("%s.%s: %w", node, f.Name, err)
	}
	name := ant.Type
	if name == "" {
		t := f.Type.String()
		name = node + t[strings.LastIndexByte(t, '.')+1:]
	}
	def := s.Types[name]
	if def == nil || def.Kind != ast.Enum {
		return fmt.Errorf("%s.%s: no GraphQL enum %s to describe", node, f.Name, name)
	}
	def.Description = doc.Description
	for v, text := range doc.Values {
		ev := def.EnumValues.ForName(v)
		if ev == nil {
			return fmt.Errorf("%s.%s: the EnumDoc describes %s, which enum %s does not have", node, f.Name, v, name)
		}
		ev.Description = text
	}
	return nil
}

// whereOps describe the predicates of a where input by their suffix; %s is
// the field. The comparisons are described by the type of the field.
var whereOps = map[string]string{
	"":             "%s equals the value.",
	"NEQ":          "%s differs from the value.",
	"In":           "%s is one of the values.",
	"NotIn":        "%s is none of the values.",
	"Contains":     "%s contains the value.",
	"HasPrefix":    "%s starts with the value.",
	"HasSuffix":    "%s ends with the value.",
	"EqualFold":    "%s equals the value, ignoring case.",
	"ContainsFold": "%s contains the value, ignoring case.",
	"IsNil":        "true: %s is null (false does not filter).",
	"NotNil":       "true: %s is not null (false does not filter).",
}

// whereComparisons describe the comparison predicates by the GraphQL type
// of the field; "" is any other type (strings, IDs).
var whereComparisons = map[string]map[string]string{
	"Time": {
		"GT": "%s is later than the value.", "GTE": "%s is the value or later.",
		"LT": "%s is earlier than the value.", "LTE": "%s is the value or earlier.",
	},
	"Int": {
		"GT": "%s is greater than the value.", "GTE": "%s is the value or greater.",
		"LT": "%s is less than the value.", "LTE": "%s is the value or less.",
	},
	"": {
		"GT": "%s sorts after the value.", "GTE": "%s is the value or sorts after it.",
		"LT": "%s sorts before the value.", "LTE": "%s is the value or sorts before it.",
	},
}

// describeWhere replaces entgql's descriptions of a where input with what
// each of its predicates does. bases are the GraphQL names of the node's
// fields.
func describeWhere(def *ast.Definition, n *gen.Type, noun string, bases []string, camel func(string) string) {
	def.Description = fmt.Sprintf("Filters %ss: one matches when every predicate given holds. Absent and null predicates, and empty lists, do not filter; comparisons never match a null value.", noun)
	edges := map[string]string{}
	for _, e := range n.Edges {
		name := camel(e.Name)
		if e.Unique {
			edges[camel("has_"+e.Name)] = fmt.Sprintf("true: matches when %s is set; false: when it is not.", name)
			edges[camel("has_"+e.Name+"_with")] = fmt.Sprintf("Matches when %s matches every given filter.", name)
		} else {
			edges[camel("has_"+e.Name)] = fmt.Sprintf("true: matches when %s has at least one item; false: when it has none.", name)
			edges[camel("has_"+e.Name+"_with")] = fmt.Sprintf("Matches when %s has an item that matches every given filter.", name)
		}
	}
	// Longest first, so that a field's name is not taken for the suffix of
	// another's.
	slices.SortFunc(bases, func(a, b string) int { return len(b) - len(a) })
	for _, f := range def.Fields {
		switch f.Name {
		case "not":
			f.Description = fmt.Sprintf("Matches the %ss the given filter does not match.", noun)
			continue
		case "and":
			f.Description = fmt.Sprintf("Matches the %ss every given filter matches.", noun)
			continue
		case "or":
			f.Description = fmt.Sprintf("Matches the %ss at least one given filter matches.", noun)
			continue
		}
		if d, ok := edges[f.Name]; ok {
			f.Description = d
			continue
		}
		f.Description = ""
		for _, b := range bases {
			if op, ok := strings.CutPrefix(f.Name, b); ok {
				if f.Description = predicate(op, b, f.Type.Name()); f.Description != "" {
					break
				}
			}
		}
	}
}

// predicate describes predicate op of field, whose GraphQL type is typ;
// "" when op is no known predicate.
func predicate(op, field, typ string) string {
	text, ok := whereOps[op]
	if !ok {
		cmp, ok := whereComparisons[typ]
		if !ok {
			cmp = whereComparisons[""]
		}
		text = cmp[op]
	}
	if text == "" {
		return ""
	}
	return fmt.Sprintf(text, field)
}

// words spells a type's name as words: "SyncRun" is "sync run".
func words(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// decode reads an annotation as ent passes it to the generator (decoded
// JSON) into v; nothing is nothing.
func decode(annotation any, v any) error {
	if annotation == nil {
		return nil
	}
	b, err := json.Marshal(annotation)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
