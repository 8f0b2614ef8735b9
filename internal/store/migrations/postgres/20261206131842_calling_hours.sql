-- Modify "campaigns" table
ALTER TABLE "campaigns" ADD COLUMN "calling_hours" jsonb NULL;
