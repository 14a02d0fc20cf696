-- Call recording: per campaign off / every call / when the agent asks ('off', 'all',
-- 'on_demand'), kept for recording_retention_days (0: kept for good).
ALTER TABLE campaigns ADD COLUMN recording TEXT NOT NULL DEFAULT 'off';
ALTER TABLE campaigns ADD COLUMN recording_retention_days BIGINT NOT NULL DEFAULT 0;
-- A call's recording: its file, relative to the recordings directory (named after the
-- attempt's id only), and its state ('recording', 'done', 'failed', 'purged').
ALTER TABLE call_attempts ADD COLUMN recording_path TEXT;
ALTER TABLE call_attempts ADD COLUMN recording_state TEXT;
ALTER TABLE call_attempts ADD COLUMN recording_at BIGINT;
