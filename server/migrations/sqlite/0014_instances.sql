-- Instance liveness (kept in step with the other backend's 0014).
--
-- Each running dialer instance keeps a row here and refreshes heartbeat_at every few seconds;
-- an instance whose heartbeat stopped is dead, and any live instance takes back its leases
-- and closes its open call attempts. host, pid and process (a random token per process) let
-- a restarted instance tell its own dead predecessor from a live twin with the same name;
-- incarnation (random per start) tells a live instance that it was declared dead.
CREATE TABLE instances (
    name         TEXT   NOT NULL PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    host         TEXT   NOT NULL DEFAULT '',
    pid          BIGINT NOT NULL DEFAULT 0,
    process      TEXT   NOT NULL DEFAULT '',
    incarnation  TEXT   NOT NULL DEFAULT ''
);
