CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`content_type` text NOT NULL,
	`sha256` text NOT NULL,
	`uploader_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`message_seq` integer,
	`storage_key` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `files_message` ON `files` (`message_seq`);--> statement-breakpoint
ALTER TABLE `messages` ADD `attachments` text;