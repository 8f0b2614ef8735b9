-- Modify "contacts" table
ALTER TABLE "contacts" ADD COLUMN "screening_decision" character varying NULL, ADD COLUMN "screening_reason" text NULL;
-- Modify "sync_runs" table
ALTER TABLE "sync_runs" ADD COLUMN "screened" bigint NOT NULL DEFAULT 0, ADD COLUMN "screened_out" bigint NOT NULL DEFAULT 0, ADD COLUMN "unsure" bigint NOT NULL DEFAULT 0, ADD COLUMN "screening_tokens" bigint NOT NULL DEFAULT 0;
-- Modify "triggers" table
ALTER TABLE "triggers" ADD COLUMN "import_unsure" boolean NOT NULL DEFAULT true;
-- Create "screening_verdicts" table
CREATE TABLE "screening_verdicts" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "key" character varying NOT NULL, "decision" character varying NOT NULL, "reason" text NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- Create index "screeningverdict_created_at" to table: "screening_verdicts"
CREATE INDEX "screeningverdict_created_at" ON "screening_verdicts" ("created_at");
-- Create index "screeningverdict_organization_id_key" to table: "screening_verdicts"
CREATE UNIQUE INDEX "screeningverdict_organization_id_key" ON "screening_verdicts" ("organization_id", "key");
