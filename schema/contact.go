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
	"github.com/intake/intake/schema/schematype"
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
		field.String("phone_e164").NotEmpty().MaxLen(16).Immutable().
			Comment(`The phone number in E.164 form, e.g. "+4930123456", unique within the campaign. A number without a country code was read in the campaign's phone region.`),
		field.String("phone_raw").MaxLen(250).
			Comment("The phone number as the external system gave it: the first usable one of the record's numbers, at most 250 characters."),
		field.String("first_name").Optional().Nillable().
			Comment("First name in the external system; null when it has none."),
		field.String("last_name").Optional().Nillable().
			Comment("Last name in the external system; null when it has none."),
		field.String("email").Optional().Nillable().
			Comment("Email address in the external system, as given there; null when it has none."),
		field.String("external_id").MaxLen(200).
			Comment("The ID of the record in the external system that the contact was imported from (at most 200 characters)."),
		field.JSON("attributes", map[string]any{}).Default(map[string]any{}).
			Comment("Values from the external system kept with the contact: the fit attributes the provider offers (position, profession, status, location, source, tags, jobTitle, company, industry, lifecycleStage, leadStatus), which screening judges, and provider-specific values such as the IDs push-back needs.").
			Annotations(entgql.Type("Map")),
		// The screening decision the contact was imported with (exposed
		// as Contact.screening); null when its trigger did not screen.
		field.Enum("screening_decision").GoType(schematype.ScreeningDecision("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Text("screening_reason").Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
	}
}

func (Contact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("contacts").Field("campaign_id").
			Unique().Required().Immutable().
			Comment("The campaign the contact belongs to."),
		edge.From("trigger", Trigger.Type).Ref("contacts").Field("trigger_id").Unique().
			Comment("The trigger whose sync imported the contact; null when that trigger no longer exists."),
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
	return []schema.Annotation{
		schema.Comment("A person to call, imported into a campaign by a sync of one of its triggers. Its phone number is unique within the campaign: a record with a number the campaign already has becomes a DUPLICATE import issue."),
		entgql.RelayConnection(),
	}
}
