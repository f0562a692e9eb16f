ALTER TABLE `sends` ADD `via` text;--> statement-breakpoint
ALTER TABLE `sends` ADD `item` text;--> statement-breakpoint
CREATE INDEX `sends_waiting` ON `sends` (`via`) WHERE state = 'queued';