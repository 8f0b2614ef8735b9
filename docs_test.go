package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gorilla/websocket"
	gqlast "github.com/vektah/gqlparser/v2/ast"
	gqlparser "github.com/vektah/gqlparser/v2/parser"
)

// The documentation tests keep the Markdown documents and the GraphQL
// schema true to the tree: every relative link leads to a file or
// directory of the repository (and to a heading, when it names one), and
// every error code and websocket close code the server can answer with is
// described in graph/*.graphqls, the public API reference.

// docFiles are the Markdown documents whose links are checked: README.md,
// CONTRIBUTING.md and every .md file under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md"}
	err := filepath.WalkDir("docs", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing docs/: %v", err)
	}
	return files
}

// mdLink is a link of a Markdown document.
type mdLink struct {
	line   int
	target string
}

var (
	// inlineLink matches [text](target) and ![alt](target), with an
	// optional title; the text may hold one level of brackets.
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// refDefinition matches a reference-style link definition: [label]: target
	refDefinition = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	codeSpan      = regexp.MustCompile("`+[^`]*`+")
	fence         = regexp.MustCompile("^\\s{0,3}(```|~~~)")
	heading       = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	scheme        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	linkText      = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// mdLines returns the lines of a Markdown document outside fenced code
// blocks, with their line numbers and code spans blanked out, so that
// brackets in code are not taken for links.
func mdLines(src string) (lines []string, numbers []int) {
	inFence := false
	for i, l := range strings.Split(src, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		lines = append(lines, codeSpan.ReplaceAllStringFunc(l, func(s string) string { return strings.Repeat(" ", len(s)) }))
		numbers = append(numbers, i+1)
	}
	return lines, numbers
}

// links lists the links of a Markdown document.
func links(src string) []mdLink {
	var out []mdLink
	lines, numbers := mdLines(src)
	for i, l := range lines {
		for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
			out = append(out, mdLink{numbers[i], m[1]})
		}
		if m := refDefinition.FindStringSubmatch(l); m != nil {
			out = append(out, mdLink{numbers[i], m[1]})
		}
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of a Markdown
// document: the heading's text without markup, lower case, without
// punctuation but hyphens and underscores, spaces turned into hyphens; a
// repeated anchor gets -1, -2, ...
func anchors(src string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, l := range strings.Split(src, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
			continue
		}
		m := heading.FindStringSubmatch(l)
		if inFence || m == nil {
			continue
		}
		text := linkText.ReplaceAllString(m[2], "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), unicode.Is(unicode.Nl, r),
				unicode.Is(unicode.Pc, r), r == '-':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// pathMention matches a code span that names a path of the repository,
// such as `sync/engine/doc.go` or `./internal/phone`.
var pathMention = regexp.MustCompile("`(?:\\./)?((?:internal|sync|server|graph|schema|ent|docs|scripts|\\.ci)(?:/[A-Za-z0-9_.-]+)*/?)`")

// verifyComment is a note that a passage describes code still being put
// in place: <!-- verify: ... -->.
var verifyComment = regexp.MustCompile(`(?s)<!--\s*verify:(.*?)-->`)

// TestDocsLinks fails on a relative link of README.md, CONTRIBUTING.md or
// docs/*.md that leads to no file or directory of the repository, or to a
// heading its document does not have; on a link or mention of ../shared
// (documents outside the repository); and on a path of the repository
// named in code (`sync/engine/doc.go`) that does not exist, unless the
// document's <!-- verify: ... --> note names it.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range docFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		src := string(b)
		for i, l := range strings.Split(src, "\n") {
			if strings.Contains(l, "../shared") {
				t.Errorf("%s:%d mentions ../shared, which is outside the repository: %s", file, i+1, strings.TrimSpace(l))
			}
		}
		for _, l := range links(src) {
			if msg := checkLink(root, file, l.target); msg != "" {
				t.Errorf("%s:%d: link %q %s", file, l.line, l.target, msg)
			}
		}
		var verified []string
		for _, m := range verifyComment.FindAllStringSubmatch(src, -1) {
			verified = append(verified, m[1])
		}
		inFence := false
		for i, l := range strings.Split(src, "\n") {
			if fence.MatchString(l) {
				inFence = !inFence
				continue
			}
			if inFence {
				continue
			}
			for _, m := range pathMention.FindAllStringSubmatch(l, -1) {
				p := strings.TrimSuffix(m[1], "/")
				if _, err := os.Stat(filepath.FromSlash(p)); err == nil {
					continue
				}
				if slices.ContainsFunc(verified, func(v string) bool { return strings.Contains(v, p) }) {
					t.Logf("%s:%d: %s does not exist yet; the document's verify note names it", file, i+1, p)
					continue
				}
				t.Errorf("%s:%d names %s, which is not in the repository", file, i+1, p)
			}
		}
	}
}

// checkLink returns why target, a link of file, is broken, or "".
func checkLink(root, file, target string) string {
	if target == "" {
		return "is empty"
	}
	if scheme.MatchString(target) {
		lower := strings.ToLower(target)
		if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "mailto:") {
			return ""
		}
		return "has a scheme other than http(s) or mailto"
	}
	path, anchor, _ := strings.Cut(target, "#")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	dest := file
	if path != "" {
		if strings.HasPrefix(path, "/") {
			return "is absolute: write it relative to " + file
		}
		dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err.Error()
	}
	if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "leads outside the repository"
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return "leads to nothing: " + filepath.ToSlash(dest) + " does not exist"
	}
	if anchor == "" || fi.IsDir() || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return err.Error()
	}
	if !anchors(string(b))[anchor] {
		return "names a heading " + filepath.ToSlash(dest) + " does not have"
	}
	return ""
}

