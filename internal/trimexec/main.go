// Command trimexec trims what gqlgen's generated executor does for every
// field and object but that an answer of Intake's does not need. It runs
// after gqlgen (go:generate in graph/) and rewrites generated.go in place.
//
// Leaf fields read straight from a struct field are marshalled directly.
// gqlgen resolves every field through graphql.ResolveField: a field
// context, a context value, a middleware chain, a panic guard and three
// closures, even for a field whose resolver is `return obj.Name, nil`. A
// page of 20 triggers with their runs has hundreds of such fields, and
// that machinery was about a third of the allocations of a read. A field
// is rewritten when all of these hold, so that the output is the same as
// ResolveField's:
//   - its resolver returns a field of obj and nil, with no directives or
//     middleware of its own;
//   - its marshaller cannot fail or add an error: it returns the value
//     itself (IDs, enums), or it wraps one of graphql.MarshalString,
//     MarshalInt, MarshalInt64, MarshalBoolean or scalar.MarshalCursor,
//     which never return null; graphql.MarshalTime returns null for the
//     zero time, so a non-null time field takes the direct path only when
//     its value is not zero, and ResolveField (which reports the error on
//     the field's path) otherwise; likewise a non-null field whose Go
//     value is a slice (a contact's attributes, a schematype.JSONObject
//     written by scalar.MarshalObject) takes it only when the value is
//     not nil; a nullable field's marshaller reports no error for a null.
//
// Such a field whose value is a string, an int, a time, a cursor or a
// JSON object, or its own marshaller (an ID, an enum), answers a pointer
// into obj converted to a leaf marshaller of graph/leaf.go (byReference):
// gqlgen's return a closure holding a copy of the value, which is an
// allocation per field, and a time's text and a cursor's encoding more.
//
// Server-wide field middleware (handler.AroundFields) does not see the
// rewritten fields; Intake installs none.
//
// Objects make their @defer group only when one of their fields is
// deferred: graphql.NewDeferredGroup computes the object's path and makes
// a field set and a map for every object of an answer, deferred or not.
// The rewritten objects call deferredGroup (graph/deferred.go) instead.
//
// Lists of objects are marshalled one element after another when nothing
// below them can wait: graphql.MarshalSliceConcurrently starts a goroutine
// per element, whose stack then grows through the executor's deep calls
// (12% of the CPU of a page of 50 contacts). The rewritten list
// marshallers call marshalList (graph/lists.go) with the element's type;
// it runs them in order when the selection below holds no field the
// executor resolves concurrently (a resolver, a method taking a context),
// and as before otherwise. trimexec appends the table it reads: each
// object type's implementors and concurrent fields.
//
// Fields named by -inplace (Type.field, comma-separated) are resolved in
// place: where gqlgen schedules a resolver field to run concurrently with
// its siblings, which costs a goroutine per object once two are selected,
// the rewritten object marshaller calls resolveInPlace (graph/inplace.go),
// which runs it on the object's own goroutine unless it is deferred. The
// fields named are those whose resolvers never wait for a sibling's: they
// read what is loaded already, or their batcher loads the whole list at
// the first call. They no longer count as concurrent for marshalList, so
// a list of objects selecting them is marshalled in order. A name that
// matches no field is an error, so the list stays true to the schema.
//
// Objects are written without graphql.FieldSet's MarshalGQL, which
// copies each field to the heap and makes a map of the names written
// per object: every object marshaller that answers its FieldSet returns
// objectFields(fields, out) (graph/object.go) instead, which writes the
// same bytes.
//
// Usage: go run ../internal/trimexec [-inplace Type.field,...] generated.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	inPlace := flag.String("inplace", "", "fields to resolve in place, as Type.field, comma-separated")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: trimexec [-inplace Type.field,...] generated.go")
		os.Exit(2)
	}
	path := flag.Arg(0)
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var names []string
	if *inPlace != "" {
		names = strings.Split(*inPlace, ",")
	}
	out, n, err := rewrite(src, names)
	if err != nil {
		fmt.Fprintf(os.Stderr, "trimexec: %s: %v\n", path, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("trimexec: %s: %d fields marshalled directly, %d resolved in place, %d objects' @defer groups made when needed, %d lists marshalled in order when nothing waits, %d objects written by objectFields\n",
		path, n.fields, n.inPlace, n.groups, n.lists, n.objects)
}

// safety is how a marshaller's output may be trusted.
type safety int

const (
	unsafe   safety = iota
	safe            // never null, never an error
	nonZero         // safe unless the value is the zero time
	nonNil          // safe unless the value is nil
	nullable        // a null is the field's answer, without error
)

// neverNull are the marshal functions that always write a value.
var neverNull = []string{"graphql.MarshalString", "graphql.MarshalInt", "graphql.MarshalInt64", "graphql.MarshalBoolean", "scalar.MarshalCursor", "scalar.MarshalObject"}

var (
	// The marshaller bodies gqlgen writes for leaf types, printed on one
	// line each statement (see body).
	returnSelf     = regexp.MustCompile(`^return v$`)
	returnSelfOpt  = regexp.MustCompile(`^if v == nil { return graphql.Null }; return v$`)
	nonNullWrapped = regexp.MustCompile(`^_ = sel; res := ([\w.]+)\(v\); if res == graphql.Null { graphql.AddInvalidNullFromMarshaler\(ctx, "\w+!"\) }; return res$`)
	optWrapped     = regexp.MustCompile(`^if v == nil { return graphql.Null }; _ = sel; _ = ctx; res := ([\w.]+)\(\*v\); return res$`)
	// A non-null value whose Go type can be nil (a slice).
	nilChecked = regexp.MustCompile(`^if v == nil { graphql.AddInvalidNullError\(ctx, "\w+!"\) return graphql.Null }; _ = sel; res := ([\w.]+)\(v\); if res == graphql.Null { graphql.AddInvalidNullFromMarshaler\(ctx, "\w+!"\) }; return res$`)
)

// byReference are the leaf marshallers of graph/leaf.go, which write a
// field from where it lives in its object instead of from a copy held by
// a closure, keyed by the function gqlgen's marshaller wraps and the Go
// type the marshaller takes; %s is the field (obj.Name). A value that is
// its own marshaller (an ID, an enum) is answered as a pointer to it.
var byReference = map[string]string{
	"graphql.MarshalString string":                  "(*leafString)(&%s)",
	"graphql.MarshalString *string":                 "stringOrNull(%s)",
	"graphql.MarshalInt int":                        "(*leafInt)(&%s)",
	"graphql.MarshalInt *int":                       "intOrNull(%s)",
	"graphql.MarshalTime time.Time":                 "(*leafTime)(&%s)",
	"graphql.MarshalTime *time.Time":                "timeOrNull(%s)",
	"scalar.MarshalObject schematype.JSONObject":    "(*leafObject)(&%s)",
	"scalar.MarshalCursor entgql.Cursor[pulid.ID]":  "(*leafCursor)(&%s)",
	"scalar.MarshalCursor *entgql.Cursor[pulid.ID]": "cursorOrNull(%s)",
}

// classify says how far the marshaller fn can be trusted, and how a field
// it marshals is written from where it lives in its object (a format of
// the field, as in byReference), or "" to call fn.
func classify(fset *token.FileSet, fn *ast.FuncDecl) (safety, string) {
	params := fn.Type.Params.List
	if len(params) == 0 {
		return unsafe, ""
	}
	typ := params[len(params)-1].Type
	b := body(fset, fn.Body)
	switch {
	case returnSelf.MatchString(b):
		switch typ.(type) {
		case *ast.Ident, *ast.SelectorExpr: // a named type; not a pointer already
			return safe, "&%s"
		}
		return safe, ""
	case returnSelfOpt.MatchString(b):
		return safe, ""
	}
	s, wrapped := unsafe, ""
	if m := nonNullWrapped.FindStringSubmatch(b); m != nil {
		switch wrapped = m[1]; {
		case slices.Contains(neverNull, wrapped):
			s = safe
		case wrapped == "graphql.MarshalTime":
			s = nonZero
		}
	} else if m := nilChecked.FindStringSubmatch(b); m != nil {
		if wrapped = m[1]; slices.Contains(neverNull, wrapped) {
			s = nonNil
		}
	} else if m := optWrapped.FindStringSubmatch(b); m != nil {
		if wrapped = m[1]; slices.Contains(neverNull, wrapped) || wrapped == "graphql.MarshalTime" {
			s = nullable
		}
	}
	if s == unsafe {
		return unsafe, ""
	}
	var t bytes.Buffer
	_ = printer.Fprint(&t, fset, typ)
	return s, byReference[wrapped+" "+t.String()]
}

// body prints a block's statements on one line each, separated by "; "
// (a nested block's too: "if v == nil { return graphql.Null }").
func body(fset *token.FileSet, b *ast.BlockStmt) string {
	var parts []string
	for _, s := range b.List {
		var buf bytes.Buffer
		_ = printer.Fprint(&buf, fset, s)
		parts = append(parts, strings.Join(strings.Fields(buf.String()), " "))
	}
	return strings.Join(parts, "; ")
}

// field is one rewritable field resolver.
type field struct {
	fn      *ast.FuncDecl
	value   string // obj.Name
	marshal string // the marshaller's name
	ref     string // how it is written by reference (see classify), or ""
	// guard, if set, is the condition (a format of the value) under
	// which the direct path is taken; ResolveField answers otherwise.
	guard string
}

// counts are what rewrite changed.
type counts struct{ fields, inPlace, groups, lists, objects int }

// newGroup is the statement every object marshaller of gqlgen's starts
// with, after collecting its fields; lazyGroup replaces it.
const (
	newGroup  = "deferred := graphql.NewDeferredGroup(ctx)"
	lazyGroup = "deferred := deferredGroup(ctx, fields)"
)

// rewrite returns src with every rewritable field marshalled directly, the
// inPlace fields resolved in place, every object's @defer group made only
// when needed and every list marshalled by marshalList, and how many were.
func rewrite(src []byte, inPlace []string) ([]byte, counts, error) {
	out, n, err := rewriteFields(src)
	if err != nil {
		return nil, counts{}, err
	}
	out, placed, err := rewriteInPlace(out, inPlace)
	if err != nil {
		return nil, counts{}, err
	}
	groups := bytes.Count(out, []byte(newGroup))
	out = bytes.ReplaceAll(out, []byte(newGroup), []byte(lazyGroup))
	out, lists, err := rewriteLists(out)
	if err != nil {
		return nil, counts{}, err
	}
	out, objs, err := rewriteObjectReturns(out)
	if err != nil {
		return nil, counts{}, err
	}
	return out, counts{fields: n, inPlace: placed, groups: groups, lists: lists, objects: objs}, nil
}

// rewriteObjectReturns makes every object marshaller that answers the
// FieldSet it resolved its fields into (out := graphql.NewFieldSet(fields)
// ... return out) return objectFields(fields, out), and returns how many
// it rewrote.
func rewriteObjectReturns(src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	var at []int // offsets of the return statements
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Body.List) < 2 {
			continue
		}
		last, ok := fn.Body.List[len(fn.Body.List)-1].(*ast.ReturnStmt)
		if !ok || len(last.Results) != 1 || !isIdent(last.Results[0], "out") {
			continue
		}
		if slices.ContainsFunc(fn.Body.List, newFieldSet) {
			at = append(at, fset.Position(last.Pos()).Offset)
		}
	}
	out := slices.Clone(src)
	for i := len(at) - 1; i >= 0; i-- {
		out = slices.Concat(out[:at[i]], []byte(objectReturn), out[at[i]+len(fieldSetReturn):])
	}
	out, err = format.Source(out)
	return out, len(at), err
}

