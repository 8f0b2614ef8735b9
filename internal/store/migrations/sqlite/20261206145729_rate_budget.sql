-- Add column "rate_limit" to table: "integrations"
ALTER TABLE `integrations` ADD COLUMN `rate_limit` json NULL;
-- Add column "rate_account" to table: "integrations"
ALTER TABLE `integrations` ADD COLUMN `rate_account` text NULL;
-- Add column "waiting_for_budget_since" to table: "sync_runs"
ALTER TABLE `sync_runs` ADD COLUMN `waiting_for_budget_since` datetime NULL;
-- Create "rate_accounts" table
CREATE TABLE `rate_accounts` (`id` text NOT NULL, `state` text NOT NULL, PRIMARY KEY (`id`));
-- Create "rate_grants" table
CREATE TABLE `rate_grants` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `account` text NOT NULL, `at` datetime NOT NULL, `class` integer NOT NULL, `search` bool NOT NULL);
-- Create index "rategrant_account_at" to table: "rate_grants"
CREATE INDEX `rategrant_account_at` ON `rate_grants` (`account`, `at`);
