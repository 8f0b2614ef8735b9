-- Modify "sync_runs" table
ALTER TABLE "sync_runs" ADD COLUMN "cursor" text NOT NULL DEFAULT '', ADD COLUMN "since" timestamptz NULL, ADD COLUMN "as_of" timestamptz NULL, ADD COLUMN "lease_owner" character varying NULL, ADD COLUMN "lease_expires_at" timestamptz NULL, ADD COLUMN "job_id" bigint NULL;
-- Create index "sync_run_one_active_per_trigger" to table: "sync_runs"
CREATE UNIQUE INDEX "sync_run_one_active_per_trigger" ON "sync_runs" ("trigger_id") WHERE (((status)::text = 'QUEUED'::text) OR ((status)::text = 'RUNNING'::text));
-- Modify "triggers" table
ALTER TABLE "triggers" ADD COLUMN "watermark" timestamptz NULL, ADD COLUMN "resume_cursor" text NOT NULL DEFAULT '', ADD COLUMN "resume_since" timestamptz NULL, ADD COLUMN "resume_as_of" timestamptz NULL;
