package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// resolver is a field resolver as gqlgen writes it.
func resolver(name, value, typ, marshal string, middleware string, nonNull bool) string {
	return fmt.Sprintf(`
func (ec *executionContext) %s(ctx context.Context, field graphql.CollectedField, obj *ent.Trigger) (ret graphql.Marshaler) {
	return graphql.ResolveField(
		ctx,
		ec.OperationContext,
		field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext%s(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return %s, nil
		},
		%s,
		func(ctx context.Context, selections ast.SelectionSet, v %s) graphql.Marshaler {
			return ec.%s(ctx, selections, v)
		},
		true,
		%v,
	)
}
`, name, name, value, middleware, typ, marshal, nonNull)
}

const marshallers = `
func (ec *executionContext) marshalNString2string(ctx context.Context, sel ast.SelectionSet, v string) graphql.Marshaler {
	_ = sel
	res := graphql.MarshalString(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "String!")
	}
	return res
}

func (ec *executionContext) marshalNTime2timeᚐTime(ctx context.Context, sel ast.SelectionSet, v time.Time) graphql.Marshaler {
	_ = sel
	res := graphql.MarshalTime(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "Time!")
	}
	return res
}

func (ec *executionContext) marshalOTime2ᚖtimeᚐTime(ctx context.Context, sel ast.SelectionSet, v *time.Time) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	_ = sel
	_ = ctx
	res := graphql.MarshalTime(*v)
	return res
}

func (ec *executionContext) marshalNBoolean2bool(ctx context.Context, sel ast.SelectionSet, v bool) graphql.Marshaler {
	_ = sel
	res := graphql.MarshalBoolean(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "Boolean!")
	}
	return res
}

func (ec *executionContext) marshalNCursor2Cursor(ctx context.Context, sel ast.SelectionSet, v entgql.Cursor[pulid.ID]) graphql.Marshaler {
	_ = sel
	res := scalar.MarshalCursor(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "Cursor!")
	}
	return res
}

func (ec *executionContext) marshalOID2ᚖID(ctx context.Context, sel ast.SelectionSet, v *pulid.ID) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	return v
}

func (ec *executionContext) marshalNStatus2status(ctx context.Context, sel ast.SelectionSet, v status.Status) graphql.Marshaler {
	return v
}

func (ec *executionContext) marshalNFloat2float64(ctx context.Context, sel ast.SelectionSet, v float64) graphql.Marshaler {
	_ = sel
	res := graphql.MarshalFloatContext(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "Float!")
	}
	return graphql.WrapContextMarshaler(ctx, res)
}

func (ec *executionContext) marshalNRun2ᚖRun(ctx context.Context, sel ast.SelectionSet, v *ent.Run) graphql.Marshaler {
	if v == nil {
		graphql.AddInvalidNullError(ctx, "Run!")
		return graphql.Null
	}
	return ec._Run(ctx, sel, v)
}
`

// nilCheckedMarshaller is the marshaller gqlgen writes for a non-null scalar whose
// Go type can be nil (a slice, a map), marshalled by marshal.
func nilCheckedMarshaller(name, typ, marshal string) string {
	return fmt.Sprintf(`
func (ec *executionContext) %s(ctx context.Context, sel ast.SelectionSet, v %s) graphql.Marshaler {
	if v == nil {
		graphql.AddInvalidNullError(ctx, "Map!")
		return graphql.Null
	}
	_ = sel
	res := %s(v)
	if res == graphql.Null {
		graphql.AddInvalidNullFromMarshaler(ctx, "Map!")
	}
	return res
}
`, name, typ, marshal)
}

