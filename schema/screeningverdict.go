package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/intake/intake/schema/schematype"
)

// ScreeningVerdict is a screening model's decision on one record's data,
// kept so that the same question is never paid for twice: key is a hash of
// the model, the trigger's description and the record's redacted fit
// attributes, exactly what the model was shown. It holds no contact data.
type ScreeningVerdict struct{ ent.Schema }

func (ScreeningVerdict) Mixin() []ent.Mixin {
	return []ent.Mixin{withPrivateID("scv"), tenantMixin{}, createdOnly{}}
}

func (ScreeningVerdict) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(64).Immutable(),
		field.Enum("decision").GoType(schematype.ScreeningDecision("")).Immutable(),
		field.Text("reason").Default("").Immutable(),
	}
}

func (ScreeningVerdict) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "key").Unique(),
		index.Fields("created_at"),
	}
}

func (ScreeningVerdict) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
