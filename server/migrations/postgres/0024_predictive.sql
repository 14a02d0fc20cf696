-- Predictive campaigns and the abandon cap.
--
-- A predictive campaign is stored as kind 'auto' with pacing 'predictive' (the kind column's
-- check cannot be widened in place on every backend); the campaign code maps the pair to
-- one kind. abandon_cap is in percent of answered calls, counted over abandon_window;
-- safe_harbor_file is the message an abandoned call hears.
ALTER TABLE campaigns ADD COLUMN pacing TEXT NOT NULL DEFAULT 'progressive'
    CHECK (pacing IN ('progressive', 'predictive'));
ALTER TABLE campaigns ADD COLUMN abandon_cap DOUBLE PRECISION NOT NULL DEFAULT 3
    CHECK (abandon_cap >= 0 AND abandon_cap <= 3);
ALTER TABLE campaigns ADD COLUMN abandon_window TEXT NOT NULL DEFAULT 'rolling_30_days'
    CHECK (abandon_window IN ('rolling_30_days', 'calendar_day'));
ALTER TABLE campaigns ADD COLUMN max_dial_level DOUBLE PRECISION NOT NULL DEFAULT 3;
ALTER TABLE campaigns ADD COLUMN safe_harbor_file TEXT;

-- The abandon accounting reads a campaign's answered calls by day.
CREATE INDEX call_attempts_campaign_answered ON call_attempts (campaign_id, answered_at);

-- The caller ID each call presented (the compliance report counts calls without one; empty
-- for calls placed before it was recorded).
ALTER TABLE call_attempts ADD COLUMN caller_id TEXT NOT NULL DEFAULT '';
