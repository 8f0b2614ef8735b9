package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
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
// only), GET (queries only), and websockets (graphql-transport-ws and the
// legacy graphql-ws) through gorilla/websocket. No multipart uploads.
func (s *Server) graphQL() *handler.Server {
	srv := handler.New(graph.NewSchema(graph.Deps{
		DB: s.deps.DB, Service: s.deps.Service, Broker: s.deps.Broker, Logger: s.log,
	}))
	srv.AddTransport(wsTransport{s.ws})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
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
	e := s.classify(ctx, err)
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
