-- Which trunks each instance dials through (ids, comma-separated) and when it last said so
-- (every second): a trunk's calls per second and channels are split among the instances
-- using it (runtime::trunk_shares).
ALTER TABLE instances ADD COLUMN trunks TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN trunks_at BIGINT NOT NULL DEFAULT 0;
