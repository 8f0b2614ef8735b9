// Package schema is Intake's data model: the ent schemas from which ent/ is
// generated. It is the only place the model is written down.
package schema

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"

	"github.com/intake/intake/ent/intercept"
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

// tenantMutation is what the generated mutation of every type with the
// mixin offers for its organization_id.
type tenantMutation interface {
	OrganizationID() (pulid.ID, bool)
	SetOrganizationID(pulid.ID)
	// WhereP filters the rows an update or delete reaches.
	WhereP(...func(*sql.Selector))
}

// Interceptors filter every query of the type, and every step of a graph
// traversal through it, by the viewer's organization.
func (tenantMixin) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{
		ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
			return scope(ctx, q, "organization_id")
		}),
	}
}

// Hooks stamp creates with the viewer's organization and filter updates and
// deletes by it.
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
				tm, ok := m.(tenantMutation)
				if !ok {
					return nil, fmt.Errorf("%s: mutation cannot be scoped", m.Type())
				}
				if m.Op().Is(ent.OpCreate) {
					if org, ok := tm.OrganizationID(); ok && org != v.OrgID {
						return nil, fmt.Errorf("%s: organization_id differs from the viewer's", m.Type())
					}
					tm.SetOrganizationID(v.OrgID)
				} else {
					tm.WhereP(sql.FieldEQ("organization_id", v.OrgID))
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// scope filters q, a query of a generated type, by the viewer's organization
// in column.
//
// The schema may import generated code (ent/intercept): ent wires the
// schema's hooks and interceptors from the package ent/runtime, which
// imports the schema, not from ent itself, so there is no import cycle. The
// price is that code generation loads the schema only while the generated
// code compiles: a type the generated code uses (in schematype, say) must
// keep its old name until `go generate` has run with the new one.
func scope(ctx context.Context, q ent.Query, column string) error {
	if viewer.IsSystem(ctx) {
		return nil
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return ErrNoViewer
	}
	// NewQuery wraps each generated query, whose Where takes a predicate
	// type of its own, behind one interface.
	tq, err := intercept.NewQuery(q)
	if err != nil {
		return err
	}
	tq.WhereP(sql.FieldEQ(column, v.OrgID))
	return nil
}
