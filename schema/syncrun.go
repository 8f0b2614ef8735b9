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

// SyncRun is one run of a trigger's sync, with counters that account for
// every fetched record.
type SyncRun struct{ ent.Schema }

func (SyncRun) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("run"), tenantMixin{}, timeMixin{}}
}

func (SyncRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("trigger_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").Values("SCHEDULED", "TEST", "WEBHOOK").Immutable(),
		field.Enum("status").Values("QUEUED", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED").
			Default("QUEUED"),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.Int("fetched").Default(0),
		field.Int("imported").Default(0),
		field.Int("duplicates").Default(0),
		field.Int("invalid_phone").Default(0),
		field.Int("filtered_out").Default(0),
		field.Int("failed").Default(0),
		field.Int("total").Optional().Nillable(),
		field.Text("error").Optional().Nillable(),
		// Engine state, never exposed: where the fetch resumes, the
		// watermark it fetches from, when its chain of runs began, and the
		// lease of the worker that owns the run.
		field.Text("cursor").Default("").Annotations(entgql.Skip()),
		field.Time("since").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("as_of").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("lease_owner").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("lease_expires_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int64("job_id").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

func (SyncRun) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("sync_runs").Field("trigger_id").
			Unique().Required().Immutable(),
		edge.To("issues", ImportIssue.Type).
			Annotations(entgql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
	}
}

func (SyncRun) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("trigger_id", "id"),
		index.Fields("status"),
		// A trigger never has two active runs, whatever the race.
		index.Fields("trigger_id").Unique().StorageKey("sync_run_one_active_per_trigger").
			Annotations(entsql.IndexWhere("status = 'QUEUED' OR status = 'RUNNING'")),
	}
}

// ImportIssue records why one fetched record was not imported.
type ImportIssue struct{ ent.Schema }

func (ImportIssue) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("iss"), tenantMixin{}, createdOnly{}}
}

func (ImportIssue) Fields() []ent.Field {
	return []ent.Field{
		field.String("run_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.String("external_id").Immutable(),
		field.Enum("code").Values("MISSING_PHONE", "INVALID_PHONE", "DUPLICATE", "FILTERED_OUT", "INVALID_RECORD").
			Immutable(),
		field.Text("message").Immutable(),
		field.String("raw_phone").Optional().Nillable().Immutable(),
	}
}

func (ImportIssue) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("run", SyncRun.Type).Ref("issues").Field("run_id").
			Unique().Required().Immutable(),
	}
}

func (ImportIssue) Indexes() []ent.Index {
	return []ent.Index{index.Fields("run_id", "id")}
}

func (SyncRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

func (ImportIssue) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
