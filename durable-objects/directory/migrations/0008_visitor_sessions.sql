CREATE TABLE `visitor_sessions` (
	`secret_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`session_id` text NOT NULL,
	`username` text NOT NULL,
	`display_name` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`checked_at` integer NOT NULL,
	`rooms` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `visitor_sessions_by_user` ON `visitor_sessions` (`user_id`);