const (
	fieldSetReturn = "return out"
	objectReturn   = "return objectFields(fields, out)"
)

// newFieldSet reports whether s is out := graphql.NewFieldSet(fields).
func newFieldSet(s ast.Stmt) bool {
	a, ok := s.(*ast.AssignStmt)
	if !ok || a.Tok != token.DEFINE || len(a.Lhs) != 1 || len(a.Rhs) != 1 || !isIdent(a.Lhs[0], "out") {
		return false
	}
	c, ok := a.Rhs[0].(*ast.CallExpr)
	return ok && isSelector(c.Fun, "graphql", "NewFieldSet") && len(c.Args) == 1 && isIdent(c.Args[0], "fields")
}

// object is what the list marshalling and -inplace need of an object type.
type object struct {
	implementors string   // the name of its implementors variable
	concurrent   []string // the fields it resolves concurrently
	// stmt is where the statement resolving each field of a case of its
	// own, with one statement, starts (an offset into the source).
	stmt map[string]int
}

// objects reads every object marshaller of f: _X(ctx, sel, obj), which
// collects its fields with xImplementors and resolves some of them with
// ResolveConcurrently.
func objects(fset *token.FileSet, f *ast.File) map[string]object {
	out := map[string]object{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || !strings.HasPrefix(fn.Name.Name, "_") || strings.Contains(fn.Name.Name[1:], "_") || len(fn.Body.List) == 0 {
			continue
		}
		assign, ok := fn.Body.List[0].(*ast.AssignStmt)
		if !ok || len(assign.Rhs) != 1 {
			continue
		}
		call, ok := assign.Rhs[0].(*ast.CallExpr)
		if !ok || !isSelector(call.Fun, "graphql", "CollectFields") || len(call.Args) != 3 {
			continue
		}
		impl, ok := call.Args[2].(*ast.Ident)
		if !ok {
			continue
		}
		o := object{implementors: impl.Name, stmt: map[string]int{}}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			if len(cc.List) == 1 && len(cc.Body) == 1 {
				if lit, ok := cc.List[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					o.stmt[strings.Trim(lit.Value, `"`)] = fset.Position(cc.Body[0].Pos()).Offset
				}
			}
			concurrent := false
			ast.Inspect(cc, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if s, ok := c.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(s.Sel.Name, "Resolve") && strings.HasSuffix(s.Sel.Name, "Concurrently") {
						concurrent = true
					}
				}
				return !concurrent
			})
			if concurrent {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						o.concurrent = append(o.concurrent, strings.Trim(lit.Value, `"`))
					}
				}
			}
			return false
		})
		out[fn.Name.Name[1:]] = o
	}
	return out
}

