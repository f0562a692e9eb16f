-- Full-text index of the mirrored messages, for this node's members (the same
-- tokens as a room's own index: durable-objects/room/search-text.ts). Contentless;
-- rowid = the message's seq.
CREATE VIRTUAL TABLE `message_fts` USING fts5(body, content='', contentless_delete=1, prefix='3', tokenize='unicode61 remove_diacritics 2');
