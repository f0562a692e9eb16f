-- Full-text index of message text (see search-text.ts for why the text is rewritten
-- into CJK bigrams before it gets here). Contentless: the text itself lives in
-- `messages`; rowid = the message's seq. contentless_delete lets edits and recalls
-- remove a message's old terms.
CREATE VIRTUAL TABLE `message_fts` USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
