-- The record of an answered send keeps the message's id and seq, not its text (mirror-sends.ts `recorded`):
-- a repeat reads the message from the copy, as it is now. Records written before keep the whole message: strip them.
UPDATE `sends` SET `result` = json_set(`result`, '$.message', json_object('id', json_extract(`result`, '$.message.id'), 'seq', json_extract(`result`, '$.message.seq'))) WHERE `state` = 'stored' AND json_type(`result`, '$.message') = 'object';
