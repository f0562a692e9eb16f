CREATE TABLE `mirrors` (
	`id` text PRIMARY KEY NOT NULL,
	`registered_at` integer NOT NULL
);
