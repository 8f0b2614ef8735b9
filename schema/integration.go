package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/intake/intake/schema/schematype"
)

// Integration is a connection to one external system with its credentials,
// which are stored sealed (internal/secrets) and never leave the server.
type Integration struct{ ent.Schema }

func (Integration) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("int"), tenantMixin{}, timeMixin{}}
}

func (Integration) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("provider").GoType(schematype.ProviderKey("")).Immutable().
			Annotations(entgql.Type("ProviderKey"), entgql.Skip(entgql.SkipType), EnumDoc{
				Description: "An external system Intake connects to. What each can do (search types, reference kinds, push-back, status mapping, webhooks) is in the providers catalogue.",
				Values:      schematype.ProviderKey("").Descriptions(),
			}),
		field.String("name").NotEmpty().MaxLen(200).
			Comment("Display name: 1 to 200 characters."),
		field.Enum("status").Values("CONNECTED", "ERROR", "DISCONNECTED").Default("DISCONNECTED").
			Comment("Whether the last check of the credentials passed, failed, or the integration was disconnected. Only a CONNECTED integration's triggers sync, and only a CONNECTED integration receives call results.").
			Annotations(EnumDoc{
				Description: "The state of an integration's connection to its external system.",
				Values: map[string]string{
					"CONNECTED":    "The last check of the credentials against the external system passed (connectIntegration, checkIntegration).",
					"ERROR":        "The last check failed: lastError says why. checkIntegration checks again.",
					"DISCONNECTED": "disconnectIntegration erased the credentials. Final: the integration's triggers no longer sync and its pending pushbacks are not delivered; connect a new integration instead.",
				},
			}),
		field.Bytes("credentials").Sensitive().
			Annotations(entgql.Skip()),
		field.Time("last_checked_at").Optional().Nillable().
			Comment("When the credentials were last checked against the external system, by connectIntegration or checkIntegration; null: never."),
		field.String("last_error").Optional().Nillable().MaxLen(2000).
			Comment("Why the last check failed (an external system's error text is cut to 300 characters); null when it passed, and after disconnectIntegration."),
		// The integration's own limit of requests to its external account
		// (exposed as Integration.rateLimit); null means the provider's.
		field.JSON("rate_limit", &schematype.RateLimit{}).Optional().
			Annotations(entgql.Skip()),
		// rate_account is ratebudget.AccountKey of the credentials: a hash
		// naming the external account, set when they are stored.
		field.String("rate_account").Optional().MaxLen(64).
			Annotations(entgql.Skip()),
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
		schema.Comment("A connection to one external system (an ATS or CRM) with its credentials, which are stored encrypted and never returned. Triggers import contacts through it and push call results back to it."),
		entgql.RelayConnection(),
		entgql.QueryField().Description("The organization's integrations, DISCONNECTED ones included, oldest first unless orderBy says otherwise."),
	}
}
