CREATE TABLE `audit_copy` (
	`object` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`room_id` text,
	`user_id` text,
	`detail` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_copy_key` ON `audit_copy` (`object`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_copy_at` ON `audit_copy` (`at`);--> statement-breakpoint
CREATE INDEX `audit_copy_actor` ON `audit_copy` (`actor`,`at`);--> statement-breakpoint
CREATE INDEX `audit_copy_user` ON `audit_copy` (`user_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_copy_room` ON `audit_copy` (`room_id`,`at`);--> statement-breakpoint
CREATE TABLE `audit_heads` (
	`object` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`seq` integer NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`room_id` text,
	`user_id` text,
	`detail` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_at` ON `audit_log` (`at`);