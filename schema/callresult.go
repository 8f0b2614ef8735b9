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

// CallResult is the outcome of one call to a contact, as the calling
// platform reported it.
type CallResult struct{ ent.Schema }

func (CallResult) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("cal"), tenantMixin{}, createdOnly{}}
}

func (CallResult) Fields() []ent.Field {
	return []ent.Field{
		field.String("contact_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.Enum("outcome").GoType(schematype.CallOutcome("")).Immutable().
			Comment("How the call went.").
			Annotations(entgql.Type("CallOutcome"), EnumDoc{
				Description: "How a call went, as the calling platform reports it. Push-back sends it with the status the trigger's status mapping gives it.",
				Values:      schematype.CallOutcome("").Descriptions(),
			}),
		field.Text("transcript").Default("").Immutable().
			Comment(`The call's transcript as reported (at most 200,000 characters); "" when none was.`),
		field.JSON("question_results", []schematype.QuestionResult{}).Immutable().
			Annotations(entgql.Skip()),
		field.Time("called_at").Immutable().
			Comment("When the call took place, as reported; createdAt is when the result was recorded."),
		field.Int("duration_seconds").Default(0).Min(0).Immutable().
			Comment("The call's length in seconds, 0 to 86400; 0 when it was not reported."),
		field.Time("transcript_purged_at").Optional().Nillable().
			Comment("When the transcript and the answers were removed: after the transcript retention (INTAKE_RETENTION_TRANSCRIPTS), or because the contact was erased. Null while they are kept."),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(200).
			Annotations(entgql.Skip()),
	}
}

func (CallResult) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("contact", Contact.Type).Ref("call_results").Field("contact_id").
			Unique().Required().Immutable().
			Comment("The contact that was called."),
		edge.To("pushback", Pushback.Type).Unique().
			Comment("The delivery of the result to the external system; null when the contact's campaign had no trigger with push-back on when the result was recorded.").
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (CallResult) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("The outcome of one call to a contact, as the calling platform reported it with recordCallResult. When the contact's campaign has a trigger with push-back on, a pushback delivers it to that trigger's external system."),
	}
}

func (CallResult) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "idempotency_key").Unique(),
		index.Fields("contact_id"),
		// The retention job's way to the transcripts still kept.
		index.Fields("created_at").StorageKey("callresult_transcript_kept").
			Annotations(entsql.IndexWhere("transcript_purged_at IS NULL")),
	}
}

// Pushback is the delivery of one call result to the external system.
type Pushback struct{ ent.Schema }

func (Pushback) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("pbk"), tenantMixin{}, timeMixin{}}
}

func (Pushback) Fields() []ent.Field {
	return []ent.Field{
		field.String("call_result_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("trigger_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("PENDING", "DELIVERED", "RETRYING", "DEAD", "CANCELLED").Default("PENDING").
			Comment("Where the delivery stands.").
			Annotations(EnumDoc{
				Description: "Where the delivery of a call result to the external system stands.",
				Values: map[string]string{
					"PENDING":   "Queued for delivery, by recordCallResult or again by retryPushback; no attempt has failed since.",
					"DELIVERED": "The external system has the result. Final.",
					"RETRYING":  "An attempt failed temporarily (429, 5xx, timeout): lastError says why, and the next attempt is due at nextAttemptAt.",
					"DEAD":      "Not delivered and no longer tried: the external system refused it, the 12th attempt failed, push-back was switched off, the integration is no longer CONNECTED, or the provider cannot receive call results. lastError says why; retryPushback queues it again.",
					"CANCELLED": "Not delivered, and never will be: the contact was erased before delivery (lastError says how). Final, but for a delivery already on its way when the contact was erased: it ends DELIVERED if the external system accepted it. retryPushback refuses it.",
				},
			}),
		field.String("mapped_status").Optional().Nillable().
			Comment("The status the trigger's status mapping gives the call's outcome, set in the external system with the result; null when the trigger had no status mapping when the result was recorded."),
		field.Int("attempts").Default(0).
			Comment("Delivery attempts made since the pushback was created or last retried with retryPushback; after 12 failed attempts it is DEAD."),
		field.Text("last_error").Optional().Nillable().
			Comment("Why the last attempt failed, or why the pushback is DEAD (an external system's error text is cut to 300 characters); null until an attempt fails, and once delivered."),
		field.Time("next_attempt_at").Optional().Nillable().
			Comment("When the next attempt is due while the pushback is RETRYING; null otherwise."),
		field.Time("delivered_at").Optional().Nillable().
			Comment("When the result was delivered; null until the pushback is DELIVERED."),
	}
}

func (Pushback) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("call_result", CallResult.Type).Ref("pushback").Field("call_result_id").
			Unique().Required().Immutable().
			Comment("The call result delivered."),
		edge.From("trigger", Trigger.Type).Ref("pushbacks").Field("trigger_id").
			Unique().Required().Immutable().
			Comment("The trigger that had push-back on when the result was recorded: its integration receives the result."),
	}
}

func (Pushback) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("The delivery of one call result (outcome, transcript, question results and mapped status) to the external system of the campaign's push-back trigger. recordCallResult creates it PENDING; it ends DELIVERED or DEAD."),
	}
}

func (Pushback) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("trigger_id"),
		index.Fields("status", "next_attempt_at"),
	}
}
