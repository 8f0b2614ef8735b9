// Package schema is Intake's data model: the ent schemas from which ent/ is
// generated. It is the only place the model is written down.
package schema

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
)

// IDPrefix annotates a type with the prefix of its IDs (see internal/pulid).
// Node types are resolvable through node(id:).
type IDPrefix struct {
	Prefix string
	Node   bool
}

// Name implements schema.Annotation.
func (IDPrefix) Name() string { return "IDPrefix" }

// idMixin gives a type prefixed ULID IDs.
type idMixin struct {
	mixin.Schema
	prefix string
	node   bool
}

// withID gives a GraphQL node type its IDs.
func withID(prefix string) idMixin { return idMixin{prefix: prefix, node: true} }

// withPrivateID gives a type that is never exposed over GraphQL its IDs.
func withPrivateID(prefix string) idMixin { return idMixin{prefix: prefix} }

func (m idMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").GoType(pulid.ID("")).Immutable().
			DefaultFunc(func() pulid.ID { return pulid.New(m.prefix) }),
	}
}

func (m idMixin) Annotations() []schema.Annotation {
	return []schema.Annotation{IDPrefix{Prefix: m.prefix, Node: m.node}}
}

// timeMixin records when a row was created and last updated.
type timeMixin struct{ mixin.Schema }

func (timeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(now).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(now).UpdateDefault(now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// now is the time at the precision PostgreSQL stores (microseconds), so a
// mutation answers with the time that is read back later.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ErrNoViewer is returned when data is touched without a viewer or the
// system context.
var ErrNoViewer = errors.New("no viewer in context")

// ErrReadOnly is returned when a read-only viewer tries to change data.
var ErrReadOnly = errors.New("read-only API key")

// tenantMixin scopes a type to the viewer's organization: every query and
// every update or delete is filtered by organization_id, and every create is
// stamped with it. Only viewer.SystemContext gets past it.
type tenantMixin struct{ mixin.Schema }

func (tenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("organization_id").GoType(pulid.ID("")).Immutable().NotEmpty().
			Annotations(entgql.Skip()),
	}
}

type wherer interface{ WhereP(...func(*sql.Selector)) }

func (tenantMixin) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{
		ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
			return scope(ctx, q, "organization_id")
		}),
	}
}

func (tenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if viewer.IsSystem(ctx) {
					return next.Mutate(ctx, m)
				}
				v := viewer.FromContext(ctx)
				if v == nil {
					return nil, ErrNoViewer
				}
				if !v.CanMutate() {
					return nil, ErrReadOnly
				}
				if m.Op().Is(ent.OpCreate) {
					if org, ok := m.Field("organization_id"); ok && org != v.OrgID {
						return nil, fmt.Errorf("%s: organization_id differs from the viewer's", m.Type())
					}
					if err := m.SetField("organization_id", v.OrgID); err != nil {
						return nil, err
					}
				} else {
					w, ok := m.(wherer)
					if !ok {
						return nil, fmt.Errorf("%s: mutation cannot be scoped", m.Type())
					}
					w.WhereP(sql.FieldEQ("organization_id", v.OrgID))
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// scope filters q by the viewer's organization in column.
func scope(ctx context.Context, q ent.Query, column string) error {
	if viewer.IsSystem(ctx) {
		return nil
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return ErrNoViewer
	}
	return wherePredicate(q, sql.FieldEQ(column, v.OrgID))
}

// wherePredicate calls q.Where(p). Generated queries take their own named
// predicate type (func(*sql.Selector) underneath), so the call goes through
// reflection rather than importing generated code into the schema.
func wherePredicate(q ent.Query, p func(*sql.Selector)) error {
	where := reflect.ValueOf(q).MethodByName("Where")
	if !where.IsValid() || where.Type().NumIn() != 1 || !where.Type().IsVariadic() {
		return fmt.Errorf("query %T cannot be scoped", q)
	}
	pt := where.Type().In(0).Elem()
	if !reflect.TypeOf(p).ConvertibleTo(pt) {
		return fmt.Errorf("query %T cannot be scoped", q)
	}
	where.Call([]reflect.Value{reflect.ValueOf(p).Convert(pt)})
	return nil
}
