-- Add column "accepted_number_types" to table: "campaigns"
ALTER TABLE `campaigns` ADD COLUMN `accepted_number_types` json NULL;
-- Add column "number_type" to table: "contacts"
ALTER TABLE `contacts` ADD COLUMN `number_type` text NULL;
-- Add column "time_zone" to table: "contacts"
ALTER TABLE `contacts` ADD COLUMN `time_zone` text NULL;
-- Add column "region" to table: "contacts"
ALTER TABLE `contacts` ADD COLUMN `region` text NULL;
