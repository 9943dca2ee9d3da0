-- Self-service account: single-use recovery codes (hashes only), the browser
-- and address of each session for the user's list, and the recovery codes a
-- login shows once, sealed, until the user confirms having saved them.
CREATE TABLE recovery_codes (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  text NOT NULL,
    created_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;

ALTER TABLE login_transactions ADD COLUMN pending_recovery_codes bytea NOT NULL DEFAULT '\x';
