-- Modify "sync_runs" table
ALTER TABLE "sync_runs" ADD COLUMN "screening" character varying NOT NULL DEFAULT 'OFF';
