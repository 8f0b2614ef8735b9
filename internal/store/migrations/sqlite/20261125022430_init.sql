-- Create "api_keys" table
CREATE TABLE `api_keys` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `hash` text NOT NULL, `role` text NOT NULL DEFAULT ('ADMIN'), `revoked_at` datetime NULL, `last_used_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "api_keys_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_hash_key` ON `api_keys` (`hash`);
-- Create index "apikey_organization_id" to table: "api_keys"
CREATE INDEX `apikey_organization_id` ON `api_keys` (`organization_id`);
-- Create "call_results" table
CREATE TABLE `call_results` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `outcome` text NOT NULL, `transcript` text NOT NULL DEFAULT (''), `question_results` json NOT NULL, `called_at` datetime NOT NULL, `duration_seconds` integer NOT NULL DEFAULT (0), `idempotency_key` text NULL, `contact_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `call_results_contacts_call_results` FOREIGN KEY (`contact_id`) REFERENCES `contacts` (`id`) ON DELETE CASCADE);
-- Create index "callresult_organization_id_idempotency_key" to table: "call_results"
CREATE UNIQUE INDEX `callresult_organization_id_idempotency_key` ON `call_results` (`organization_id`, `idempotency_key`);
-- Create index "callresult_contact_id" to table: "call_results"
CREATE INDEX `callresult_contact_id` ON `call_results` (`contact_id`);
-- Create "campaigns" table
CREATE TABLE `campaigns` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `phone_region` text NOT NULL DEFAULT ('DE'), PRIMARY KEY (`id`));
-- Create index "campaign_organization_id_created_at" to table: "campaigns"
CREATE INDEX `campaign_organization_id_created_at` ON `campaigns` (`organization_id`, `created_at`);
-- Create "contacts" table
CREATE TABLE `contacts` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `phone_e164` text NOT NULL, `phone_raw` text NOT NULL, `first_name` text NULL, `last_name` text NULL, `email` text NULL, `external_id` text NOT NULL, `attributes` json NOT NULL, `campaign_id` text NOT NULL, `trigger_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `contacts_campaigns_contacts` FOREIGN KEY (`campaign_id`) REFERENCES `campaigns` (`id`) ON DELETE CASCADE, CONSTRAINT `contacts_triggers_contacts` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE SET NULL);
-- Create index "contact_campaign_id_phone_e164" to table: "contacts"
CREATE UNIQUE INDEX `contact_campaign_id_phone_e164` ON `contacts` (`campaign_id`, `phone_e164`);
-- Create index "contact_campaign_id_id" to table: "contacts"
CREATE INDEX `contact_campaign_id_id` ON `contacts` (`campaign_id`, `id`);
-- Create index "contact_campaign_id_external_id" to table: "contacts"
CREATE INDEX `contact_campaign_id_external_id` ON `contacts` (`campaign_id`, `external_id`);
-- Create index "contact_trigger_id" to table: "contacts"
CREATE INDEX `contact_trigger_id` ON `contacts` (`trigger_id`);
-- Create "import_issues" table
CREATE TABLE `import_issues` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `external_id` text NOT NULL, `code` text NOT NULL, `message` text NOT NULL, `raw_phone` text NULL, `run_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `import_issues_sync_runs_issues` FOREIGN KEY (`run_id`) REFERENCES `sync_runs` (`id`) ON DELETE CASCADE);
-- Create index "importissue_run_id_id" to table: "import_issues"
CREATE INDEX `importissue_run_id_id` ON `import_issues` (`run_id`, `id`);
-- Create "integrations" table
CREATE TABLE `integrations` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `provider` text NOT NULL, `name` text NOT NULL, `status` text NOT NULL DEFAULT ('DISCONNECTED'), `credentials` blob NOT NULL, `last_checked_at` datetime NULL, `last_error` text NULL, PRIMARY KEY (`id`));
-- Create index "integration_organization_id_created_at" to table: "integrations"
CREATE INDEX `integration_organization_id_created_at` ON `integrations` (`organization_id`, `created_at`);
-- Create "organizations" table
CREATE TABLE `organizations` (`id` text NOT NULL, `created_at` datetime NOT NULL, `name` text NOT NULL, PRIMARY KEY (`id`));
-- Create index "organizations_name_key" to table: "organizations"
CREATE UNIQUE INDEX `organizations_name_key` ON `organizations` (`name`);
-- Create "pushbacks" table
CREATE TABLE `pushbacks` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `mapped_status` text NULL, `attempts` integer NOT NULL DEFAULT (0), `last_error` text NULL, `next_attempt_at` datetime NULL, `delivered_at` datetime NULL, `call_result_id` text NOT NULL, `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `pushbacks_call_results_pushback` FOREIGN KEY (`call_result_id`) REFERENCES `call_results` (`id`) ON DELETE CASCADE, CONSTRAINT `pushbacks_triggers_pushbacks` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Create index "pushbacks_call_result_id_key" to table: "pushbacks"
CREATE UNIQUE INDEX `pushbacks_call_result_id_key` ON `pushbacks` (`call_result_id`);
-- Create index "pushback_trigger_id" to table: "pushbacks"
CREATE INDEX `pushback_trigger_id` ON `pushbacks` (`trigger_id`);
-- Create index "pushback_status_next_attempt_at" to table: "pushbacks"
CREATE INDEX `pushback_status_next_attempt_at` ON `pushbacks` (`status`, `next_attempt_at`);
-- Create "references" table
CREATE TABLE `references` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `external_id` text NOT NULL, `kind` text NOT NULL, `name` text NOT NULL, `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `references_triggers_references` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Create index "reference_trigger_id_kind_external_id" to table: "references"
CREATE UNIQUE INDEX `reference_trigger_id_kind_external_id` ON `references` (`trigger_id`, `kind`, `external_id`);
-- Create "status_mappings" table
CREATE TABLE `status_mappings` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `success` text NOT NULL, `partial` text NOT NULL, `failure` text NOT NULL, `not_answered` text NOT NULL, `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `status_mappings_triggers_status_mapping` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Create index "status_mappings_trigger_id_key" to table: "status_mappings"
CREATE UNIQUE INDEX `status_mappings_trigger_id_key` ON `status_mappings` (`trigger_id`);
-- Create "sync_runs" table
CREATE TABLE `sync_runs` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `started_at` datetime NULL, `finished_at` datetime NULL, `fetched` integer NOT NULL DEFAULT (0), `imported` integer NOT NULL DEFAULT (0), `duplicates` integer NOT NULL DEFAULT (0), `invalid_phone` integer NOT NULL DEFAULT (0), `filtered_out` integer NOT NULL DEFAULT (0), `failed` integer NOT NULL DEFAULT (0), `total` integer NULL, `error` text NULL, `trigger_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sync_runs_triggers_sync_runs` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE CASCADE);
-- Create index "syncrun_trigger_id_id" to table: "sync_runs"
CREATE INDEX `syncrun_trigger_id_id` ON `sync_runs` (`trigger_id`, `id`);
-- Create index "syncrun_status" to table: "sync_runs"
CREATE INDEX `syncrun_status` ON `sync_runs` (`status`);
-- Create "triggers" table
CREATE TABLE `triggers` (`id` text NOT NULL, `organization_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `enabled` bool NOT NULL DEFAULT (false), `search_type` text NOT NULL, `search_params` json NOT NULL, `description` text NOT NULL DEFAULT (''), `pushback_enabled` bool NOT NULL DEFAULT (false), `sync_interval_seconds` integer NOT NULL DEFAULT (900), `last_sync_at` datetime NULL, `next_sync_at` datetime NULL, `campaign_id` text NOT NULL, `integration_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `triggers_campaigns_triggers` FOREIGN KEY (`campaign_id`) REFERENCES `campaigns` (`id`) ON DELETE CASCADE, CONSTRAINT `triggers_integrations_triggers` FOREIGN KEY (`integration_id`) REFERENCES `integrations` (`id`) ON DELETE NO ACTION);
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
