-- Modify "call_results" table
ALTER TABLE "call_results" ADD COLUMN "transcript_purged_at" timestamptz NULL;
-- Create index "callresult_transcript_kept" to table: "call_results"
CREATE INDEX "callresult_transcript_kept" ON "call_results" ("created_at") WHERE (transcript_purged_at IS NULL);
-- Create index "importissue_created_at" to table: "import_issues"
CREATE INDEX "importissue_created_at" ON "import_issues" ("created_at");
