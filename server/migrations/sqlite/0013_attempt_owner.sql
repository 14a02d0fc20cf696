-- Write-ahead dialling and crash recovery (kept in step with the other backend's 0013).

-- The instance that placed each call, so its open attempts can be closed if it dies.
ALTER TABLE call_attempts ADD COLUMN instance TEXT;
CREATE INDEX call_attempts_open ON call_attempts (instance) WHERE ended_at IS NULL;

-- When the current lease began: the attempts dialled since then belong to this lease.
ALTER TABLE leads ADD COLUMN leased_at BIGINT;
