-- Changes people made to a lead's details after it was loaded (an agent correcting a name
-- during the call, say): one row per changed field, written in the transaction that changes
-- the lead. `user_id` is who made it (kept as NULL if that user is ever deleted).
CREATE TABLE lead_edits (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id   BIGINT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    user_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    field     TEXT   NOT NULL,
    old_value TEXT   NOT NULL,
    new_value TEXT   NOT NULL,
    edited_at BIGINT NOT NULL
);
CREATE INDEX lead_edits_lead ON lead_edits (lead_id, id);

-- The leads agents flagged as having wrong details, per leadset (few of them: a partial
-- index keeps the leadset page's count and filter off the rest).
CREATE INDEX leads_invalid_details ON leads (leadset_id, id) WHERE invalid_details;
