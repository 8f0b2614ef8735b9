package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/internal/service"
)

// Limits bound what one GraphQL request may cost the server. A zero field
// takes its default (see withDefaults), except RatePerSecond: zero turns
// the per-key rate limit off.
type Limits struct {
	// Complexity is the highest cost an operation may have. A field costs
	// 1 plus what it selects; a paginated field (one with first/last
	// arguments) costs 1 plus what it selects times its page size, which
	// is MaxPageSize when neither first nor last is given. Default 100000.
	Complexity int
	// Depth is the deepest nesting of fields an operation may select.
	// Default 15.
	Depth int
	// Aliases is how many aliased fields one document may contain.
	// Default 30.
	Aliases int
	// BodyBytes bounds an HTTP request body. Default 1 MiB.
	BodyBytes int64
	// MessageBytes bounds one websocket message from a client. Default
	// 1 MiB.
	MessageBytes int64
	// Timeout bounds one HTTP request (queries and mutations); websocket
	// subscriptions live as long as their socket. Default 30s.
	Timeout time.Duration
	// RatePerSecond is how many operations an API key may start per second
	// on average (HTTP requests and websocket operations alike); zero means
	// no rate limit.
	RatePerSecond float64
	// RateBurst is how many operations a key may start at once after being
	// idle; zero means twice RatePerSecond (at least 1).
	RateBurst int
	// Concurrent is how many GraphQL HTTP requests the server executes at
	// once; the others wait, in the order they came, until one finishes
	// or their Timeout passes (see admit). Default 4 × GOMAXPROCS.
	Concurrent int
}

// MaxPageSize is the largest first/last a paginated field accepts. A larger
// value is refused rather than silently cut, so a client never mistakes a
// short page for the end of the list.
const MaxPageSize = 100

// PreflightHeader lets a non-JSON POST through the CSRF check: browsers
// cannot send a custom header across origins without a CORS preflight, so
// its presence proves the request is not a cross-site form post.
const PreflightHeader = "GraphQL-Preflight"

// Codes of the errors the request limits answer with, besides the service
// codes (VALIDATION_FAILED, RATE_LIMITED).
const (
	codeBadRequest      service.Code = "BAD_REQUEST"
	codePayloadTooLarge service.Code = "PAYLOAD_TOO_LARGE"
	codeTimeout         service.Code = "TIMEOUT"
)

// withDefaults fills the zero fields with the production defaults.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Complexity, 100_000)
	def(&l.Depth, 15)
	def(&l.Aliases, 30)
	if l.BodyBytes <= 0 {
		l.BodyBytes = 1 << 20
	}
	if l.MessageBytes <= 0 {
		l.MessageBytes = 1 << 20
	}
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	if l.RatePerSecond > 0 {
		def(&l.RateBurst, max(1, int(2*l.RatePerSecond)))
	}
	def(&l.Concurrent, DefaultConcurrencyPerCPU*runtime.GOMAXPROCS(0))
	return l
}

// useLimits installs the operation limits, the per-key rate limit of
// websocket operations, and field suggestions ("Did you mean ...?") only
// where introspection shows the schema anyway.
func (s *Server) useLimits(srv *handler.Server) {
	srv.Use(operationLimits{s.cfg.Limits})
	srv.AroundOperations(s.limitOperationRate)
	srv.SetDisableSuggestion(!s.cfg.Introspection)
}

// guardRequest applies the limits an HTTP request meets before it is
// authenticated: the CSRF check, the timeout and the body size.
func (s *Server) guardRequest(next http.Handler) http.Handler {
	limits := s.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r) // websockets: the message limit applies
			return
		}
		if r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")) && r.Header.Get(PreflightHeader) == "" {
			writeError(w, http.StatusBadRequest, codeBadRequest,
				"refused as a possible cross-site request forgery: send Content-Type: application/json, or set the "+PreflightHeader+" header")
			return
		}
		// The deadline covers reading the body too: a client that sends
		// it slowly cannot hold the request open past the timeout.
		ctx, cancel := context.WithTimeout(r.Context(), limits.Timeout)
		defer cancel()
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(limits.Timeout))
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limits.BodyBytes))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeError(w, http.StatusRequestEntityTooLarge, codePayloadTooLarge,
					fmt.Sprintf("the request body is larger than the limit of %d bytes", limits.BodyBytes))
				return
			case err != nil:
				writeError(w, http.StatusBadRequest, codeBadRequest, "the request body could not be read")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// writeError answers with a GraphQL error body.
func writeError(w http.ResponseWriter, status int, code service.Code, message string) {
	writeJSON(w, status, map[string]any{"errors": []any{map[string]any{
		"message": message, "extensions": map[string]any{"code": code},
	}}})
}

// classify is service.Classify, except that any error of a request whose
// deadline has passed is reported as the timeout it most likely is.
func (s *Server) classify(ctx context.Context, err error) *service.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		s.log.WarnContext(ctx, "request timed out", slog.Duration("timeout", s.cfg.Limits.Timeout), slog.Any("err", err))
		return &service.Error{
			Code:    codeTimeout,
			Message: fmt.Sprintf("the request took longer than the limit of %s; ask for less, e.g. smaller pages", s.cfg.Limits.Timeout),
			Err:     err,
		}
	}
	return service.Classify(err)
}