// object is an object marshaller as gqlgen writes it (shortened).
const objectSrc = `
func (ec *executionContext) _T(ctx context.Context, sel ast.SelectionSet, obj *ent.Trigger) graphql.Marshaler {
	fields := graphql.CollectFields(ec.OperationContext, sel, tImplementors)

	out := graphql.NewFieldSet(fields)
	deferred := graphql.NewDeferredGroup(ctx)
	for i, field := range fields {
		switch field.Name {
		case "name":
			out.Values[i] = ec._T_name(ctx, field, obj)
		case "lastRun", "latest":
			out.ResolveConcurrently(ec.OperationContext, &deferred, i, true, true, nil)
		case "integration":
			out.ResolveConcurrently(ec.OperationContext, &deferred, i, true, false, nil)
		}
	}
	return out
}

func (ec *executionContext) marshalNT2ᚕᚖT(ctx context.Context, sel ast.SelectionSet, v []*ent.Trigger) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		fc := graphql.GetFieldContext(ctx)
		fc.Result = &v[i]
		return ec.marshalNT2ᚖT(ctx, sel, v[i])
	})
	return ret
}

func (ec *executionContext) marshalNT2ᚖT(ctx context.Context, sel ast.SelectionSet, v *ent.Trigger) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	return ec._T(ctx, sel, v)
}

func (ec *executionContext) marshalNNode2ᚕNoder(ctx context.Context, sel ast.SelectionSet, v []ent.Noder) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Node(ctx, sel, v[i])
	})
	return ret
}
`

