-- Agents' SIP phones: the account each registers with (its password is kept as typed, since
-- digest authentication needs it — like a trunk's), the transport and codecs it may use, and
-- what the gateway last said of it: where it is registered and until when (epoch ms), or its
-- last refused registration.
CREATE TABLE agent_sip_phones (
    user_id          BIGINT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sip_user         TEXT   NOT NULL UNIQUE,
    secret           TEXT   NOT NULL,
    transport        TEXT   NOT NULL CHECK (transport IN ('udp', 'tcp')),
    codecs           TEXT   NOT NULL,
    contact          TEXT,
    source           TEXT,
    user_agent       TEXT,
    registered_until BIGINT,
    failure          TEXT,
    failure_at       BIGINT
);
