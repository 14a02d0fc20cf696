-- Where a caller nobody can take goes ('close': the closed message and the end; 'voicemail':
-- a message after the greeting; 'queue': overflow_queue_id), and the folder of position
-- prompts (position-1.wav … position-9.wav, position-more.wav). See app::model::inbound.
ALTER TABLE inbound_queues ADD COLUMN overflow TEXT NOT NULL DEFAULT 'close';
ALTER TABLE inbound_queues ADD COLUMN overflow_queue_id BIGINT REFERENCES inbound_queues (id);
ALTER TABLE inbound_queues ADD COLUMN voicemail_greeting TEXT;
ALTER TABLE inbound_queues ADD COLUMN position_prompts TEXT;

-- A message a caller left: the inbound attempt (its recording is the message) in its queue,
-- and who dealt with it. Listed for the agents of the queue's campaigns.
CREATE TABLE voicemails (
    attempt_id BIGINT NOT NULL PRIMARY KEY REFERENCES call_attempts (id) ON DELETE CASCADE,
    queue_id   BIGINT NOT NULL,
    left_at    BIGINT NOT NULL,
    handled_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    handled_at BIGINT
);
CREATE INDEX voicemails_by_queue ON voicemails (queue_id, left_at);
