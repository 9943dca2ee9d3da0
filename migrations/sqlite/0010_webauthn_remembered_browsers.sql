-- Security keys and passkeys (WebAuthn) as a second factor, the challenge of
-- a ceremony in progress in its login transaction, and remembered browsers
-- (a hash of the cookie's token only).
CREATE TABLE webauthn_credentials (
    id           BLOB    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL DEFAULT '',
    public_key   BLOB    NOT NULL,
    record       BLOB,
    sign_count   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX webauthn_credentials_user_id ON webauthn_credentials (user_id);

CREATE TABLE remembered_browsers (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX remembered_browsers_user_id ON remembered_browsers (user_id);
CREATE INDEX remembered_browsers_expires_at ON remembered_browsers (expires_at);

ALTER TABLE login_transactions ADD COLUMN webauthn_session BLOB;
