-- Prefix index for 3-character prefixes: a prefix query ("que"*) reads one index
-- entry instead of merging the doclists of every term that starts with it, which
-- cost ~300 ms on a million-message room. The index is rebuilt from `messages`
-- when the room next wakes (RoomStore.backfillIndex, keyed on meta fts_ready).
DROP TABLE `message_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `message_fts` USING fts5(body, content='', contentless_delete=1, prefix='3', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
DELETE FROM `meta` WHERE `key` = 'fts_ready';
