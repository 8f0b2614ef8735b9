package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Erasure is a tombstone: a person of an external system whose data was
// erased, so that no sync imports them again. It holds no personal data:
// ref is a hash of the integration and the person's ID in its external
// system (engine.ErasureRef).
type Erasure struct{ ent.Schema }

func (Erasure) Mixin() []ent.Mixin {
	return []ent.Mixin{withPrivateID("era"), tenantMixin{}, createdOnly{}}
}

func (Erasure) Fields() []ent.Field {
	return []ent.Field{
		field.String("ref").NotEmpty().MaxLen(64).Immutable(),
		// reason is why, without personal data, as Contact.erasureReason.
		field.String("reason").Default("").Immutable(),
	}
}

func (Erasure) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "ref").Unique()}
}

func (Erasure) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
