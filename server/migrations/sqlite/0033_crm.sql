-- CRM integration per campaign (see app::model::crm): the address template of the CRM panel
-- agents see on each call, and the webhook call events are posted to, with its signing secret.
-- Empty text: not set. Kept in step with ../postgres/0033_crm.sql.
CREATE TABLE campaign_crm (
    campaign_id    BIGINT NOT NULL PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    url_template   TEXT   NOT NULL DEFAULT '',
    webhook_url    TEXT   NOT NULL DEFAULT '',
    webhook_secret TEXT   NOT NULL DEFAULT '',
    updated_at     BIGINT NOT NULL
);

-- The webhook outbox and its delivery log: a row per event to deliver, written in the same
-- transaction as the call record it reports, so an event survives a crash. The body is
-- composed (and frozen, so every retry sends the same bytes) at the first try.
-- state: pending (next_try_at says when; a try in progress has pushed it past its own end),
-- delivered or failed (next_try_at NULL, finished_at set).
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT  NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    event       TEXT    NOT NULL CHECK (event IN ('call.answered', 'call.ended')),
    call_ref    TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    occurred_at BIGINT  NOT NULL,
    body        TEXT,
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    tries       INTEGER NOT NULL DEFAULT 0,
    next_try_at BIGINT,
    last_status INTEGER,
    last_error  TEXT,
    finished_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_try_at);
CREATE INDEX webhook_deliveries_campaign ON webhook_deliveries (campaign_id, id);
