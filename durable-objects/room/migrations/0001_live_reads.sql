CREATE TABLE `mention_index` (
	`seq` integer NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`user_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `mention_index_seq` ON `mention_index` (`seq`);--> statement-breakpoint
ALTER TABLE `members` ADD `last_read_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `send_receipts` integer DEFAULT true NOT NULL;