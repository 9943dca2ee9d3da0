-- Self-service account: single-use recovery codes (hashes only), the browser
-- and address of each session for the user's list, and the recovery codes a
-- login shows once, sealed, until the user confirms having saved them.
CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE login_transactions ADD COLUMN pending_recovery_codes BLOB;