func TestRewrite(t *testing.T) {
	src := "package graph\n" + marshallers + objectSrc +
		nilCheckedMarshaller("marshalNMap2JSONObject", "schematype.JSONObject", "scalar.MarshalObject") +
		nilCheckedMarshaller("marshalNMap2map", "map[string]any", "scalar.MarshalMap") +
		resolver("_T_name", "obj.Name", "string", "marshalNString2string", "nil", true) +
		resolver("_T_status", "obj.Status", "status.Status", "marshalNStatus2status", "nil", true) +
		resolver("_T_createdAt", "obj.CreatedAt", "time.Time", "marshalNTime2timeᚐTime", "nil", true) +
		resolver("_T_lastSyncAt", "obj.LastSyncAt", "*time.Time", "marshalOTime2ᚖtimeᚐTime", "nil", false) +
		resolver("_T_attributes", "obj.Attributes", "schematype.JSONObject", "marshalNMap2JSONObject", "nil", true) +
		resolver("_T_cursor", "obj.Cursor", "entgql.Cursor[pulid.ID]", "marshalNCursor2Cursor", "nil", true) +
		// Rewritten, but not by reference: a boolean (gqlgen's marshaller
		// answers one of two values, without allocating) and a pointer
		// that is its own marshaller.
		resolver("_T_enabled", "obj.Enabled", "bool", "marshalNBoolean2bool", "nil", true) +
		resolver("_T_runID", "obj.RunID", "*pulid.ID", "marshalOID2ᚖID", "nil", false) +
		// Not rewritten: a map written by a marshaller not known never to
		// answer null.
		resolver("_T_params", "obj.Params", "map[string]any", "marshalNMap2map", "nil", true) +
		// Not rewritten: a float (its marshaller may fail), an object, a
		// field with middleware, a resolver that is not a struct field.
		resolver("_T_score", "obj.Score", "float64", "marshalNFloat2float64", "nil", true) +
		resolver("_T_run", "obj.Run", "*ent.Run", "marshalNRun2ᚖRun", "nil", true) +
		resolver("_T_secret", "obj.Secret", "string", "marshalNString2string", "func(ctx context.Context, next graphql.Resolver) graphql.Resolver { return next }", true) +
		resolver("_T_label", "ec.resolvers.Trigger().Label(ctx, obj)", "string", "marshalNString2string", "nil", true)
	for _, bad := range [][]string{{"T.nothing"}, {"T.lastRun"}, {"T.name"}, {"integration"}} {
		if _, _, err := rewrite([]byte(src), bad); err == nil {
			t.Errorf("-inplace %v: no error", bad)
		}
	}
	out, n, err := rewrite([]byte(src), []string{"T.integration", "T.integration"})
	if err != nil {
		t.Fatal(err)
	}
	if n.fields != 8 || n.inPlace != 1 || n.groups != 1 || n.lists != 2 || n.objects != 1 {
		t.Errorf("%+v rewritten, want 8 fields, 1 in place, 1 group, 2 lists and 1 object", n)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "out.go", out, 0); err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	got := string(out)
	body := func(name string) string {
		i := strings.Index(got, ") "+name+"(")
		if i < 0 {
			t.Fatalf("%s is gone", name)
		}
		j := strings.Index(got[i:], "\n}\n")
		return got[i : i+j]
	}
	// Leaves are written from where they live in obj (graph/leaf.go).
	for name, want := range map[string]string{
		"_T_name":       "return (*leafString)(&obj.Name)",
		"_T_status":     "return &obj.Status",
		"_T_lastSyncAt": "return timeOrNull(obj.LastSyncAt)",
		"_T_cursor":     "return (*leafCursor)(&obj.Cursor)",
		"_T_enabled":    "return ec.marshalNBoolean2bool(ctx, field.Selections, obj.Enabled)",
		"_T_runID":      "return ec.marshalOID2ᚖID(ctx, field.Selections, obj.RunID)",
	} {
		if b := body(name); !strings.Contains(b, want) || strings.Contains(b, "ResolveField") {
			t.Errorf("%s:\n%s\nwant it to %s", name, b, want)
		}
	}
	// A zero time is null, an error on the field's path: ResolveField
	// still answers it.
	if b := body("_T_createdAt"); !strings.Contains(b, "if !obj.CreatedAt.IsZero() {\n\t\treturn (*leafTime)(&obj.CreatedAt)\n\t}") ||
		!strings.Contains(b, "return graphql.ResolveField(") {
		t.Errorf("_T_createdAt:\n%s", b)
	}
	// So is a nil object.
	if b := body("_T_attributes"); !strings.Contains(b, "if obj.Attributes != nil {\n\t\treturn (*leafObject)(&obj.Attributes)\n\t}") ||
		!strings.Contains(b, "return graphql.ResolveField(") {
		t.Errorf("_T_attributes:\n%s", b)
	}
	for _, name := range []string{"_T_score", "_T_run", "_T_secret", "_T_label", "_T_params"} {
		if b := body(name); !strings.Contains(b, "return graphql.ResolveField(") {
			t.Errorf("%s was rewritten:\n%s", name, b)
		}
	}
	if b := body("_T"); !strings.Contains(b, "\tdeferred := deferredGroup(ctx, fields)\n") || strings.Contains(b, "NewDeferredGroup") ||
		!strings.Contains(b, "resolveInPlace(ctx, field, out, ec.OperationContext, &deferred, i, true, false, nil)") ||
		strings.Count(b, "out.ResolveConcurrently(") != 1 || !strings.HasSuffix(b, "\treturn objectFields(fields, out)") {
		t.Errorf("_T:\n%s", b)
	}
	// Lists name their element's object type, or none (an interface);
	// the table lists each object's concurrent fields.
	if b := body("marshalNT2ᚕᚖT"); !strings.Contains(b, `ret := marshalList(ctx, ec.OperationContext, sel, "T", len(v), 0, false, func(`) {
		t.Errorf("marshalNT2ᚕᚖT:\n%s", b)
	}
	if b := body("marshalNNode2ᚕNoder"); !strings.Contains(b, `ret := marshalList(ctx, ec.OperationContext, sel, "", len(v), 0, false, func(`) {
		t.Errorf("marshalNNode2ᚕNoder:\n%s", b)
	}
	if !strings.Contains(got, "func init() {\n\tlistObjects = map[string]listObject{\n\t\t\"T\": {implementors: tImplementors, concurrent: []string{\"lastRun\", \"latest\"}},\n\t}\n}\n") {
		t.Errorf("the table of objects:\n%s", got[strings.LastIndex(got, "func init"):])
	}
	// Rewriting again changes nothing.
	again, n, err := rewrite(out, []string{"T.integration"})
	if err != nil || n != (counts{}) || string(again) != got {
		t.Errorf("a second rewrite: %+v, %v", n, err)
	}
}
