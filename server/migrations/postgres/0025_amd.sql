-- Answering-machine detection in campaigns.
--
-- amd switches detection on (auto and predictive campaigns); machine_action says what a call
-- a machine answered gets, machine_file is the message left on machines. Each attempt keeps
-- the detector's verdict and how long after the answer it came (NULL: not detected).
ALTER TABLE campaigns ADD COLUMN amd BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE campaigns ADD COLUMN machine_action TEXT NOT NULL DEFAULT 'hangup'
    CHECK (machine_action IN ('hangup', 'leave_message', 'pass_to_agent'));
ALTER TABLE campaigns ADD COLUMN machine_file TEXT;

ALTER TABLE call_attempts ADD COLUMN amd_verdict TEXT
    CHECK (amd_verdict IN ('human', 'machine', 'unsure'));
ALTER TABLE call_attempts ADD COLUMN amd_after_ms BIGINT;

-- A new call outcome, 'machine', may have a retry rule.
ALTER TABLE retry_rules DROP CONSTRAINT retry_rules_outcome_check;
ALTER TABLE retry_rules ADD CONSTRAINT retry_rules_outcome_check
    CHECK (outcome IN ('busy', 'no_answer', 'rejected', 'invalid_number', 'congestion', 'failed', 'dropped', 'machine'));

-- Existing campaigns redial machines as they redial calls nobody answered.
INSERT INTO retry_rules (campaign_id, outcome, retry_minutes, max_attempts)
    SELECT campaign_id, 'machine', retry_minutes, max_attempts FROM retry_rules
    WHERE outcome = 'no_answer';