// errorCodeDirs hold the code that answers clients: the service's errors,
// the HTTP layer, the resolvers, the assembly and the engine.
var errorCodeDirs = []string{"internal/service", "internal/app", "server", "graph", "sync/engine"}

// libraryCodes are the codes gqlgen's executor answers with for a document
// that does not parse or validate; the server passes them on unchanged.
var libraryCodes = []string{errcode.ParseFailed, errcode.ValidationFailed}

// gorillaCloseCodes are the close codes of gorilla/websocket by the names
// the server may use them with. ErrReadLimit is gorilla's error for a
// message over the read limit, which it answers with 1009.
var gorillaCloseCodes = map[string]int{
	"CloseNormalClosure":           websocket.CloseNormalClosure,
	"CloseGoingAway":               websocket.CloseGoingAway,
	"CloseProtocolError":           websocket.CloseProtocolError,
	"CloseUnsupportedData":         websocket.CloseUnsupportedData,
	"CloseNoStatusReceived":        websocket.CloseNoStatusReceived,
	"CloseAbnormalClosure":         websocket.CloseAbnormalClosure,
	"CloseInvalidFramePayloadData": websocket.CloseInvalidFramePayloadData,
	"ClosePolicyViolation":         websocket.ClosePolicyViolation,
	"CloseMessageTooBig":           websocket.CloseMessageTooBig,
	"CloseMandatoryExtension":      websocket.CloseMandatoryExtension,
	"CloseInternalServerErr":       websocket.CloseInternalServerErr,
	"CloseServiceRestart":          websocket.CloseServiceRestart,
	"CloseTryAgainLater":           websocket.CloseTryAgainLater,
	"CloseTLSHandshake":            websocket.CloseTLSHandshake,
	"ErrReadLimit":                 websocket.CloseMessageTooBig,
}

var (
	codeName      = regexp.MustCompile(`^[Cc]ode[A-Z0-9]`)
	closeName     = regexp.MustCompile(`^[Cc]lose[A-Z0-9]`)
	codeValue     = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	gorillaImport = strconv.Quote("github.com/gorilla/websocket")
)

