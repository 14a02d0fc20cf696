-- The wallboard and the reports read calls and agent state changes by time across every
-- campaign and agent; without these they scan the whole table.
CREATE INDEX call_attempts_dialed ON call_attempts (dialed_at);
CREATE INDEX agent_state_log_at ON agent_state_log (at);
