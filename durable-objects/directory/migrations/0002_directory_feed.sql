CREATE TABLE `remote_users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`display_name` text NOT NULL,
	`home_node` text NOT NULL,
	`is_admin` integer NOT NULL,
	`active` integer NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `remote_users_username` ON `remote_users` (`username`);--> statement-breakpoint
CREATE INDEX `remote_users_home` ON `remote_users` (`home_node`,`version`);--> statement-breakpoint
ALTER TABLE `users` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `users_by_version` ON `users` (`version`);--> statement-breakpoint
-- Accounts made before the feed existed join it in creation order, so the other nodes learn them.
UPDATE `users` SET `version` = (SELECT COUNT(*) FROM `users` AS `u2` WHERE `u2`.`rowid` <= `users`.`rowid`);--> statement-breakpoint
INSERT INTO `settings` (`key`, `value`) SELECT 'dir_version', CAST(COUNT(*) AS TEXT) FROM `users` WHERE true ON CONFLICT (`key`) DO UPDATE SET `value` = excluded.`value`;