// elementType is the object type a list element marshaller hands its
// element to (ec._X(ctx, sel, v)), or "" (an interface, say).
func elementType(fn *ast.FuncDecl, objs map[string]object) string {
	typ := ""
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if s, ok := c.Fun.(*ast.SelectorExpr); ok && isIdent(s.X, "ec") && strings.HasPrefix(s.Sel.Name, "_") {
			if _, known := objs[s.Sel.Name[1:]]; known && typ == "" {
				typ = s.Sel.Name[1:]
			}
		}
		return true
	})
	return typ
}

const (
	concurrentList = "graphql.MarshalSliceConcurrently(ctx, len(v), "
	orderedList    = "marshalList(ctx, ec.OperationContext, sel, %q, len(v), "
)

const (
	concurrentField = "out.ResolveConcurrently(ec.OperationContext, &deferred, i,"
	inPlaceField    = "resolveInPlace(ctx, field, out, ec.OperationContext, &deferred, i,"
)

// rewriteInPlace points the ResolveConcurrently call of each named field
// (Type.field) at resolveInPlace, and returns how many it rewrote; a field
// rewritten already is left as it is.
func rewriteInPlace(src []byte, names []string) ([]byte, int, error) {
	if len(names) == 0 {
		return src, 0, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	objs := objects(fset, f)
	var at []int
	for _, n := range names {
		typ, field, ok := strings.Cut(n, ".")
		if !ok || typ == "" || field == "" {
			return nil, 0, fmt.Errorf("-inplace %q: want Type.field", n)
		}
		off, ok := objs[typ].stmt[field]
		switch {
		case !ok:
			return nil, 0, fmt.Errorf("-inplace %s: no such field in a case of its own", n)
		case bytes.HasPrefix(src[off:], []byte(concurrentField)):
			at = append(at, off)
		case !bytes.HasPrefix(src[off:], []byte(inPlaceField)):
			return nil, 0, fmt.Errorf("-inplace %s: not resolved concurrently", n)
		}
	}
	slices.Sort(at)
	at = slices.Compact(at) // a field named twice
	out := slices.Clone(src)
	for i := len(at) - 1; i >= 0; i-- {
		out = slices.Concat(out[:at[i]], []byte(inPlaceField), out[at[i]+len(concurrentField):])
	}
	out, err = format.Source(out)
	return out, len(at), err
}

// rewriteLists points every list marshaller at marshalList with its
// element's type, and appends the table of object types.
func rewriteLists(src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	objs := objects(fset, f)
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil {
			funcs[fn.Name.Name] = fn
		}
	}
	type site struct {
		at  int
		typ string
	}
	var sites []site
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || !isSelector(c.Fun, "graphql", "MarshalSliceConcurrently") || len(c.Args) != 5 {
				return true
			}
			at := fset.Position(c.Pos()).Offset
			if !bytes.HasPrefix(src[at:], []byte(concurrentList)) {
				return true
			}
			// The element marshaller: the callback's last return.
			typ := ""
			if lit, ok := c.Args[4].(*ast.FuncLit); ok && len(lit.Body.List) > 0 {
				if r, ok := lit.Body.List[len(lit.Body.List)-1].(*ast.ReturnStmt); ok && len(r.Results) == 1 {
					if rc, ok := r.Results[0].(*ast.CallExpr); ok {
						if s, ok := rc.Fun.(*ast.SelectorExpr); ok && isIdent(s.X, "ec") && funcs[s.Sel.Name] != nil {
							typ = elementType(funcs[s.Sel.Name], objs)
						}
					}
				}
			}
			sites = append(sites, site{at: at, typ: typ})
			return true
		})
	}
	if len(sites) == 0 {
		return src, 0, nil
	}
	out := slices.Clone(src)
	for i := len(sites) - 1; i >= 0; i-- {
		st := sites[i]
		out = slices.Concat(out[:st.at], []byte(fmt.Sprintf(orderedList, st.typ)), out[st.at+len(concurrentList):])
	}
	var b bytes.Buffer
	b.WriteString("\n// For marshalList: each object type's implementors and the fields it\n// resolves concurrently (internal/trimexec).\nfunc init() {\n\tlistObjects = map[string]listObject{\n")
	for _, name := range slices.Sorted(maps.Keys(objs)) {
		o := objs[name]
		fmt.Fprintf(&b, "\t%q: {implementors: %s", name, o.implementors)
		if len(o.concurrent) > 0 {
			fmt.Fprintf(&b, ", concurrent: []string{")
			for j, c := range o.concurrent {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", c)
			}
			b.WriteString("}")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n}\n")
	out = append(out, b.Bytes()...)
	out, err = format.Source(out)
	return out, len(sites), err
}

