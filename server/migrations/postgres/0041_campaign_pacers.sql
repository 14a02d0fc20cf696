-- One pacer per agentless (broadcast) campaign across instances: the instance holding a
-- campaign's row, renewed every second, is the only one dialling it; a row past its
-- `until_ms` is free for another instance to take.
CREATE TABLE campaign_pacers (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    instance TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
