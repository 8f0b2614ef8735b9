package server

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// auditWriteTimeout bounds the audit write that follows a mutation. The
// write ignores the request's cancellation: a client that hangs up after
// its change was made does not erase the record of it.
const auditWriteTimeout = 5 * time.Second

// auditTrail records every root field of every mutation in the audit trail:
// one handler extension, so that no mutation, present or added later, can
// be left out. It is installed before the role check, so a read-only key's
// refused mutation is recorded too (FORBIDDEN).
//
// A record holds the mutation's name, the IDs it named and the names of
// the input fields it set, never their values: credentials, phone numbers,
// names and transcripts stay out of the trail. Its outcome is the error
// code the caller got for that field, or "ok".
//
// Requests refused before an operation exists are not recorded: without a
// valid key (there is nobody to attribute them to), over the HTTP rate
// limit or the body size, or that do not parse or validate against the
// schema (no mutation ran, or could have).
type auditTrail struct {
	svc *service.Service
	log *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.OperationContextMutator
} = auditTrail{}

func (auditTrail) ExtensionName() string                   { return "AuditTrail" }
func (auditTrail) Validate(graphql.ExecutableSchema) error { return nil }

// auditResultsKey carries an operation's *auditResults to its root fields.
type auditResultsKey struct{}

// auditResults are the IDs of what an operation's root mutation fields
// returned (a created campaign, a started run), by field alias.
type auditResults struct {
	mu  sync.Mutex
	ids map[string]pulid.ID
}

func (a auditTrail) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	v := viewer.FromContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation || v == nil {
		return next(ctx)
	}
	results := &auditResults{ids: map[string]pulid.ID{}}
	responses := next(context.WithValue(ctx, auditResultsKey{}, results))
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		// Mutations run when their response is asked for, in the context
		// of this call.
		resp := responses(context.WithValue(ctx, auditResultsKey{}, results))
		if resp != nil {
			once.Do(func() { a.record(ctx, oc, v, results, resp.Errors) })
		}
		return resp
	}
}

// MutateOperationContext makes a mutation's resolver middleware note what
// each root mutation field returned. Only mutations get it: queries and
// subscriptions resolve their fields without a step of the audit's (a
// graphql.FieldInterceptor would run on every field of every read).
func (auditTrail) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	next := oc.ResolverMiddleware
	oc.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		res, err := next(ctx, resolve)
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" {
			if r, ok := ctx.Value(auditResultsKey{}).(*auditResults); ok {
				r.mu.Lock()
				r.ids[fc.Field.Alias] = resultID(res)
				r.mu.Unlock()
			}
		}
		return res, err
	}
	return nil
}

// record writes one audit event per root field of the mutation. A failed
// write is logged, never returned: the change has been made (or refused)
// and the caller gets its answer either way.
func (a auditTrail) record(ctx context.Context, oc *graphql.OperationContext, v *viewer.Viewer, results *auditResults, errs gqlerror.List) {
	// The error of a root field is at its alias; an error without a path
	// refused the whole operation before any field ran (FORBIDDEN).
	// Errors deeper in the result are about reading it back, not about the
	// change.
	var opCode string
	fieldCode := map[string]string{}
	for _, e := range errs {
		switch len(e.Path) {
		case 0:
			if opCode == "" {
				opCode = errorCode(e)
			}
		case 1:
			if alias, ok := e.Path[0].(ast.PathName); ok {
				if _, seen := fieldCode[string(alias)]; !seen {
					fieldCode[string(alias)] = errorCode(e)
				}
			}
		}
	}
	results.mu.Lock()
	defer results.mu.Unlock()
	var recs []service.AuditRecord
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		if strings.HasPrefix(f.Name, "__") {
			continue // __typename changes nothing
		}
		rec := auditArgs(f, oc.Variables)
		rec.OrgID, rec.Actor, rec.KeyID, rec.ActorName, rec.Operation = v.OrgID, schematype.ActorAPIKey, v.KeyID, v.KeyName, f.Name
		result, ran := results.ids[f.Alias]
		switch {
		case fieldCode[f.Alias] != "":
			rec.Outcome = fieldCode[f.Alias]
		case !ran && opCode != "":
			rec.Outcome = opCode
		default:
			rec.Outcome = service.AuditOK
		}
		// What the mutation acted on is the ID it was given; a mutation
		// given none created what it returned.
		switch {
		case result == "":
		case rec.TargetID == "":
			rec.TargetID = result
		default:
			rec.Related = append(rec.Related, result)
		}
		recs = append(recs, rec)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	if err := a.svc.RecordAudit(wctx, recs...); err != nil {
		a.log.ErrorContext(ctx, "recording the audit trail", slog.Any("err", err),
			slog.String("operation", oc.Operation.Name), slog.Int("events", len(recs)))
	}
}

