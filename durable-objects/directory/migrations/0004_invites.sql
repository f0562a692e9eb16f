CREATE TABLE `invites` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `invites_by_user` ON `invites` (`user_id`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `member_count` integer;--> statement-breakpoint
ALTER TABLE `rooms` ADD `topic` text DEFAULT '' NOT NULL;