-- A disposition marked "success" counts as a converted call in the agent stats (conversion
-- rate: successes per handled call). The predefined SALE MADE is one; others are not until
-- an admin says so.
ALTER TABLE dispositions ADD COLUMN success BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE dispositions SET success = TRUE WHERE campaign_id IS NULL AND code = 'SALE MADE';
