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

// SyncRun is one run of a trigger's sync, with counters that account for
// every fetched record.
type SyncRun struct{ ent.Schema }

func (SyncRun) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("run"), tenantMixin{}, timeMixin{}}
}

func (SyncRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("trigger_id").GoType(idType).Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").Values("SCHEDULED", "TEST", "WEBHOOK").Immutable().
			Comment("What started the run.").
			Annotations(EnumDoc{
				Description: "What started a sync run.",
				Values: map[string]string{
					"SCHEDULED": "Started by the scheduler, every syncIntervalSeconds of an enabled trigger.",
					"TEST":      "Started with testSync.",
					"WEBHOOK":   "Started by a verified webhook of the external system (POST /webhooks/{provider}/{integrationID}).",
				},
			}),
		field.Enum("status").Values("QUEUED", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED").
			Default("QUEUED").
			Comment("Where the run stands; SUCCEEDED, PARTIAL, FAILED and CANCELLED are final.").
			Annotations(EnumDoc{
				Description: "Where a sync run stands. A trigger has at most one QUEUED or RUNNING run.",
				Values: map[string]string{
					"QUEUED":    "Waiting for a worker.",
					"RUNNING":   "A worker is fetching and importing pages; each page is imported, with the run's counters, in one transaction.",
					"SUCCEEDED": "The fetch reached its end. Final.",
					"PARTIAL":   "The external system failed temporarily (5xx, 429, timeouts) after retries, or the screening model failed to judge some record: the pages imported stay, and the trigger's next run continues where this one stopped. Final.",
					"FAILED":    "A permanent error (bad credentials, a refused request), the trigger disabled or its integration not CONNECTED when the run started, or the run's attempts spent; error says why. Final.",
					"CANCELLED": "Cancelled with cancelSyncRun; the pages imported before stay. Final.",
				},
			}),
		field.Time("started_at").Optional().Nillable().
			Comment("When a worker first took the run; null if none has (yet)."),
		field.Time("waiting_for_budget_since").Optional().Nillable().
			Comment("Since when the run has been waiting for the rate budget of its integration's external account (its requests, with everyone else's, would exceed the account's limits); null while it is not waiting."),
		field.Time("finished_at").Optional().Nillable().
			Comment("When the run ended; null while it is QUEUED or RUNNING."),
		field.Int("fetched").Default(0).
			Comment("Records fetched from the external system and processed so far. Always imported + duplicates + invalidPhone + filteredOut + failed + screenedOut + erased + doNotCall."),
		field.Int("imported").Default(0).
			Comment("Contacts created."),
		field.Int("duplicates").Default(0).
			Comment("Records whose number the campaign already had, or an earlier record of the same page had (DUPLICATE import issues)."),
		field.Int("invalid_phone").Default(0).
			Comment("Records without a usable phone number (MISSING_PHONE, INVALID_PHONE and UNSUPPORTED_NUMBER_TYPE import issues)."),
		field.Int("filtered_out").Default(0).
			Comment("Records of none of the trigger's references (FILTERED_OUT import issues)."),
		field.Int("failed").Default(0).
			Comment("Records the connector could not read completely (INVALID_RECORD import issues)."),
		field.Int("screened").Default(0).
			Comment("Records judged against the trigger's description (screening ACTIVE): the records that passed every other check, decided by the model or taken from earlier decisions on the same data."),
		field.Int("screened_out").Default(0).
			Comment("Records not imported because of their screening decision (SCREENED_OUT import issues): NO_MATCH, and UNSURE when the trigger's importUnsure is off."),
		field.Int("unsure").Default(0).
			Comment("Records the model could not judge for lack of data (decision UNSURE), imported or not by the trigger's importUnsure."),
		field.Int("screening_tokens").Default(0).
			Comment("Tokens the screening model reported for this run's requests (prompt and completion); decisions reused from earlier runs cost none."),
		field.Int("erased").Default(0).
			Comment("Records of erased people (ERASED import issues): reported deleted or anonymised by the external system, or erased in Intake before."),
		field.Int("do_not_call").Default(0).
			Comment("Records whose number is on the organization's do-not-call list (DO_NOT_CALL import issues)."),
		field.Int("total").Optional().Nillable().
			Comment("How many records the external system says the search matches, when it says so; null otherwise."),
		field.Text("error").Optional().Nillable().
			Comment("Why a PARTIAL or FAILED run did not succeed, or a note on a SUCCEEDED run that fetched nothing (an external system's error text is cut to 300 characters); null otherwise."),
		// Engine state, never exposed: where the fetch resumes, the
		// watermark it fetches from, when its chain of runs began, and the
		// lease of the worker that owns the run.
		field.Text("cursor").Default("").Annotations(entgql.Skip()),
		field.Time("since").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("as_of").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("lease_owner").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("lease_expires_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int64("job_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.Enum("screening").GoType(schematype.ScreeningState("")).Default(string(schematype.ScreeningOff)).
			Comment("Whether the trigger's description is applied to this run's records: as the trigger stood when the run was queued, and as it was worked once a worker took it. NOT_CONFIGURED means it was not, since the server has no screening model.").
			Annotations(entgql.Type("ScreeningState"), EnumDoc{
				Description: "Whether a trigger's description decides which of its records are imported.",
				Values:      schematype.ScreeningState("").Descriptions(),
			}),
	}
}

func (SyncRun) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("sync_runs").Field("trigger_id").
			Unique().Required().Immutable().
			Comment("The trigger the run syncs."),
		edge.To("issues", ImportIssue.Type).
			Comment("The records the run fetched but did not import, one import issue each, oldest first.").
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
		field.String("external_id").Immutable().
			Comment("The record's ID in the external system (at most 200 characters)."),
		field.Enum("code").GoType(schematype.ImportIssueCode("")).Immutable().
			Comment("Why the record was not imported.").
			Annotations(entgql.Type("ImportIssueCode"), EnumDoc{
				Description: "Why a fetched record was not imported. A record is checked in this order, and the first problem found is its issue: INVALID_RECORD, MISSING_PHONE or INVALID_PHONE, FILTERED_OUT, DUPLICATE.",
				Values:      schematype.ImportIssueCode("").Descriptions(),
			}),
		field.Text("message").Immutable().
			Comment("What was wrong, in words (at most 1000 characters); for a DUPLICATE, the number and, when known, the contact that has it."),
		field.String("raw_phone").Optional().Nillable().Immutable().
			Comment("The phone number concerned, as the record gave it: the first unusable one for INVALID_PHONE, the record's number for DUPLICATE; null for the other codes."),
	}
}

func (ImportIssue) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("run", SyncRun.Type).Ref("issues").Field("run_id").
			Unique().Required().Immutable().
			Comment("The sync run that fetched the record."),
	}
}

func (ImportIssue) Indexes() []ent.Index {
	return []ent.Index{
		// A run's page of issues, and their count. The organization is
		// included so that the count, which every read scopes to the
		// caller's organization, is answered from the index alone
		// (PostgreSQL; SQLite has no INCLUDE).
		index.Fields("run_id", "id").Annotations(entsql.IncludeColumns("organization_id")),
		index.Fields("created_at"), // the retention job's
	}
}

func (SyncRun) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("One sync of a trigger: records fetched from its external system and imported into the campaign. Every fetched record becomes a contact or an import issue, so fetched = imported + duplicates + invalidPhone + filteredOut + failed + screenedOut + erased + doNotCall (import issues older than the retention, INTAKE_RETENTION_IMPORT_ISSUES, are deleted; the counters stay)."),
		entgql.RelayConnection(),
	}
}

func (ImportIssue) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("A record that a sync run fetched but did not import, and why."),
		entgql.RelayConnection(),
	}
}
