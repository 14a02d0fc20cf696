-- The agents' phonebook: shared entries (owner_id NULL, set by admins) and each user's own.
CREATE TABLE phonebook (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   BIGINT REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    phone      TEXT   NOT NULL,
    note       TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX phonebook_owner ON phonebook (owner_id, name);
