-- Calls handed from their agent to a colleague (to_agent) or an outside number (to_number):
-- done, or not (cancelled after the two talked, refused, cut short). The call's attempt keeps
-- its last agent; this keeps who had it before.
CREATE TABLE call_transfers (
    id         BIGSERIAL PRIMARY KEY,
    call_ref   TEXT    NOT NULL,
    from_agent BIGINT  NOT NULL,
    to_agent   BIGINT,
    to_number  TEXT,
    warm       BOOLEAN NOT NULL,
    completed  BOOLEAN NOT NULL,
    at         BIGINT  NOT NULL
);
CREATE INDEX call_transfers_call ON call_transfers (call_ref);

-- A campaign's departments: outside numbers its agents can transfer a customer to, one
-- `Name: number` per line (app::model::transfer::Departments).
ALTER TABLE campaigns ADD COLUMN departments TEXT NOT NULL DEFAULT '';
