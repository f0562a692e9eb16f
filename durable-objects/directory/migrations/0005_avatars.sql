ALTER TABLE `remote_users` ADD `avatar` text;--> statement-breakpoint
ALTER TABLE `users` ADD `avatar` text;