-- Add column "calling_hours" to table: "campaigns"
ALTER TABLE `campaigns` ADD COLUMN `calling_hours` json NULL;
