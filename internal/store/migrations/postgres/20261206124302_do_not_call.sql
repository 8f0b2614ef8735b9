-- Modify "sync_runs" table
ALTER TABLE "sync_runs" ADD COLUMN "do_not_call" bigint NOT NULL DEFAULT 0;
-- Create "do_not_calls" table
CREATE TABLE "do_not_calls" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "phone_e164" character varying NOT NULL, "source" character varying NOT NULL, "note" character varying NULL, PRIMARY KEY ("id"));
-- Create index "donotcall_organization_id_phone_e164" to table: "do_not_calls"
CREATE UNIQUE INDEX "donotcall_organization_id_phone_e164" ON "do_not_calls" ("organization_id", "phone_e164");
