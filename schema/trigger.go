package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Trigger is a campaign's configuration for pulling contacts from one
// integration (and pushing call results back to it).
type Trigger struct{ ent.Schema }

func (Trigger) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("trg"), tenantMixin{}, timeMixin{}}
}

func (Trigger) Fields() []ent.Field {
	return []ent.Field{
		field.String("campaign_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("integration_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.Bool("enabled").Default(false),
		field.String("search_type").NotEmpty(),
		field.JSON("search_params", map[string]any{}).Default(map[string]any{}).
			Annotations(entgql.Type("Map")),
		field.Text("description").Default(""),
		field.Bool("pushback_enabled").Default(false),
		field.Int("sync_interval_seconds").Default(900).Min(60),
		field.Time("last_sync_at").Optional().Nillable(),
		field.Time("next_sync_at").Optional().Nillable(),
		// Engine state, never exposed: "new applications" fetch records
		// created at or after the watermark; a run that ended PARTIAL leaves
		// its cursor for the next run to continue from.
		field.Time("watermark").Optional().Nillable().Annotations(entgql.Skip()),
		field.Text("resume_cursor").Default("").Annotations(entgql.Skip()),
		field.Time("resume_since").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("resume_as_of").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

func (Trigger) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("triggers").Field("campaign_id").
			Unique().Required().Immutable(),
		edge.From("integration", Integration.Type).Ref("triggers").Field("integration_id").
			Unique().Required().Immutable(),
		edge.To("references", Reference.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
		edge.To("status_mapping", StatusMapping.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("sync_runs", SyncRun.Type).
			Annotations(entgql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
		edge.To("contacts", Contact.Type).Annotations(entgql.Skip()),
		edge.To("pushbacks", Pushback.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
	}
}

func (Trigger) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "integration_id").Unique(),
		// At most one trigger per campaign pushes call results back, even
		// when two requests race.
		index.Fields("campaign_id").Unique().StorageKey("trigger_one_pushback_per_campaign").
			Annotations(entsql.IndexWhere("pushback_enabled")),
		index.Fields("integration_id"),
		index.Fields("organization_id"),
		index.Fields("enabled", "next_sync_at"),
	}
}

// Reference is an external job, office, list, ... a trigger pulls from.
type Reference struct{ ent.Schema }

func (Reference) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("ref"), tenantMixin{}, createdOnly{}}
}

func (Reference) Fields() []ent.Field {
	return []ent.Field{
		field.String("trigger_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("external_id").NotEmpty().MaxLen(200),
		field.Enum("kind").Values("JOB", "CAMPAIGN", "LIST", "SEGMENT", "OFFICE").
			Annotations(entgql.Type("ReferenceKind")),
		field.String("name").MaxLen(500),
	}
}

func (Reference) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("references").Field("trigger_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

func (Reference) Indexes() []ent.Index {
	return []ent.Index{index.Fields("trigger_id", "kind", "external_id").Unique()}
}

func (Reference) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}

// StatusMapping maps each call outcome to a status name in the external
// system. It exists only when all four names are set.
type StatusMapping struct{ ent.Schema }

func (StatusMapping) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("stm"), tenantMixin{}, timeMixin{}}
}

func (StatusMapping) Fields() []ent.Field {
	return []ent.Field{
		field.String("trigger_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("success").NotEmpty(),
		field.String("partial").NotEmpty(),
		field.String("failure").NotEmpty(),
		field.String("not_answered").NotEmpty(),
	}
}

func (StatusMapping) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("status_mapping").Field("trigger_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

func (StatusMapping) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
