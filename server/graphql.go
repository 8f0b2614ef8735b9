package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/graph"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

// graphQL builds the GraphQL handler with explicit transports: POST (JSON
// only; postTransport), GET (queries only), and websockets (graphql-transport-ws and the
// legacy graphql-ws) through gorilla/websocket. No multipart uploads.
func (s *Server) graphQL() *handler.Server {
	srv := handler.New(graph.NewSchema(graph.Deps{
		DB: s.deps.DB, Service: s.deps.Service, Broker: s.deps.Broker, Logger: s.log,
	}))
	srv.AddTransport(wsTransport{s.ws})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if s.cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	s.useLimits(srv)
	srv.AroundOperations(s.observeOperation) // first: refused operations count too
	// Before the role check: a read-only key's refused mutation is recorded.
	srv.Use(auditTrail{svc: s.deps.Service, log: s.log})
	srv.AroundOperations(requireMutationRole)
	srv.AroundOperations(graph.WithLoaders)
	// No field middleware (AroundFields, InterceptField): most leaf fields
	// are marshalled without it (internal/trimexec).
	srv.SetErrorPresenter(s.presentError)
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		s.log.ErrorContext(ctx, "panic in resolver", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		return errors.New("internal error")
	})
	return srv
}

// requireMutationRole refuses mutations to read-only keys before any
// resolver runs.
func requireMutationRole(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Mutation && !viewer.FromContext(ctx).CanMutate() {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    "this API key may not change data",
			Extensions: map[string]any{"code": service.CodeForbidden},
		}}})
	}
	return next(ctx)
}

// presentError gives every error an extensions.code; internal errors are
// logged and reach the client without their details.
func (s *Server) presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var parsed *gqlerror.Error
	if errors.As(err, &parsed) && parsed.Extensions["code"] != nil {
		return gqlErr // parse and validation errors carry gqlgen's codes
	}
	e := inputError(ctx, err)
	if e == nil {
		e = s.classify(ctx, err)
	}
	switch {
	case e.Code == service.CodeInternal && errors.Is(ctx.Err(), context.Canceled):
		// The client went away: nobody reads the answer, and nothing failed.
		s.log.DebugContext(ctx, "request cancelled by the client", slog.Any("err", err), slog.String("path", fmt.Sprint(gqlErr.Path)))
	case e.Code == service.CodeInternal:
		s.log.ErrorContext(ctx, "request failed", slog.Any("err", err), slog.String("path", fmt.Sprint(gqlErr.Path)))
	}
	gqlErr.Message = e.Message
	gqlErr.Extensions = map[string]any{"code": e.Code}
	if e.Field != "" {
		gqlErr.Extensions["field"] = e.Field
	}
	if e.RetryAfter > 0 {
		gqlErr.Extensions["retryAfter"] = int(e.RetryAfter.Round(time.Second) / time.Second)
	}
	return gqlErr
}

// inputError classifies the errors of a request's input that gqlgen reports
// without a code: a body that is not a GraphQL request (BAD_REQUEST; the
// message never repeats the body), and an argument or variable value that
// its scalar cannot read, such as a Time that is not RFC 3339 or a cursor
// that is not one (VALIDATION_FAILED, with the argument's input path in
// extensions.field, as the service names fields). Nil for other errors.
func inputError(ctx context.Context, err error) *service.Error {
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) {
		return nil
	}
	if !graphql.HasOperationContext(ctx) {
		// Refused by the transport before an operation existed.
		return &service.Error{Code: codeBadRequest, Message: "the request is not a GraphQL request: send a JSON object with a \"query\" string", Err: err}
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return nil
	}
	// Arguments are read before the resolver runs, on a path that extends
	// the field's by the argument's name (and an input object's fields).
	base := fc.Path()
	if len(gqlErr.Path) <= len(base) {
		return nil
	}
	for i, el := range base {
		if gqlErr.Path[i] != el {
			return nil
		}
	}
	arg, ok := gqlErr.Path[len(base)].(ast.PathName)
	if !ok || fc.Field.Arguments.ForName(string(arg)) == nil {
		return nil
	}
	field := ""
	for _, el := range gqlErr.Path[len(base):] {
		switch el := el.(type) {
		case ast.PathName:
			if field != "" {
				field += "."
			}
			field += string(el)
		case ast.PathIndex:
			field += fmt.Sprintf("[%d]", int(el))
		}
	}
	msg := "is not a valid value"
	if u := errors.Unwrap(gqlErr); u != nil {
		msg = "is not a valid value: " + cleanScalarMessage(u.Error())
	}
	return &service.Error{Code: service.CodeValidation, Field: field, Message: field + " " + msg, Err: err}
}

// cleanScalarMessage keeps a scalar's own error message short and free of
// the value it refused (which may be anything a client sent).
func cleanScalarMessage(m string) string {
	if i := strings.IndexAny(m, "\"\n"); i >= 0 {
		m = m[:i]
	}
	m = strings.TrimRight(strings.TrimSpace(m), ":")
	if len(m) > 120 {
		m = m[:120]
	}
	return m
}
