-- Messages from admins and supervisors to agents: every logged-in agent (campaign_id NULL)
-- or one campaign's. Kept so that an agent who logs in soon after still sees them.
CREATE TABLE broadcasts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE CASCADE,
    body        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX broadcasts_recent ON broadcasts (created_at);
