-- Security keys and passkeys (WebAuthn) as a second factor, the challenge of
-- a ceremony in progress in its login transaction, and remembered browsers
-- (a hash of the cookie's token only).
CREATE TABLE webauthn_credentials (
    id           bytea  NOT NULL PRIMARY KEY,
    user_id      text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text   NOT NULL DEFAULT '',
    public_key   bytea  NOT NULL,
    record       bytea  NOT NULL DEFAULT '\x',
    sign_count   bigint NOT NULL DEFAULT 0,
    created_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX webauthn_credentials_user_id ON webauthn_credentials (user_id);

CREATE TABLE remembered_browsers (
    id           text NOT NULL PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT '',
    created_at   timestamptz,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz
);

CREATE INDEX remembered_browsers_user_id ON remembered_browsers (user_id);
CREATE INDEX remembered_browsers_expires_at ON remembered_browsers (expires_at);

ALTER TABLE login_transactions ADD COLUMN webauthn_session bytea NOT NULL DEFAULT '\x';
