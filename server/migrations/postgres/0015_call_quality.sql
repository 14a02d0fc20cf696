-- The carrier leg's media figures of each call attempt, as the gateway reports them when the
-- (Kept in step with the other backend's 0015.)
-- call ends (RTP counts, RFC 3550 loss and jitter, round trip from RTCP, and the far end's own
-- report on our stream). NULL: the call had no media, or ended before this was recorded.
-- Jitter and round trip are in microseconds, fractions lost in 1/256.
ALTER TABLE call_attempts ADD COLUMN media_packets_sent BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_octets_sent BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_packets_received BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_octets_received BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_packets_lost BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_fraction_lost BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_jitter_us BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_rtt_us BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_sent BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_received BIGINT;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_dropped BIGINT;
ALTER TABLE call_attempts ADD COLUMN remote_packets_lost BIGINT;
ALTER TABLE call_attempts ADD COLUMN remote_fraction_lost BIGINT;
ALTER TABLE call_attempts ADD COLUMN remote_jitter_us BIGINT;