// rewriteFields returns src with every rewritable field marshalled
// directly, and how many were.
func rewriteFields(src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	marshallers := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && strings.HasPrefix(fn.Name.Name, "marshal") {
			marshallers[fn.Name.Name] = fn
		}
	}
	var fields []field
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		value, marshal, nonNull, ok := trivialResolver(fn)
		if !ok {
			continue
		}
		m := marshallers[marshal]
		if m == nil {
			return nil, 0, fmt.Errorf("%s: marshaller %s not found", fn.Name.Name, marshal)
		}
		trust, ref := classify(fset, m)
		fd := field{fn: fn, value: value, marshal: marshal, ref: ref}
		switch trust {
		case safe:
			fields = append(fields, fd)
		case nonZero:
			fd.guard = "!%s.IsZero()"
			fields = append(fields, fd)
		case nonNil:
			fd.guard = "%s != nil"
			fields = append(fields, fd)
		case nullable:
			if !nonNull {
				fields = append(fields, fd)
			}
		}
	}
	// Splice from the end, so that earlier offsets stay valid.
	out := slices.Clone(src)
	for i := len(fields) - 1; i >= 0; i-- {
		fd := fields[i]
		open := fset.Position(fd.fn.Body.Lbrace).Offset + 1
		end := fset.Position(fd.fn.Body.Rbrace).Offset
		direct := fmt.Sprintf("return ec.%s(ctx, field.Selections, %s)", fd.marshal, fd.value)
		if fd.ref != "" {
			direct = "return " + fmt.Sprintf(fd.ref, fd.value)
		}
		var b string
		if fd.guard != "" {
			old := string(src[open:end])
			b = fmt.Sprintf("\n\tif %s {\n\t\t%s\n\t}%s", fmt.Sprintf(fd.guard, fd.value), direct, old)
		} else {
			b = "\n\t" + direct + "\n"
		}
		out = slices.Concat(out[:open], []byte(b), out[end:])
	}
	out, err = format.Source(out)
	if err != nil {
		return nil, 0, err
	}
	return out, len(fields), nil
}

