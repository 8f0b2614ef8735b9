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
		field.Bool("enabled").Default(false).
			Comment("Whether the trigger syncs: on its schedule, with testSync and on webhooks. Only a trigger of a CONNECTED integration can be enabled, and only such a trigger syncs."),
		field.String("search_type").NotEmpty().
			Comment(`The key of the search the trigger's syncs run, one of its provider's search types (Provider.searchTypes), e.g. "new_applications".`),
		field.JSON("search_params", map[string]any{}).Default(map[string]any{}).
			Comment("The search type's parameters by key, validated against its fields (SearchType.fields); {} when it takes none.").
			Annotations(entgql.Type("Map")),
		field.Text("description").Default("").
			Comment(`Free text describing who fits the campaign, e.g. "Nurses with 3+ years experience"; at most 2000 characters, "" when none. When the server has a screening model (screening ACTIVE), each record a sync would import is judged against it and only fitting records are imported; without one (NOT_CONFIGURED) it filters nothing.`),
		field.Bool("import_unsure").Default(true).
			Comment("Whether a record the screening model cannot judge (decision UNSURE: the record lacks the data) is imported (true, the default) or becomes a SCREENED_OUT import issue."),
		field.Bool("pushback_enabled").Default(false).
			Comment("Whether the results of calls to the campaign's contacts are pushed back to this trigger's integration. At most one trigger of a campaign has it on."),
		field.Int("sync_interval_seconds").Default(900).Min(60).
			Comment("Seconds between scheduled syncs: 60 to 2592000 (30 days), 900 by default."),
		field.Time("last_sync_at").Optional().Nillable().
			Comment("When a run of the trigger last ended SUCCEEDED, PARTIAL or FAILED; null until one has. Cancelled runs leave it as it was."),
		field.Time("next_sync_at").Optional().Nillable().
			Comment("When the scheduler next starts a sync; null while the trigger is disabled. A trigger is due at once when it becomes enabled."),
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
			Unique().Required().Immutable().
			Comment("The campaign the trigger imports contacts into."),
		edge.From("integration", Integration.Type).Ref("triggers").Field("integration_id").
			Unique().Required().Immutable().
			Comment("The integration the trigger imports contacts from and, with pushbackEnabled, pushes call results back to."),
		edge.To("references", Reference.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
		edge.To("status_mapping", StatusMapping.Type).Unique().
			Comment("The candidate status mapping: the status push-back sets in the external system for each call outcome. Null when the trigger has none: pushbacks then set no status.").
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("sync_runs", SyncRun.Type).
			Comment("The trigger's sync runs, oldest first unless orderBy says otherwise.").
			Annotations(entgql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
		edge.To("contacts", Contact.Type).Annotations(entgql.Skip()),
		edge.To("pushbacks", Pushback.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
	}
}

func (Trigger) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("A campaign's configuration for one connected integration, set with configureTrigger: which records its syncs import (search type, parameters, references), how often, and whether call results are pushed back, with the candidate status mapping. A campaign has at most one trigger per integration."),
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
		field.String("external_id").NotEmpty().MaxLen(200).
			Comment("The reference's ID in the external system: 1 to 200 characters."),
		field.Enum("kind").GoType(schematype.ReferenceKind("")).
			Comment("What the reference is: one of the provider's reference kinds.").
			Annotations(entgql.Type("ReferenceKind"), EnumDoc{
				Description: "What a reference is in the external system. Each provider offers some kinds (Provider.referenceKinds).",
				Values:      schematype.ReferenceKind("").Descriptions(),
			}),
		field.String("name").MaxLen(500).
			Comment("Its name, for display: at most 500 characters, may be empty."),
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
	return []schema.Annotation{
		schema.Comment("A job, office, list, ... of the external system that a trigger's syncs are limited to: only records that belong to one of the trigger's references are imported, the others become FILTERED_OUT import issues. A trigger without references imports records of any reference."),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
	}
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
		field.String("success").NotEmpty().
			Comment("The external status for a SUCCESS call."),
		field.String("partial").NotEmpty().
			Comment("The external status for a PARTIAL call."),
		field.String("failure").NotEmpty().
			Comment("The external status for a FAILURE call."),
		field.String("not_answered").NotEmpty().
			Comment("The external status for a NOT_ANSWERED call."),
	}
}

func (StatusMapping) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("status_mapping").Field("trigger_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

func (StatusMapping) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("A trigger's candidate status mapping: for each call outcome, the name (1 to 100 characters) of the status that push-back sets in the external system. It exists only with all four names, push-back on, and a provider that supports status mapping."),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
	}
}
