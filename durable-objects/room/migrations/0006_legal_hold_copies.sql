CREATE TABLE `held_messages` (
	`seq` integer PRIMARY KEY NOT NULL,
	`sender_id` text NOT NULL,
	`message` text NOT NULL,
	`files` text NOT NULL,
	`reason` text NOT NULL,
	`kept_at` integer NOT NULL
);