// auditArgs reads a root field's arguments into a record: the first ID
// argument ("id" first, else one ending in "ID") is the target, the other
// IDs are related; the names of the other arguments and of every field of
// "input" are the fields set. Values that are not well-formed IDs are never
// kept: they can name nothing, and the trail must not hold what callers
// typed.
func auditArgs(f graphql.CollectedField, vars map[string]any) service.AuditRecord {
	args := f.ArgumentMap(vars)
	var rec service.AuditRecord
	var ids []pulid.ID
	for _, a := range f.Arguments {
		val, set := args[a.Name]
		if !set {
			continue
		}
		if in, ok := val.(map[string]any); ok && a.Name == "input" {
			for _, k := range sortedKeys(in) {
				rec.Fields = append(rec.Fields, k)
				if id, ok := auditID(k, in[k]); ok {
					rec.Related = append(rec.Related, id)
				}
			}
			continue
		}
		if id, ok := auditID(a.Name, val); ok {
			if a.Name == "id" {
				ids = slices.Insert(ids, 0, id)
			} else {
				ids = append(ids, id)
			}
			continue
		}
		if !isIDName(a.Name) {
			rec.Fields = append(rec.Fields, a.Name)
		}
	}
	if len(ids) > 0 {
		rec.TargetID = ids[0]
		rec.Related = append(slices.Clone(ids[1:]), rec.Related...)
	}
	slices.Sort(rec.Fields)
	rec.Fields = slices.Compact(rec.Fields)
	return rec
}

func isIDName(name string) bool { return name == "id" || strings.HasSuffix(name, "ID") }

// auditID returns v as an ID if name is an ID's and v has the form of one.
func auditID(name string, v any) (pulid.ID, bool) {
	s, ok := v.(string)
	id := pulid.ID(s)
	return id, ok && isIDName(name) && id.Valid()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errorCode is a presented error's extensions.code.
func errorCode(e *gqlerror.Error) string {
	if c, ok := e.Extensions["code"]; ok && c != nil {
		if s := fmt.Sprint(c); s != "" {
			return s
		}
	}
	return string(service.CodeInternal)
}

var idType = reflect.TypeFor[pulid.ID]()

// resultID is the ID of what a mutation returned: an ID, an entity with an
// ID field, or a payload holding such an entity (createAPIKey's key and
// its APIKey). "" when there is none, as for a failed mutation.
func resultID(res any) pulid.ID {
	if id, ok := res.(pulid.ID); ok {
		return id
	}
	v := reflect.ValueOf(res)
	if id, ok := entityID(v); ok {
		return id
	}
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	v = v.Elem()
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if id, ok := entityID(v.Field(i)); ok {
			return id
		}
	}
	return ""
}

// entityID is the ID field of a pointer to a struct that has one.
func entityID(v reflect.Value) (pulid.ID, bool) {
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", false
	}
	f := v.Elem().FieldByName("ID")
	if !f.IsValid() || f.Type() != idType {
		return "", false
	}
	return pulid.ID(f.String()), true
}
