-- The carrier leg's media figures of each call attempt, as the gateway reports them when the
-- call ends (RTP counts, RFC 3550 loss and jitter, round trip from RTCP, and the far end's own
-- report on our stream). NULL: the call had no media, or ended before this was recorded.
-- Jitter and round trip are in microseconds, fractions lost in 1/256.
ALTER TABLE call_attempts ADD COLUMN media_packets_sent INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_octets_sent INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_packets_received INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_octets_received INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_packets_lost INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_fraction_lost INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_jitter_us INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_rtt_us INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_sent INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_received INTEGER;
ALTER TABLE call_attempts ADD COLUMN media_rtcp_dropped INTEGER;
ALTER TABLE call_attempts ADD COLUMN remote_packets_lost INTEGER;
ALTER TABLE call_attempts ADD COLUMN remote_fraction_lost INTEGER;
ALTER TABLE call_attempts ADD COLUMN remote_jitter_us INTEGER;
