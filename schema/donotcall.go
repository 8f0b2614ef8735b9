package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/intake/intake/schema/schematype"
)

// DoNotCall is a number of the organization's do-not-call list: no sync
// imports it, and no contact with it is callable.
type DoNotCall struct{ ent.Schema }

func (DoNotCall) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("dnc"), tenantMixin{}, createdOnly{}}
}

func (DoNotCall) Fields() []ent.Field {
	return []ent.Field{
		field.String("phone_e164").NotEmpty().MaxLen(16).Immutable().
			Comment(`The number in E.164 form, e.g. "+4915112345678".`),
		field.Enum("source").GoType(schematype.DoNotCallSource("")).Immutable().
			Comment("How the number came onto the list.").
			Annotations(entgql.Type("DoNotCallSource"), EnumDoc{
				Description: "How a number came onto the do-not-call list.",
				Values:      schematype.DoNotCallSource("").Descriptions(),
			}),
		field.String("note").Optional().Nillable().MaxLen(500).Immutable().
			Comment("The note given with addDoNotCall (at most 500 characters); null when none."),
	}
}

func (DoNotCall) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "phone_e164").Unique()}
}

func (DoNotCall) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("A number of the organization's do-not-call list. Syncs skip it (DO_NOT_CALL import issues) and contacts with it are not callable, in every campaign."),
		entgql.RelayConnection(),
		entgql.QueryField("doNotCallNumbers").Description("The organization's do-not-call list, oldest first."),
	}
}
