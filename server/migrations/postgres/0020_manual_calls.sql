-- Manual calls: each campaign's "manual calls" leadset holds the numbers its agents dialled by
-- hand that were not leads of the campaign (created on first use).
ALTER TABLE leadsets ADD COLUMN manual BOOLEAN NOT NULL DEFAULT FALSE;
