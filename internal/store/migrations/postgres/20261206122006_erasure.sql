-- Drop index "contact_campaign_id_phone_e164" from table: "contacts"
DROP INDEX "contact_campaign_id_phone_e164";
-- Modify "contacts" table
ALTER TABLE "contacts" ADD COLUMN "erased_at" timestamptz NULL, ADD COLUMN "erasure_reason" character varying NULL;
-- Create index "contact_campaign_id_phone_e164_live" to table: "contacts"
CREATE UNIQUE INDEX "contact_campaign_id_phone_e164_live" ON "contacts" ("campaign_id", "phone_e164") WHERE (erased_at IS NULL);
-- Modify "sync_runs" table
ALTER TABLE "sync_runs" ADD COLUMN "erased" bigint NOT NULL DEFAULT 0;
-- Create "erasures" table
CREATE TABLE "erasures" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "ref" character varying NOT NULL, "reason" character varying NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- Create index "erasure_organization_id_ref" to table: "erasures"
CREATE UNIQUE INDEX "erasure_organization_id_ref" ON "erasures" ("organization_id", "ref");
