-- Modify "campaigns" table
ALTER TABLE "campaigns" ADD COLUMN "accepted_number_types" jsonb NULL;
-- Modify "contacts" table
ALTER TABLE "contacts" ADD COLUMN "number_type" character varying NULL, ADD COLUMN "time_zone" character varying NULL, ADD COLUMN "region" character varying NULL;
