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
//     the field's path) otherwise; a nullable field's marshaller reports
//     no error for a null.
//
// Server-wide field middleware (handler.AroundFields) does not see the
// rewritten fields; Intake installs none.
//
// Objects make their @defer group only when one of their fields is
// deferred: graphql.NewDeferredGroup computes the object's path and makes
// a field set and a map for every object of an answer, deferred or not.
// The rewritten objects call deferredGroup (graph/deferred.go) instead.
//
// Usage: go run ../internal/trimexec generated.go
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: trimexec generated.go")
		os.Exit(2)
	}
	path := os.Args[1]
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, n, err := rewrite(src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "trimexec: %s: %v\n", path, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("trimexec: %s: %d fields marshalled directly, %d objects' @defer groups made when needed\n", path, n.fields, n.groups)
}

// safety is how a marshaller's output may be trusted.
type safety int

const (
	unsafe   safety = iota
	safe            // never null, never an error
	nonZero         // safe unless the value is the zero time
	nullable        // a null is the field's answer, without error
)

// neverNull are the marshal functions that always write a value.
var neverNull = []string{"graphql.MarshalString", "graphql.MarshalInt", "graphql.MarshalInt64", "graphql.MarshalBoolean", "scalar.MarshalCursor"}

var (
	// The marshaller bodies gqlgen writes for leaf types, printed on one
	// line each statement (see body).
	returnSelf     = regexp.MustCompile(`^return v$`)
	returnSelfOpt  = regexp.MustCompile(`^if v == nil { return graphql.Null }; return v$`)
	nonNullWrapped = regexp.MustCompile(`^_ = sel; res := ([\w.]+)\(v\); if res == graphql.Null { graphql.AddInvalidNullFromMarshaler\(ctx, "\w+!"\) }; return res$`)
	optWrapped     = regexp.MustCompile(`^if v == nil { return graphql.Null }; _ = sel; _ = ctx; res := ([\w.]+)\(\*v\); return res$`)
)

// classify says how far the marshaller fn can be trusted.
func classify(fset *token.FileSet, fn *ast.FuncDecl) safety {
	b := body(fset, fn.Body)
	switch {
	case returnSelf.MatchString(b), returnSelfOpt.MatchString(b):
		return safe
	}
	if m := nonNullWrapped.FindStringSubmatch(b); m != nil {
		switch {
		case slices.Contains(neverNull, m[1]):
			return safe
		case m[1] == "graphql.MarshalTime":
			return nonZero
		}
	}
	if m := optWrapped.FindStringSubmatch(b); m != nil && (slices.Contains(neverNull, m[1]) || m[1] == "graphql.MarshalTime") {
		return nullable
	}
	return unsafe
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
	guard   bool   // take the direct path only for a non-zero value
}

// counts are what rewrite changed.
type counts struct{ fields, groups int }

// newGroup is the statement every object marshaller of gqlgen's starts
// with, after collecting its fields; lazyGroup replaces it.
const (
	newGroup  = "deferred := graphql.NewDeferredGroup(ctx)"
	lazyGroup = "deferred := deferredGroup(ctx, fields)"
)

// rewrite returns src with every rewritable field marshalled directly and
// every object's @defer group made only when needed, and how many were.
func rewrite(src []byte) ([]byte, counts, error) {
	out, n, err := rewriteFields(src)
	if err != nil {
		return nil, counts{}, err
	}
	groups := bytes.Count(out, []byte(newGroup))
	out = bytes.ReplaceAll(out, []byte(newGroup), []byte(lazyGroup))
	return out, counts{fields: n, groups: groups}, nil
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
		switch classify(fset, m) {
		case safe:
			fields = append(fields, field{fn: fn, value: value, marshal: marshal})
		case nonZero:
			fields = append(fields, field{fn: fn, value: value, marshal: marshal, guard: true})
		case nullable:
			if !nonNull {
				fields = append(fields, field{fn: fn, value: value, marshal: marshal})
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
		var b string
		if fd.guard {
			old := string(src[open:end])
			b = fmt.Sprintf("\n\tif !%s.IsZero() {\n\t\t%s\n\t}%s", fd.value, direct, old)
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
