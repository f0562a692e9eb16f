CREATE TABLE `notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`room_id` text NOT NULL,
	`message_id` text NOT NULL,
	`seq` integer NOT NULL,
	`sender_id` text NOT NULL,
	`preview` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notifications_message` ON `notifications` (`room_id`,`message_id`);--> statement-breakpoint
CREATE TABLE `removed_rooms` (
	`room_id` text PRIMARY KEY NOT NULL,
	`pos` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `watchers` (
	`user_id` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `rooms` ADD `last_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `last_read_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `unread` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `mentions` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `last_message` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `pos` integer DEFAULT 0 NOT NULL;