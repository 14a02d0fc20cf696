-- The built-in demo trunk (a pretend carrier for trying the dialer without one) is marked so
-- the server starts it and the admin pages label it.
ALTER TABLE trunks ADD COLUMN demo BOOLEAN NOT NULL DEFAULT FALSE;
