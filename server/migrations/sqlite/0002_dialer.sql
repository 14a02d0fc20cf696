-- The dialer's data: scripts, trunks, campaigns and their rules, dispositions, leadsets and
-- leads, every call attempt, do-not-call numbers, callbacks, agent sessions and state log.
-- Times are Unix milliseconds. Kept in step with ../postgres/0002_dialer.sql.

CREATE TABLE scripts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT   NOT NULL UNIQUE,
    body       TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE trunks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    host           TEXT    NOT NULL,
    port           INTEGER NOT NULL DEFAULT 5060,
    transport      TEXT    NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
    username       TEXT,
    password       TEXT,
    -- How the campaign's caller ID is sent: in From, or also as P-Asserted-Identity.
    caller_id_mode TEXT    NOT NULL DEFAULT 'from' CHECK (caller_id_mode IN ('from', 'pai')),
    codecs         TEXT    NOT NULL DEFAULT 'PCMU,PCMA',
    max_channels   INTEGER NOT NULL DEFAULT 30,
    max_cps        REAL    NOT NULL DEFAULT 5,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE campaigns (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL UNIQUE,
    kind                TEXT    NOT NULL CHECK (kind IN ('auto', 'preview', 'broadcast')),
    active              BOOLEAN NOT NULL DEFAULT FALSE,
    script_id           BIGINT REFERENCES scripts (id),
    trunk_id            BIGINT REFERENCES trunks (id),
    notes               TEXT    NOT NULL DEFAULT '',
    caller_id           TEXT    NOT NULL DEFAULT '',
    outbound_multiplier REAL    NOT NULL DEFAULT 1,
    max_channels        INTEGER NOT NULL DEFAULT 10,
    max_cps             REAL    NOT NULL DEFAULT 1,
    max_attempts        INTEGER NOT NULL DEFAULT 5,
    -- Calling window in the lead's local time, minutes after midnight, [start, end).
    window_start        INTEGER NOT NULL DEFAULT 480,
    window_end          INTEGER NOT NULL DEFAULT 1260,
    wrapup_seconds      INTEGER NOT NULL DEFAULT 30,
    ring_seconds        INTEGER NOT NULL DEFAULT 30,
    broadcast_file      TEXT,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

-- The lead statuses a campaign dials for the first time (NEW, READY, custom ones).
CREATE TABLE campaign_statuses (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    status      TEXT   NOT NULL,
    PRIMARY KEY (campaign_id, status)
);

CREATE TABLE campaign_agents (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, user_id)
);
CREATE INDEX campaign_agents_user ON campaign_agents (user_id);

-- Per call outcome: dial again after so many minutes, while attempts stay below the cap.
CREATE TABLE retry_rules (
    campaign_id   BIGINT  NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    outcome       TEXT    NOT NULL CHECK (outcome IN ('busy', 'no_answer', 'rejected', 'invalid_number', 'congestion', 'failed', 'dropped')),
    retry_minutes INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, outcome)
);

-- Predefined dispositions have no campaign; custom ones belong to one campaign.
CREATE TABLE dispositions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id   BIGINT REFERENCES campaigns (id) ON DELETE CASCADE,
    code          TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('final', 'recyclable', 'callback', 'dnc')),
    retry_minutes INTEGER NOT NULL DEFAULT 60,
    position      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX dispositions_global_code ON dispositions (code) WHERE campaign_id IS NULL;
CREATE UNIQUE INDEX dispositions_campaign_code ON dispositions (campaign_id, code) WHERE campaign_id IS NOT NULL;
INSERT INTO dispositions (campaign_id, code, kind, retry_minutes, position) VALUES
    (NULL, 'SALE MADE', 'final', 0, 1),
    (NULL, 'NOT INTERESTED', 'final', 0, 2),
    (NULL, 'CALL BACK', 'callback', 0, 3),
    (NULL, 'BUSY', 'recyclable', 30, 4),
    (NULL, 'CALL TRANSFERRED', 'final', 0, 5),
    (NULL, 'DECLINED SALE', 'final', 0, 6),
    (NULL, 'WRONG DETAILS', 'final', 0, 7),
    (NULL, 'DISCONNECTED NUMBER', 'final', 0, 8),
    (NULL, 'DO NOT CALL', 'dnc', 0, 9);