// serverCodes scans the Go sources of errorCodeDirs (not tests, not
// generated code) for the codes the server can answer with, and returns
// each with the places it was found:
//
//   - error codes: string constants named Code* or code* (service.Code
//     values), string literals given as a Code field (Error{Code: "X"}),
//     and string literals under a "code" key (extensions maps);
//   - websocket close codes: integer constants named close*, and the close
//     codes of gorilla/websocket the sources name.
func serverCodes(t *testing.T) map[string][]string {
	t.Helper()
	codes := map[string][]string{}
	add := func(fset *token.FileSet, pos token.Pos, code string) {
		p := fset.Position(pos)
		codes[code] = append(codes[code], fmt.Sprintf("%s:%d", filepath.ToSlash(p.Filename), p.Line))
	}
	stringLit := func(e ast.Expr) (string, bool) {
		if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 { // service.Code("X")
			e = call.Args[0]
		}
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil && codeValue.MatchString(s)
	}
	for _, dir := range errorCodeDirs {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			continue
		}
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parsing %s: %v", name, err)
			}
			if ast.IsGenerated(f) {
				continue
			}
			gorilla := ""
			for _, imp := range f.Imports {
				if imp.Path.Value == gorillaImport {
					gorilla = "websocket"
					if imp.Name != nil {
						gorilla = imp.Name.Name
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, id := range n.Names {
						if i >= len(n.Values) {
							break
						}
						switch {
						case codeName.MatchString(id.Name):
							if s, ok := stringLit(n.Values[i]); ok {
								add(fset, id.Pos(), s)
							}
						case closeName.MatchString(id.Name):
							if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.INT {
								add(fset, id.Pos(), lit.Value)
							}
						}
					}
				case *ast.KeyValueExpr:
					key := ""
					switch k := n.Key.(type) {
					case *ast.Ident:
						key = k.Name
					case *ast.BasicLit:
						key, _ = strconv.Unquote(k.Value)
					}
					if key == "Code" || key == "code" {
						if s, ok := stringLit(n.Value); ok {
							add(fset, n.Pos(), s)
						}
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && gorilla != "" && x.Name == gorilla {
						if c, ok := gorillaCloseCodes[n.Sel.Name]; ok {
							add(fset, n.Pos(), strconv.Itoa(c))
						}
					}
				}
				return true
			})
		}
	}
	for _, c := range libraryCodes {
		codes[c] = append(codes[c], "gqlgen's executor (errcode)")
	}
	return codes
}

// schemaText returns every description of graph/*.graphqls, the schema's
// own included, as one text.
func schemaText(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("graph", "*.graphqls"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no graph/*.graphqls (%v)", err)
	}
	var b strings.Builder
	write := func(s string) { b.WriteString(s); b.WriteString("\n") }
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := gqlparser.ParseSchema(&gqlast.Source{Name: name, Input: string(src)})
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		for _, s := range append(doc.Schema, doc.SchemaExtension...) {
			write(s.Description)
		}
		for _, d := range doc.Directives {
			write(d.Description)
		}
		for _, d := range append(doc.Definitions, doc.Extensions...) {
			write(d.Description)
			for _, f := range d.Fields {
				write(f.Description)
				for _, a := range f.Arguments {
					write(a.Description)
				}
			}
			for _, v := range d.EnumValues {
				write(v.Description)
			}
		}
	}
	return b.String()
}

// documentedCodes returns the codes the tables of the schema's
// descriptions have a row for: the first cell of each row, `CODE` or a
// four-digit close code.
func documentedCodes(text string) []string {
	row := regexp.MustCompile("(?m)^\\|\\s*`?([A-Z][A-Z0-9_]+|[0-9]{4})`?\\s*\\|")
	var out []string
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDocsErrorCodes fails when an error code or websocket close code that
// the server's sources can answer with has no row in the tables of
// graph/*.graphqls (the description of the schema), and when a row names a
// code that is no longer found in the sources.
func TestDocsErrorCodes(t *testing.T) {
	t.Parallel()
	codes := serverCodes(t)
	// The scan must find what is known to be there; if it does not, the
	// code has moved and the scan (errorCodeDirs) must follow it.
	for _, known := range []string{"UNAUTHENTICATED", "VALIDATION_FAILED", "BAD_REQUEST", "4403", "1001"} {
		if _, ok := codes[known]; !ok {
			t.Fatalf("the scan of %v found no %s: where does the server answer with it now?", errorCodeDirs, known)
		}
	}
	documented := map[string]bool{}
	for _, c := range documentedCodes(schemaText(t)) {
		documented[c] = true
	}
	if len(documented) == 0 {
		t.Fatal("graph/*.graphqls has no table of error codes")
	}
	var names []string
	for c := range codes {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		if !documented[c] {
			t.Errorf("%s (%s) has no row in the error and close code tables of graph/*.graphqls: add one to the description of the schema (graph/schema.graphqls), saying when it is returned, with which HTTP status and extensions",
				c, strings.Join(codes[c], ", "))
		}
	}
	var rows []string
	for c := range documented {
		rows = append(rows, c)
	}
	sort.Strings(rows)
	for _, c := range rows {
		if _, ok := codes[c]; !ok {
			t.Errorf("graph/*.graphqls has a row for %s, which the sources of %v no longer answer with: remove it, or teach serverCodes where it comes from", c, errorCodeDirs)
		}
	}
}
