package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/intake/intake/internal/pulid"
)

var idType = pulid.ID("")

// Contact is a person imported into a campaign; its E.164 phone number is
// unique within the campaign.
type Contact struct{ ent.Schema }

func (Contact) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("con"), tenantMixin{}, createdOnly{}}
}

func (Contact) Fields() []ent.Field {
	return []ent.Field{
		field.String("campaign_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("trigger_id").GoType(idType).Optional().Nillable().Annotations(entgql.Skip()),
		field.String("phone_e164").NotEmpty().MaxLen(16).Immutable(),
		field.String("phone_raw").MaxLen(250),
		field.String("first_name").Optional().Nillable(),
		field.String("last_name").Optional().Nillable(),
		field.String("email").Optional().Nillable(),
		field.String("external_id").MaxLen(200),
		field.JSON("attributes", map[string]any{}).Default(map[string]any{}).
			Annotations(entgql.Type("Map")),
	}
}

func (Contact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("contacts").Field("campaign_id").
			Unique().Required().Immutable(),
		edge.From("trigger", Trigger.Type).Ref("contacts").Field("trigger_id").Unique(),
		edge.To("call_results", CallResult.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
	}
}

func (Contact) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "phone_e164").Unique(),
		index.Fields("campaign_id", "id"),
		index.Fields("campaign_id", "external_id"),
		index.Fields("trigger_id"),
	}
}

func (Contact) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
