package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
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
			Comment(`The phone number in E.164 form, e.g. "+4930123456", unique within the campaign. A number without a country code was read in the campaign's phone region. Empty once the contact is erased.`),
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
		field.Other("attributes", schematype.JSONObject{}).Default(schematype.JSONObject(`{}`)).
			SchemaType(map[string]string{dialect.Postgres: "jsonb", dialect.SQLite: "json"}).
			Comment("Values from the external system kept with the contact: the fit attributes the provider offers (position, profession, status, location, source, tags, jobTitle, company, industry, lifecycleStage, leadStatus), which screening judges, and provider-specific values such as the IDs push-back needs.").
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		// The screening decision the contact was imported with (exposed
		// as Contact.screening); null when its trigger did not screen.
		field.Enum("screening_decision").GoType(schematype.ScreeningDecision("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Text("screening_reason").Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Enum("number_type").GoType(schematype.NumberType("")).Optional().Nillable().Immutable().
			Comment("What the number is (MOBILE, FIXED_LINE, ...), from the phone library's offline data when the contact was imported; null for contacts imported before Intake recorded it, and once erased.").
			Annotations(entgql.Type("NumberType"), EnumDoc{
				Description: "What a phone number is, from the phone library's offline data.",
				Values:      schematype.NumberType("").Descriptions(),
			}),
		field.String("time_zone").Optional().Nillable().
			Comment(`The IANA time zone of the number's area, e.g. "Europe/Berlin"; null when the data names none (non-geographic numbers), or several that keep different clocks (a North American toll-free number), and once erased. Of several zones that keep one clock (a British mobile: London, Guernsey, Jersey, Isle of Man), the first.`),
		field.String("region").Optional().Nillable().
			Comment(`The ISO 3166-1 alpha-2 region the number belongs to, e.g. "DE"; null for non-geographic numbers, and once erased.`),
		field.Time("erased_at").Optional().Nillable().
			Comment("When the person's data was erased: by eraseContact or erasePerson, or because the external system reported the person deleted or anonymised. Null otherwise. An erased contact keeps only its ID, campaign, trigger and times: its number (phoneE164 and phoneRaw are empty), names, e-mail, external ID (empty), attributes, screening reason and the transcripts of its calls are gone, it is never callable, and its undelivered pushbacks are CANCELLED."),
		field.String("erasure_reason").Optional().Nillable().
			Comment(`Why the contact was erased, without personal data, e.g. "eraseContact", "erasePerson", "HubSpot contact.privacyDeletion", "zvoove change log: Anonymized"; null unless erased.`),
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
		// Erased contacts have no number: the uniqueness of numbers holds
		// among the others.
		index.Fields("campaign_id", "phone_e164").Unique().StorageKey("contact_campaign_id_phone_e164_live").
			Annotations(entsql.IndexWhere("erased_at IS NULL")),
		// A campaign's page of contacts, and their count, from the index
		// alone (see ImportIssue's).
		index.Fields("campaign_id", "id").Annotations(entsql.IncludeColumns("organization_id")),
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
