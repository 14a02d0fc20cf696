-- One floor across instances: each dialer instance's live snapshot (counters, agents,
-- waiting callers) as JSON, rewritten when it changes and every few seconds; every instance
-- shows the merge of its own and its peers' fresh ones.
CREATE TABLE floor_snapshots (
    instance TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
