ALTER TABLE `rooms` ADD `name_fold` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `rooms_by_name` ON `rooms` (`kind`,`visibility`,`name`,`id`);--> statement-breakpoint
CREATE INDEX `rooms_by_creator` ON `rooms` (`created_by`,`created_at`);