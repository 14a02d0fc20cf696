-- Chat (app::model::chat): one-to-one messages (recipient_id set) and campaign rooms
-- (campaign_id set), kept as history. `conversation` names the conversation the same way for
-- both sides ('users:LOW:HIGH' or 'room:ID') so a read mark and a page of history are one
-- index range.
CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT    NOT NULL,
    sender_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    campaign_id  BIGINT  REFERENCES campaigns (id) ON DELETE CASCADE,
    body         TEXT    NOT NULL,
    broadcast    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL,
    CHECK ((recipient_id IS NULL) <> (campaign_id IS NULL))
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation, id);
CREATE INDEX chat_messages_recipient ON chat_messages (recipient_id, id);

-- How far each reader has read each conversation (the newest message id they saw).
CREATE TABLE chat_reads (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation TEXT   NOT NULL,
    last_read    BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation)
);
