package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/intake/intake/schema/schematype"
)

// Campaign is a calling campaign; its contacts come in through its triggers.
type Campaign struct{ ent.Schema }

func (Campaign) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("cmp"), tenantMixin{}, timeMixin{}}
}

func (Campaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Comment("The campaign's name: 1 to 200 characters.").
			Annotations(entgql.OrderField("NAME")),
		field.String("phone_region").Default("DE").MaxLen(2).
			Comment(`ISO 3166-1 alpha-2 region (e.g. "DE", the default) in which phone numbers without a country code are read when contacts are imported. A change applies to contacts imported from then on.`),
		// The types of numbers the campaign calls (exposed as
		// Campaign.acceptedNumberTypes); null means the default,
		// schematype.DefaultAcceptedNumberTypes.
		field.JSON("accepted_number_types", []schematype.NumberType{}).Optional().
			Annotations(entgql.Skip()),
		// When the campaign calls (exposed as Campaign.callingHours); null
		// means the default, schematype.DefaultCallingHours.
		field.JSON("calling_hours", []schematype.CallingWindow{}).Optional().
			Annotations(entgql.Skip()),
	}
}

func (Campaign) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("triggers", Trigger.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
		edge.To("contacts", Contact.Type).
			Comment("The contacts imported into the campaign, oldest first.").
			Annotations(entgql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
	}
}

func (Campaign) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "created_at")}
}

func (Campaign) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("An AI phone-calling campaign: the contacts to call, imported by its triggers (one per connected integration), and the results of their calls."),
		entgql.RelayConnection(),
		entgql.QueryField().Description("The organization's campaigns, oldest first unless orderBy says otherwise."),
	}
}
