package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
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
		field.Enum("outcome").Values("SUCCESS", "PARTIAL", "FAILURE", "NOT_ANSWERED").Immutable().
			Annotations(entgql.Type("CallOutcome")),
		field.Text("transcript").Default("").Immutable(),
		field.JSON("question_results", []schematype.QuestionResult{}).Immutable().
			Annotations(entgql.Skip()),
		field.Time("called_at").Immutable(),
		field.Int("duration_seconds").Default(0).Min(0).Immutable(),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(200).
			Annotations(entgql.Skip()),
	}
}

func (CallResult) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("contact", Contact.Type).Ref("call_results").Field("contact_id").
			Unique().Required().Immutable(),
		edge.To("pushback", Pushback.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (CallResult) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "idempotency_key").Unique(),
		index.Fields("contact_id"),
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
		field.Enum("status").Values("PENDING", "DELIVERED", "RETRYING", "DEAD").Default("PENDING"),
		field.String("mapped_status").Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.Text("last_error").Optional().Nillable(),
		field.Time("next_attempt_at").Optional().Nillable(),
		field.Time("delivered_at").Optional().Nillable(),
	}
}

func (Pushback) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("call_result", CallResult.Type).Ref("pushback").Field("call_result_id").
			Unique().Required().Immutable(),
		edge.From("trigger", Trigger.Type).Ref("pushbacks").Field("trigger_id").
			Unique().Required().Immutable(),
	}
}

func (Pushback) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("trigger_id"),
		index.Fields("status", "next_attempt_at"),
	}
}
