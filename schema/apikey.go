package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/intake/intake/schema/schematype"
)

// APIKey authenticates a caller as ADMIN or VIEWER of an organization. Only
// a SHA-256 hash of the key is stored; the key itself is shown once. A key
// stops working when it is revoked or expires.
type APIKey struct{ ent.Schema }

func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{withPrivateID("key"), tenantMixin{}, createdOnly{}}
}

func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		// name says what the key is for ("dialer", "CRM sync"); keys
		// created before keys had names have "".
		field.String("name").Default("").MaxLen(200),
		field.String("hash").Sensitive().Unique().Immutable(),
		field.Enum("role").GoType(schematype.Role("")).Default(string(schematype.RoleAdmin)),
		field.Time("expires_at").Optional().Nillable().Immutable(),
		field.Time("revoked_at").Optional().Nillable(),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

func (APIKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id")}
}

func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
