package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/intake/intake/schema/schematype"
)

// AuditEvent records one change made to an organization's configuration or
// one sync started: who did it, what, when, and how it ended. It never holds
// credentials or contact data: only IDs, the names of the fields an input
// set, and an error code.
type AuditEvent struct{ ent.Schema }

func (AuditEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{withPrivateID("aud"), tenantMixin{}, createdOnly{}}
}

func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		// actor_kind is who acted: an API key, a webhook of an external
		// system, the scheduler, or Intake itself.
		field.Enum("actor_kind").GoType(schematype.AuditActorKind("")).Immutable(),
		// The API key that acted, with its name at the time.
		field.String("actor_key_id").Optional().Nillable().Immutable(),
		field.String("actor_name").Default("").Immutable(),
		// operation is the GraphQL mutation or the event, e.g.
		// "configureTrigger", "testSync", "webhookSync".
		field.String("operation").NotEmpty().Immutable(),
		// target_id is the main object acted on (a trigger, an
		// integration, a key); related_ids are the others (a campaign).
		field.String("target_id").Default("").Immutable(),
		field.JSON("related_ids", []string{}).Optional().Immutable(),
		// fields are the names of the input fields the operation set.
		field.JSON("fields", []string{}).Optional().Immutable(),
		// outcome is "ok" or the error code (VALIDATION_FAILED, ...).
		field.String("outcome").NotEmpty().Immutable(),
	}
}

func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "created_at"),
		index.Fields("organization_id", "target_id", "created_at"),
	}
}

func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