CREATE TABLE leadsets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    campaign_id     BIGINT REFERENCES campaigns (id),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    description     TEXT    NOT NULL DEFAULT '',
    -- ISO 3166 country for numbers written without a country code.
    default_country TEXT    NOT NULL DEFAULT 'US',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX leadsets_campaign ON leadsets (campaign_id);

-- dial_state: ready (may be dialed from next_attempt_at), leased (claimed by a server
-- instance until lease_expires_at), callback (waiting for its callback), done (never again).
CREATE TABLE leads (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    leadset_id       BIGINT  NOT NULL REFERENCES leadsets (id) ON DELETE CASCADE,
    phone            TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'NEW',
    dial_state       TEXT    NOT NULL DEFAULT 'ready' CHECK (dial_state IN ('ready', 'leased', 'callback', 'done')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL DEFAULT 0,
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    first_name       TEXT    NOT NULL DEFAULT '',
    last_name        TEXT    NOT NULL DEFAULT '',
    address          TEXT    NOT NULL DEFAULT '',
    city             TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL DEFAULT '',
    postcode         TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    gender           TEXT    NOT NULL DEFAULT '',
    comments         TEXT    NOT NULL DEFAULT '',
    custom           TEXT    NOT NULL DEFAULT '{}',
    invalid_details  BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_called_at   BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    UNIQUE (leadset_id, phone)
);
CREATE INDEX leads_dialable ON leads (leadset_id, dial_state, next_attempt_at, id);
CREATE INDEX leads_leases ON leads (dial_state, lease_expires_at);
CREATE INDEX leads_phone ON leads (phone);

-- The time zones a leadset's leads are in (so the dialer knows, without scanning the leads,
-- which zones to ask for when a calling window opens or closes).
CREATE TABLE leadset_zones (
    leadset_id BIGINT NOT NULL REFERENCES leadsets (id) ON DELETE CASCADE,
    timezone   TEXT   NOT NULL,
    PRIMARY KEY (leadset_id, timezone)
);

CREATE TABLE call_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_ref    TEXT   NOT NULL UNIQUE,
    lead_id     BIGINT REFERENCES leads (id) ON DELETE SET NULL,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE SET NULL,
    agent_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    trunk_id    BIGINT REFERENCES trunks (id) ON DELETE SET NULL,
    phone       TEXT   NOT NULL,
    dialed_at   BIGINT NOT NULL,
    ringing_at  BIGINT,
    answered_at BIGINT,
    bridged_at  BIGINT,
    ended_at    BIGINT,
    outcome     TEXT,
    sip_code    INTEGER,
    sip_reason  TEXT,
    hangup_by   TEXT,
    disposition TEXT,
    notes       TEXT   NOT NULL DEFAULT '',
    disposed_at BIGINT
);
CREATE INDEX call_attempts_campaign ON call_attempts (campaign_id, dialed_at);
CREATE INDEX call_attempts_lead ON call_attempts (lead_id);
CREATE INDEX call_attempts_agent ON call_attempts (agent_id, dialed_at);

-- Numbers never to dial: everywhere (no campaign) or in one campaign.
CREATE TABLE dnc (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    phone       TEXT   NOT NULL,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE CASCADE,
    note        TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX dnc_global ON dnc (phone) WHERE campaign_id IS NULL;
CREATE UNIQUE INDEX dnc_campaign ON dnc (campaign_id, phone) WHERE campaign_id IS NOT NULL;

-- A callback is for its agent only when agent_id is set, otherwise for anyone in the campaign.
CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     BIGINT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    agent_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    due_at      BIGINT NOT NULL,
    note        TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    done_at     BIGINT
);
CREATE INDEX callbacks_due ON callbacks (campaign_id, done_at, due_at);

CREATE TABLE agent_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    end_reason  TEXT
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id, started_at);

-- Every agent state change, for the agent statistics.
CREATE TABLE agent_state_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE CASCADE,
    state       TEXT   NOT NULL,
    reason      TEXT,
    call_ref    TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX agent_state_log_agent ON agent_state_log (agent_id, at);
