-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "screening_decision" to table: "contacts"
ALTER TABLE `contacts` ADD COLUMN `screening_decision` text NULL;
-- Add column "screening_reason" to table: "contacts"
ALTER TABLE `contacts` ADD COLUMN `screening_reason` text NULL;
-- Create "new_triggers" table
CREATE TABLE `new_triggers` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `enabled` bool NOT NULL DEFAULT (false), `search_type` text NOT NULL, `search_params` json NOT NULL, `description` text NOT NULL DEFAULT (''), `import_unsure` bool NOT NULL DEFAULT (true), `pushback_enabled` bool NOT NULL DEFAULT (false), `sync_interval_seconds` integer NOT NULL DEFAULT (900), `last_sync_at` datetime NULL, `next_sync_at` datetime NULL, `watermark` datetime NULL, `resume_cursor` text NOT NULL DEFAULT (''), `resume_since` datetime NULL, `resume_as_of` datetime NULL, `campaign_id` text NOT NULL, `integration_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `triggers_campaigns_triggers` FOREIGN KEY (`campaign_id`) REFERENCES `campaigns` (`id`) ON DELETE CASCADE, CONSTRAINT `triggers_integrations_triggers` FOREIGN KEY (`integration_id`) REFERENCES `integrations` (`id`) ON DELETE NO ACTION);
-- Copy rows from old table "triggers" to new temporary table "new_triggers"
INSERT INTO `new_triggers` (`id`, `organization_id`, `created_at`, `updated_at`, `enabled`, `search_type`, `search_params`, `description`, `pushback_enabled`, `sync_interval_seconds`, `last_sync_at`, `next_sync_at`, `watermark`, `resume_cursor`, `resume_since`, `resume_as_of`, `campaign_id`, `integration_id`) SELECT `id`, `organization_id`, `created_at`, `updated_at`, `enabled`, `search_type`, `search_params`, `description`, `pushback_enabled`, `sync_interval_seconds`, `last_sync_at`, `next_sync_at`, `watermark`, `resume_cursor`, `resume_since`, `resume_as_of`, `campaign_id`, `integration_id` FROM `triggers`;
-- Drop "triggers" table after copying rows
DROP TABLE `triggers`;
-- Rename temporary table "new_triggers" to "triggers"
ALTER TABLE `new_triggers` RENAME TO `triggers`;
-- Create index "trigger_campaign_id_integration_id" to table: "triggers"
CREATE UNIQUE INDEX `trigger_campaign_id_integration_id` ON `triggers` (`campaign_id`, `integration_id`);
-- Create index "trigger_one_pushback_per_campaign" to table: "triggers"
CREATE UNIQUE INDEX `trigger_one_pushback_per_campaign` ON `triggers` (`campaign_id`) WHERE pushback_enabled;
-- Create index "trigger_integration_id" to table: "triggers"
CREATE INDEX `trigger_integration_id` ON `triggers` (`integration_id`);
-- Create index "trigger_organization_id" to table: "triggers"
CREATE INDEX `trigger_organization_id` ON `triggers` (`organization_id`);
-- Create index "trigger_enabled_next_sync_at" to table: "triggers"
CREATE INDEX `trigger_enabled_next_sync_at` ON `triggers` (`enabled`, `next_sync_at`);
-- Create "new_sync_runs" table
CREATE TABLE `new_sync_runs` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `started_at` datetime NULL, `finished_at` datetime NULL, `fetched` integer NOT NULL DEFAULT (0), `imported` integer NOT NULL DEFAULT (0), `duplicates` integer NOT NULL DEFAULT (0), `invalid_phone` integer NOT NULL DEFAULT (0), `filtered_out` integer NOT NULL DEFAULT (0), `failed` integer NOT NULL DEFAULT (0), `screened` integer NOT NULL DEFAULT (0), `screened_out` integer NOT NULL DEFAULT (0), `unsure` integer NOT NULL DEFAULT (0), `screening_tokens` integer NOT NULL DEFAULT (0), `total` integer NULL, `error` text NULL, `cursor` text NOT NULL DEFAULT (''), `since` datetime NULL, `as_of` datetime NULL, `lease_owner` text NULL, `lease_expires_at` datetime NULL, `job_id` integer NULL, `screening` text NOT NULL DEFAULT ('OFF'), `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sync_runs_triggers_sync_runs` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "sync_runs" to new temporary table "new_sync_runs"
INSERT INTO `new_sync_runs` (`id`, `organization_id`, `created_at`, `updated_at`, `kind`, `status`, `started_at`, `finished_at`, `fetched`, `imported`, `duplicates`, `invalid_phone`, `filtered_out`, `failed`, `total`, `error`, `cursor`, `since`, `as_of`, `lease_owner`, `lease_expires_at`, `job_id`, `screening`, `trigger_id`) SELECT `id`, `organization_id`, `created_at`, `updated_at`, `kind`, `status`, `started_at`, `finished_at`, `fetched`, `imported`, `duplicates`, `invalid_phone`, `filtered_out`, `failed`, `total`, `error`, `cursor`, `since`, `as_of`, `lease_owner`, `lease_expires_at`, `job_id`, `screening`, `trigger_id` FROM `sync_runs`;
-- Drop "sync_runs" table after copying rows
DROP TABLE `sync_runs`;
-- Rename temporary table "new_sync_runs" to "sync_runs"
ALTER TABLE `new_sync_runs` RENAME TO `sync_runs`;
-- Create index "syncrun_trigger_id_id" to table: "sync_runs"
CREATE INDEX `syncrun_trigger_id_id` ON `sync_runs` (`trigger_id`, `id`);
-- Create index "syncrun_status" to table: "sync_runs"
CREATE INDEX `syncrun_status` ON `sync_runs` (`status`);
-- Create index "sync_run_one_active_per_trigger" to table: "sync_runs"
CREATE UNIQUE INDEX `sync_run_one_active_per_trigger` ON `sync_runs` (`trigger_id`) WHERE status = 'QUEUED' OR status = 'RUNNING';
-- Create "screening_verdicts" table
CREATE TABLE `screening_verdicts` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `key` text NOT NULL, `decision` text NOT NULL, `reason` text NOT NULL DEFAULT (''), PRIMARY KEY (`id`));
-- Create index "screeningverdict_organization_id_key" to table: "screening_verdicts"
CREATE UNIQUE INDEX `screeningverdict_organization_id_key` ON `screening_verdicts` (`organization_id`, `key`);
-- Create index "screeningverdict_created_at" to table: "screening_verdicts"
CREATE INDEX `screeningverdict_created_at` ON `screening_verdicts` (`created_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
