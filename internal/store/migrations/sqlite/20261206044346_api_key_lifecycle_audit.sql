-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_api_keys" table
CREATE TABLE `new_api_keys` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `name` text NOT NULL DEFAULT (''), `hash` text NOT NULL, `role` text NOT NULL DEFAULT ('ADMIN'), `expires_at` datetime NULL, `revoked_at` datetime NULL, `last_used_at` datetime NULL, PRIMARY KEY (`id`));
-- Copy rows from old table "api_keys" to new temporary table "new_api_keys"
INSERT INTO `new_api_keys` (`id`, `organization_id`, `created_at`, `hash`, `role`, `revoked_at`, `last_used_at`) SELECT `id`, `organization_id`, `created_at`, `hash`, `role`, `revoked_at`, `last_used_at` FROM `api_keys`;
-- Drop "api_keys" table after copying rows
DROP TABLE `api_keys`;
-- Rename temporary table "new_api_keys" to "api_keys"
ALTER TABLE `new_api_keys` RENAME TO `api_keys`;
-- Create index "api_keys_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_hash_key` ON `api_keys` (`hash`);
-- Create index "apikey_organization_id" to table: "api_keys"
CREATE INDEX `apikey_organization_id` ON `api_keys` (`organization_id`);
-- Create "audit_events" table
CREATE TABLE `audit_events` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `actor_kind` text NOT NULL, `actor_key_id` text NULL, `actor_name` text NOT NULL DEFAULT (''), `operation` text NOT NULL, `target_id` text NOT NULL DEFAULT (''), `related_ids` json NULL, `fields` json NULL, `outcome` text NOT NULL, PRIMARY KEY (`id`));
-- Create index "auditevent_organization_id_created_at" to table: "audit_events"
CREATE INDEX `auditevent_organization_id_created_at` ON `audit_events` (`organization_id`, `created_at`);
-- Create index "auditevent_organization_id_target_id_created_at" to table: "audit_events"
CREATE INDEX `auditevent_organization_id_target_id_created_at` ON `audit_events` (`organization_id`, `target_id`, `created_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