// trivialResolver matches the field resolver gqlgen writes for a struct
// field:
//
//	return graphql.ResolveField(ctx, ec.OperationContext, field,
//		func(...) { return ec.fieldContext_T_f(ctx, field) },
//		func(ctx context.Context) (any, error) { return obj.F, nil },
//		nil,
//		func(ctx context.Context, selections ast.SelectionSet, v X) graphql.Marshaler { return ec.M(ctx, selections, v) },
//		true, nonNull)
//
// and returns obj.F, M and nonNull.
func trivialResolver(fn *ast.FuncDecl) (value, marshal string, nonNull, ok bool) {
	if len(fn.Body.List) != 1 {
		return
	}
	ret, isRet := fn.Body.List[0].(*ast.ReturnStmt)
	if !isRet || len(ret.Results) != 1 {
		return
	}
	call, isCall := ret.Results[0].(*ast.CallExpr)
	if !isCall || !isSelector(call.Fun, "graphql", "ResolveField") || len(call.Args) != 9 {
		return
	}
	// The resolver: return obj.F, nil.
	res, isLit := call.Args[4].(*ast.FuncLit)
	if !isLit || len(res.Body.List) != 1 {
		return
	}
	rr, isRet := res.Body.List[0].(*ast.ReturnStmt)
	if !isRet || len(rr.Results) != 2 || !isIdent(rr.Results[1], "nil") {
		return
	}
	sel, isSel := rr.Results[0].(*ast.SelectorExpr)
	if !isSel || !isIdent(sel.X, "obj") {
		return
	}
	// No middleware of its own.
	if !isIdent(call.Args[5], "nil") {
		return
	}
	// The marshaller: return ec.M(ctx, selections, v).
	mar, isLit := call.Args[6].(*ast.FuncLit)
	if !isLit || len(mar.Body.List) != 1 {
		return
	}
	mr, isRet := mar.Body.List[0].(*ast.ReturnStmt)
	if !isRet || len(mr.Results) != 1 {
		return
	}
	mc, isCall := mr.Results[0].(*ast.CallExpr)
	if !isCall || len(mc.Args) != 3 || !isIdent(mc.Args[0], "ctx") || !isIdent(mc.Args[1], "selections") || !isIdent(mc.Args[2], "v") {
		return
	}
	ms, isSel := mc.Fun.(*ast.SelectorExpr)
	if !isSel || !isIdent(ms.X, "ec") {
		return
	}
	nn, isID := call.Args[8].(*ast.Ident)
	if !isID || (nn.Name != "true" && nn.Name != "false") {
		return
	}
	return "obj." + sel.Sel.Name, ms.Sel.Name, nn.Name == "true", true
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func isSelector(e ast.Expr, x, sel string) bool {
	s, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(s.X, x) && s.Sel.Name == sel
}
