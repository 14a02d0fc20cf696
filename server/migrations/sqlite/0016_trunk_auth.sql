-- A trunk can be made to prove its credentials on inbound calls (SIP digest), and the
-- authentication failures on its calls are kept for its admin page: how many since a call on
-- it last authenticated (or its credentials were changed), and the last one's time (Unix ms),
-- direction, SIP status and reason.
ALTER TABLE trunks ADD COLUMN inbound_auth BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE trunks ADD COLUMN auth_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE trunks ADD COLUMN auth_failed_at BIGINT;
ALTER TABLE trunks ADD COLUMN auth_failure_direction TEXT
    CHECK (auth_failure_direction IN ('outbound', 'inbound'));
ALTER TABLE trunks ADD COLUMN auth_failure_code BIGINT;
ALTER TABLE trunks ADD COLUMN auth_failure_reason TEXT;
