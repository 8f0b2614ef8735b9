package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Integration is a connection to one external system with its credentials,
// which are stored sealed (internal/secrets) and never leave the server.
type Integration struct{ ent.Schema }

func (Integration) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("int"), tenantMixin{}, timeMixin{}}
}

func (Integration) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("provider").Values("ZVOOVE", "TALENTION", "COMPLEET", "HUBSPOT").Immutable().
			Annotations(entgql.Type("ProviderKey"), entgql.Skip(entgql.SkipType)),
		field.String("name").NotEmpty().MaxLen(200),
		field.Enum("status").Values("CONNECTED", "ERROR", "DISCONNECTED").Default("DISCONNECTED"),
		field.Bytes("credentials").Sensitive().
			Annotations(entgql.Skip()),
		field.Time("last_checked_at").Optional().Nillable(),
		field.String("last_error").Optional().Nillable().MaxLen(2000),
	}
}

func (Integration) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("triggers", Trigger.Type).Annotations(entgql.Skip()),
	}
}

func (Integration) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "created_at")}
}

func (Integration) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
	}
}
