-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sync_runs" table
CREATE TABLE `new_sync_runs` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `started_at` datetime NULL, `finished_at` datetime NULL, `fetched` integer NOT NULL DEFAULT (0), `imported` integer NOT NULL DEFAULT (0), `duplicates` integer NOT NULL DEFAULT (0), `invalid_phone` integer NOT NULL DEFAULT (0), `filtered_out` integer NOT NULL DEFAULT (0), `failed` integer NOT NULL DEFAULT (0), `screened` integer NOT NULL DEFAULT (0), `screened_out` integer NOT NULL DEFAULT (0), `unsure` integer NOT NULL DEFAULT (0), `screening_tokens` integer NOT NULL DEFAULT (0), `erased` integer NOT NULL DEFAULT (0), `do_not_call` integer NOT NULL DEFAULT (0), `total` integer NULL, `error` text NULL, `cursor` text NOT NULL DEFAULT (''), `since` datetime NULL, `as_of` datetime NULL, `lease_owner` text NULL, `lease_expires_at` datetime NULL, `job_id` integer NULL, `screening` text NOT NULL DEFAULT ('OFF'), `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sync_runs_triggers_sync_runs` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "sync_runs" to new temporary table "new_sync_runs"
INSERT INTO `new_sync_runs` (`id`, `organization_id`, `created_at`, `updated_at`, `kind`, `status`, `started_at`, `finished_at`, `fetched`, `imported`, `duplicates`, `invalid_phone`, `filtered_out`, `failed`, `screened`, `screened_out`, `unsure`, `screening_tokens`, `erased`, `total`, `error`, `cursor`, `since`, `as_of`, `lease_owner`, `lease_expires_at`, `job_id`, `screening`, `trigger_id`) SELECT `id`, `organization_id`, `created_at`, `updated_at`, `kind`, `status`, `started_at`, `finished_at`, `fetched`, `imported`, `duplicates`, `invalid_phone`, `filtered_out`, `failed`, `screened`, `screened_out`, `unsure`, `screening_tokens`, `erased`, `total`, `error`, `cursor`, `since`, `as_of`, `lease_owner`, `lease_expires_at`, `job_id`, `screening`, `trigger_id` FROM `sync_runs`;
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
-- Create "do_not_calls" table
CREATE TABLE `do_not_calls` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `phone_e164` text NOT NULL, `source` text NOT NULL, `note` text NULL, PRIMARY KEY (`id`));
-- Create index "donotcall_organization_id_phone_e164" to table: "do_not_calls"
CREATE UNIQUE INDEX `donotcall_organization_id_phone_e164` ON `do_not_calls` (`organization_id`, `phone_e164`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