// operationLimits refuses, before any resolver runs, a document with more
// than one operation or too many aliases, and an operation that is too
// deep, too complex or asks for a page larger than MaxPageSize.
type operationLimits struct{ limits Limits }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationLimits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if n := len(opCtx.Doc.Operations); n > 1 {
		return limitError("", "a request may contain one operation; this one contains %d", n)
	}
	if n := countAliases(opCtx.Doc); n > o.limits.Aliases {
		return limitError("", "the document has %d aliases, more than the limit of %d", n, o.limits.Aliases)
	}
	w := costWalker{vars: opCtx.Variables, fragments: map[string]cost{}}
	c, err := w.selectionSet(opCtx.Operation.SelectionSet)
	if err != nil {
		return err
	}
	if c.depth > o.limits.Depth {
		return limitError("", "the operation is %d fields deep, deeper than the limit of %d", c.depth, o.limits.Depth)
	}
	if c.complexity > o.limits.Complexity {
		return limitError("", "the operation has complexity %d, more than the limit of %d", c.complexity, o.limits.Complexity)
	}
	return nil
}

func limitError(field, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": service.CodeValidation}
	if field != "" {
		err.Extensions["field"] = field
	}
	return err
}

// countAliases counts the aliased fields written in doc, each once however
// often its fragment is spread.
func countAliases(doc *ast.QueryDocument) int {
	n := 0
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Alias != sel.Name {
					n++
				}
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			}
		}
	}
	for _, op := range doc.Operations {
		walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		walk(f.SelectionSet)
	}
	return n
}

// cost is what a selection set costs.
type cost struct {
	complexity int
	depth      int
}

// costWalker computes an operation's cost and checks its page sizes. The
// cost of a fragment does not depend on where it is spread, so each is
// computed once: a document that spreads fragments within fragments costs
// time linear in its size to check, not exponential.
type costWalker struct {
	vars      map[string]any
	fragments map[string]cost
	names     []string // the response names from the root to the field walked
}

// path is the response path of the field being walked (an error's
// path), made from the walker's stack of response names only when an
// error needs it.
func (w *costWalker) path() ast.Path {
	out := make(ast.Path, len(w.names))
	for i, n := range w.names {
		out[i] = ast.PathName(n)
	}
	return out
}

func (w *costWalker) selectionSet(set ast.SelectionSet) (cost, *gqlerror.Error) {
	var total cost
	for _, sel := range set {
		var c cost
		var err *gqlerror.Error
		switch sel := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(sel.Name, "__") {
				// Introspection reads the schema, in memory: it costs
				// nothing here, so the tools that explore the schema
				// work whatever the limits.
				continue
			}
			c, err = w.field(sel)
		case *ast.InlineFragment:
			c, err = w.selectionSet(sel.SelectionSet)
		case *ast.FragmentSpread:
			var ok bool
			if c, ok = w.fragments[sel.Name]; !ok && sel.Definition != nil {
				c, err = w.selectionSet(sel.Definition.SelectionSet)
				w.fragments[sel.Name] = c
			}
		}
		if err != nil {
			return cost{}, err
		}
		total.complexity = saturatingAdd(total.complexity, c.complexity)
		total.depth = max(total.depth, c.depth)
	}
	return total, nil
}

func (w *costWalker) field(f *ast.Field) (cost, *gqlerror.Error) {
	w.names = append(w.names, f.Alias)
	defer func() { w.names = w.names[:len(w.names)-1] }()
	page, paginated, err := w.pageSize(f)
	if err != nil {
		return cost{}, err
	}
	children, err := w.selectionSet(f.SelectionSet)
	if err != nil {
		return cost{}, err
	}
	if paginated {
		children.complexity = saturatingMul(children.complexity, page)
	}
	return cost{complexity: saturatingAdd(1, children.complexity), depth: 1 + children.depth}, nil
}

// pageSize returns how many items a paginated field (one that takes first
// or last) may return: the larger of first and last, or MaxPageSize when
// neither is given. First or last outside 0..MaxPageSize is refused with
// extensions.field naming the argument, as for any invalid argument, and
// the error's path naming the field (its response path).
func (w *costWalker) pageSize(f *ast.Field) (page int, paginated bool, _ *gqlerror.Error) {
	if f.Definition == nil {
		return 0, false, nil
	}
	given := false
	for _, name := range []string{"first", "last"} {
		if f.Definition.Arguments.ForName(name) == nil {
			continue
		}
		paginated = true
		arg := f.Arguments.ForName(name)
		if arg == nil {
			continue
		}
		v, err := arg.Value.Value(w.vars)
		if v == nil && err == nil {
			continue // null, or a variable left unset
		}
		n, ok := v.(int64)
		if err != nil || !ok || n < 0 || n > MaxPageSize {
			err := limitError(name, "%s must be between 0 and %d, got %s", name, MaxPageSize, describe(arg.Value, v))
			err.Path = w.path()
			return 0, false, err
		}
		if !given || int(n) > page {
			page = int(n)
		}
		given = true
	}
	if paginated && !given {
		page = MaxPageSize
	}
	return page, paginated, nil
}

func describe(v *ast.Value, resolved any) string {
	if v.Kind == ast.Variable {
		return fmt.Sprintf("%v (from $%s)", resolved, v.Raw)
	}
	return v.Raw
}

func saturatingAdd(a, b int) int {
	if a > maxCost-b {
		return maxCost
	}
	return a + b
}

func saturatingMul(a, b int) int {
	if b != 0 && a > maxCost/b {
		return maxCost
	}
	return a * b
}

// maxCost caps cost arithmetic so that no document can overflow it.
const maxCost = 1 << 40
