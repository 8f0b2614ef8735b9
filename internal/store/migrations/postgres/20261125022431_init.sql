-- Create "api_keys" table
CREATE TABLE "api_keys" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "hash" character varying NOT NULL, "role" character varying NOT NULL DEFAULT 'ADMIN', "revoked_at" timestamptz NULL, "last_used_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "api_keys_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys" ("hash");
-- Create index "apikey_organization_id" to table: "api_keys"
CREATE INDEX "apikey_organization_id" ON "api_keys" ("organization_id");
-- Create "campaigns" table
CREATE TABLE "campaigns" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "phone_region" character varying NOT NULL DEFAULT 'DE', PRIMARY KEY ("id"));
-- Create index "campaign_organization_id_created_at" to table: "campaigns"
CREATE INDEX "campaign_organization_id_created_at" ON "campaigns" ("organization_id", "created_at");
-- Create "organizations" table
CREATE TABLE "organizations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "name" character varying NOT NULL, PRIMARY KEY ("id"));
-- Create index "organizations_name_key" to table: "organizations"
CREATE UNIQUE INDEX "organizations_name_key" ON "organizations" ("name");
-- Create "integrations" table
CREATE TABLE "integrations" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "provider" character varying NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'DISCONNECTED', "credentials" bytea NOT NULL, "last_checked_at" timestamptz NULL, "last_error" character varying NULL, PRIMARY KEY ("id"));
-- Create index "integration_organization_id_created_at" to table: "integrations"
CREATE INDEX "integration_organization_id_created_at" ON "integrations" ("organization_id", "created_at");
-- Create "triggers" table
CREATE TABLE "triggers" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "enabled" boolean NOT NULL DEFAULT false, "search_type" character varying NOT NULL, "search_params" jsonb NOT NULL, "description" text NOT NULL DEFAULT '', "pushback_enabled" boolean NOT NULL DEFAULT false, "sync_interval_seconds" bigint NOT NULL DEFAULT 900, "last_sync_at" timestamptz NULL, "next_sync_at" timestamptz NULL, "campaign_id" character varying NOT NULL, "integration_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "triggers_campaigns_triggers" FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "triggers_integrations_triggers" FOREIGN KEY ("integration_id") REFERENCES "integrations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "trigger_campaign_id_integration_id" to table: "triggers"
CREATE UNIQUE INDEX "trigger_campaign_id_integration_id" ON "triggers" ("campaign_id", "integration_id");
-- Create index "trigger_enabled_next_sync_at" to table: "triggers"
CREATE INDEX "trigger_enabled_next_sync_at" ON "triggers" ("enabled", "next_sync_at");
-- Create index "trigger_integration_id" to table: "triggers"
CREATE INDEX "trigger_integration_id" ON "triggers" ("integration_id");
-- Create index "trigger_one_pushback_per_campaign" to table: "triggers"
CREATE UNIQUE INDEX "trigger_one_pushback_per_campaign" ON "triggers" ("campaign_id") WHERE pushback_enabled;
-- Create index "trigger_organization_id" to table: "triggers"
CREATE INDEX "trigger_organization_id" ON "triggers" ("organization_id");
-- Create "contacts" table
CREATE TABLE "contacts" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "phone_e164" character varying NOT NULL, "phone_raw" character varying NOT NULL, "first_name" character varying NULL, "last_name" character varying NULL, "email" character varying NULL, "external_id" character varying NOT NULL, "attributes" jsonb NOT NULL, "campaign_id" character varying NOT NULL, "trigger_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "contacts_campaigns_contacts" FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "contacts_triggers_contacts" FOREIGN KEY ("trigger_id") REFERENCES "triggers" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "contact_campaign_id_external_id" to table: "contacts"
CREATE INDEX "contact_campaign_id_external_id" ON "contacts" ("campaign_id", "external_id");
-- Create index "contact_campaign_id_id" to table: "contacts"
CREATE INDEX "contact_campaign_id_id" ON "contacts" ("campaign_id", "id");
-- Create index "contact_campaign_id_phone_e164" to table: "contacts"
CREATE UNIQUE INDEX "contact_campaign_id_phone_e164" ON "contacts" ("campaign_id", "phone_e164");
-- Create index "contact_trigger_id" to table: "contacts"
CREATE INDEX "contact_trigger_id" ON "contacts" ("trigger_id");
-- Create "call_results" table
CREATE TABLE "call_results" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "outcome" character varying NOT NULL, "transcript" text NOT NULL DEFAULT '', "question_results" jsonb NOT NULL, "called_at" timestamptz NOT NULL, "duration_seconds" bigint NOT NULL DEFAULT 0, "idempotency_key" character varying NULL, "contact_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "call_results_contacts_call_results" FOREIGN KEY ("contact_id") REFERENCES "contacts" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "callresult_contact_id" to table: "call_results"
CREATE INDEX "callresult_contact_id" ON "call_results" ("contact_id");
-- Create index "callresult_organization_id_idempotency_key" to table: "call_results"
CREATE UNIQUE INDEX "callresult_organization_id_idempotency_key" ON "call_results" ("organization_id", "idempotency_key");
-- Create "sync_runs" table
CREATE TABLE "sync_runs" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'QUEUED', "started_at" timestamptz NULL, "finished_at" timestamptz NULL, "fetched" bigint NOT NULL DEFAULT 0, "imported" bigint NOT NULL DEFAULT 0, "duplicates" bigint NOT NULL DEFAULT 0, "invalid_phone" bigint NOT NULL DEFAULT 0, "filtered_out" bigint NOT NULL DEFAULT 0, "failed" bigint NOT NULL DEFAULT 0, "total" bigint NULL, "error" text NULL, "trigger_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "sync_runs_triggers_sync_runs" FOREIGN KEY ("trigger_id") REFERENCES "triggers" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "syncrun_status" to table: "sync_runs"
CREATE INDEX "syncrun_status" ON "sync_runs" ("status");
-- Create index "syncrun_trigger_id_id" to table: "sync_runs"
CREATE INDEX "syncrun_trigger_id_id" ON "sync_runs" ("trigger_id", "id");
-- Create "import_issues" table
CREATE TABLE "import_issues" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "external_id" character varying NOT NULL, "code" character varying NOT NULL, "message" text NOT NULL, "raw_phone" character varying NULL, "run_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "import_issues_sync_runs_issues" FOREIGN KEY ("run_id") REFERENCES "sync_runs" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "importissue_run_id_id" to table: "import_issues"
CREATE INDEX "importissue_run_id_id" ON "import_issues" ("run_id", "id");
-- Create "pushbacks" table
CREATE TABLE "pushbacks" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "mapped_status" character varying NULL, "attempts" bigint NOT NULL DEFAULT 0, "last_error" text NULL, "next_attempt_at" timestamptz NULL, "delivered_at" timestamptz NULL, "call_result_id" character varying NOT NULL, "trigger_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "pushbacks_call_results_pushback" FOREIGN KEY ("call_result_id") REFERENCES "call_results" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "pushbacks_triggers_pushbacks" FOREIGN KEY ("trigger_id") REFERENCES "triggers" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "pushback_status_next_attempt_at" to table: "pushbacks"
CREATE INDEX "pushback_status_next_attempt_at" ON "pushbacks" ("status", "next_attempt_at");
-- Create index "pushback_trigger_id" to table: "pushbacks"
CREATE INDEX "pushback_trigger_id" ON "pushbacks" ("trigger_id");
-- Create index "pushbacks_call_result_id_key" to table: "pushbacks"
CREATE UNIQUE INDEX "pushbacks_call_result_id_key" ON "pushbacks" ("call_result_id");
-- Create "references" table
CREATE TABLE "references" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "external_id" character varying NOT NULL, "kind" character varying NOT NULL, "name" character varying NOT NULL, "trigger_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "references_triggers_references" FOREIGN KEY ("trigger_id") REFERENCES "triggers" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "reference_trigger_id_kind_external_id" to table: "references"
CREATE UNIQUE INDEX "reference_trigger_id_kind_external_id" ON "references" ("trigger_id", "kind", "external_id");
-- Create "status_mappings" table
CREATE TABLE "status_mappings" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "success" character varying NOT NULL, "partial" character varying NOT NULL, "failure" character varying NOT NULL, "not_answered" character varying NOT NULL, "trigger_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "status_mappings_triggers_status_mapping" FOREIGN KEY ("trigger_id") REFERENCES "triggers" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "status_mappings_trigger_id_key" to table: "status_mappings"
CREATE UNIQUE INDEX "status_mappings_trigger_id_key" ON "status_mappings" ("trigger_id");
