-- Modify "api_keys" table
ALTER TABLE "api_keys" ADD COLUMN "name" character varying NOT NULL DEFAULT '', ADD COLUMN "expires_at" timestamptz NULL;
-- Create "audit_events" table
CREATE TABLE "audit_events" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "actor_kind" character varying NOT NULL, "actor_key_id" character varying NULL, "actor_name" character varying NOT NULL DEFAULT '', "operation" character varying NOT NULL, "target_id" character varying NOT NULL DEFAULT '', "related_ids" jsonb NULL, "fields" jsonb NULL, "outcome" character varying NOT NULL, PRIMARY KEY ("id"));
-- Create index "auditevent_organization_id_created_at" to table: "audit_events"
CREATE INDEX "auditevent_organization_id_created_at" ON "audit_events" ("organization_id", "created_at");
-- Create index "auditevent_organization_id_target_id_created_at" to table: "audit_events"
CREATE INDEX "auditevent_organization_id_target_id_created_at" ON "audit_events" ("organization_id", "target_id", "created_at");
