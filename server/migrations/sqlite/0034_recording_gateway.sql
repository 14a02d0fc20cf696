-- Where a call's recording is and how it ended: the standalone gateway that wrote it (its HTTP
-- address; NULL: the server's own recordings directory), its length in milliseconds, and why
-- it failed (a full disk, say) when it did.
ALTER TABLE call_attempts ADD COLUMN recording_gateway TEXT;
ALTER TABLE call_attempts ADD COLUMN recording_ms BIGINT;
ALTER TABLE call_attempts ADD COLUMN recording_error TEXT;
