-- Drop index "contact_campaign_id_id" from table: "contacts"
DROP INDEX "contact_campaign_id_id";
-- Create index "contact_campaign_id_id" to table: "contacts"
CREATE INDEX "contact_campaign_id_id" ON "contacts" ("campaign_id", "id") INCLUDE ("organization_id");
-- Drop index "importissue_run_id_id" from table: "import_issues"
DROP INDEX "importissue_run_id_id";
-- Create index "importissue_run_id_id" to table: "import_issues"
CREATE INDEX "importissue_run_id_id" ON "import_issues" ("run_id", "id") INCLUDE ("organization_id");
