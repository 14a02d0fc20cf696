-- Inbound queues: the numbers customers call (inbound_numbers, each in one queue) and the
-- campaigns whose agents take those calls (inbound_queue_campaigns, in the admin's order:
-- the first owns a call nobody has taken yet). See app::model::inbound.
CREATE TABLE inbound_queues (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    max_wait_seconds INTEGER NOT NULL,
    music_file       TEXT,
    closed_file      TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE TABLE inbound_numbers (
    number   TEXT    NOT NULL PRIMARY KEY,
    queue_id INTEGER NOT NULL REFERENCES inbound_queues (id) ON DELETE CASCADE
);
CREATE TABLE inbound_queue_campaigns (
    queue_id    INTEGER NOT NULL REFERENCES inbound_queues (id) ON DELETE CASCADE,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    PRIMARY KEY (queue_id, campaign_id)
);

-- A customer's call to a queue is an attempt too, told apart from the dialer's own calls:
-- the abandon cap, the answer rate and the compliance report count only the dialer's.
ALTER TABLE call_attempts ADD COLUMN inbound BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE call_attempts ADD COLUMN queue_id BIGINT;
