-- authz schema for SQLite.
--
-- Conventions (the Go backend in internal/store/sqlite relies on them):
--   * times are INTEGER unix microseconds, 0 for the zero time, so that
--     "not set" compares cleanly in WHERE clauses (used_at = 0, retire_at = 0);
--   * string lists are JSON arrays in TEXT;
--   * booleans are INTEGER 0/1;
--   * tables are STRICT so a wrongly typed bind fails loudly instead of being
--     silently stored as text.

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL,
    email          TEXT    NOT NULL DEFAULT '',
    first_name     TEXT    NOT NULL DEFAULT '',
    last_name      TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT    NOT NULL DEFAULT '',
    enabled        INTEGER NOT NULL DEFAULT 1,
    otp_required   INTEGER NOT NULL DEFAULT 0,
    role           TEXT    NOT NULL DEFAULT 'user',
    created_at     INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL DEFAULT 0,
    last_login_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Usernames and e-mails are unique case-insensitively; many users may have no
-- e-mail. SQLite's lower() folds ASCII only.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower ON users (lower(email)) WHERE email <> '';
CREATE INDEX users_role ON users (role);

CREATE TABLE otp_credentials (
    user_id        TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret  BLOB,
    last_step      INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE throttles (
    key            TEXT    NOT NULL PRIMARY KEY,
    failures       INTEGER NOT NULL DEFAULT 0,
    locked_until   INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX throttles_updated_at ON throttles (updated_at);

CREATE TABLE clients (
    id                         TEXT    NOT NULL PRIMARY KEY,
    name                       TEXT    NOT NULL DEFAULT '',
    public                     INTEGER NOT NULL DEFAULT 0,
    secret_hash                BLOB,
    redirect_uris              TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris  TEXT    NOT NULL DEFAULT '[]',
    grant_types                TEXT    NOT NULL DEFAULT '[]',
    scopes                     TEXT    NOT NULL DEFAULT '[]',
    skip_consent               INTEGER NOT NULL DEFAULT 0,
    disabled                   INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL DEFAULT 0,
    updated_at                 INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time   INTEGER NOT NULL DEFAULT 0,
    amr         TEXT    NOT NULL DEFAULT '[]',
    provider    TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- No foreign keys here: a transaction is short-lived scratch state that may
-- name a user or client before either is settled, and the pipeline re-reads
-- both anyway.
CREATE TABLE login_transactions (
    id                  TEXT    NOT NULL PRIMARY KEY,
    purpose             TEXT    NOT NULL DEFAULT '',
    csrf                TEXT    NOT NULL DEFAULT '',
    auth_request        TEXT    NOT NULL DEFAULT '',
    client_id           TEXT    NOT NULL DEFAULT '',
    requested_at        INTEGER NOT NULL DEFAULT 0,
    user_id             TEXT    NOT NULL DEFAULT '',
    amr                 TEXT    NOT NULL DEFAULT '[]',
    auth_time           INTEGER NOT NULL DEFAULT 0,
    pending_otp_secret  BLOB,
    action_token_id     TEXT    NOT NULL DEFAULT '',
    upstream_alias      TEXT    NOT NULL DEFAULT '',
    upstream_state      TEXT    NOT NULL DEFAULT '',
    upstream_nonce      TEXT    NOT NULL DEFAULT '',
    upstream_verifier   TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL DEFAULT 0,
    expires_at          INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX login_transactions_expires_at ON login_transactions (expires_at);

CREATE TABLE action_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    used_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX action_tokens_user_kind ON action_tokens (user_id, kind);
CREATE INDEX action_tokens_expires_at ON action_tokens (expires_at);

CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    sealed_key  BLOB,
    created_at  INTEGER NOT NULL DEFAULT 0,
    retire_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE providers (
    alias                 TEXT    NOT NULL PRIMARY KEY,
    display_name          TEXT    NOT NULL DEFAULT '',
    issuer_url            TEXT    NOT NULL DEFAULT '',
    client_id             TEXT    NOT NULL DEFAULT '',
    sealed_client_secret  BLOB,
    scopes                TEXT    NOT NULL DEFAULT '[]',
    claim_username        TEXT    NOT NULL DEFAULT '',
    claim_email           TEXT    NOT NULL DEFAULT '',
    claim_first_name      TEXT    NOT NULL DEFAULT '',
    claim_last_name       TEXT    NOT NULL DEFAULT '',
    link_policy           TEXT    NOT NULL DEFAULT '',
    enabled               INTEGER NOT NULL DEFAULT 0,
    require_otp           INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL DEFAULT 0,
    updated_at            INTEGER NOT NULL DEFAULT 0
) STRICT;

-- provider_alias is not a foreign key: removing a provider and adding it back
-- under the same alias must not lose every user's link.
CREATE TABLE federated_identities (
    provider_alias  TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider_alias, subject)
) STRICT;

CREATE INDEX federated_identities_user_id ON federated_identities (user_id);

CREATE TABLE consents (
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes      TEXT    NOT NULL DEFAULT '[]',
    granted_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE INDEX consents_client_id ON consents (client_id);

-- AUTOINCREMENT so an audit ID is never reused, even after the newest rows
-- were deleted. No foreign keys: the log outlives the users it mentions.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL DEFAULT '',
    user_id    TEXT    NOT NULL DEFAULT '',
    client_id  TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_type_time ON audit_events (type, time);
CREATE INDEX audit_events_user_time ON audit_events (user_id, time);

-- One table for every fosite token kind: the kind is part of the key.
-- No foreign key to clients: deleting a client must not hinge on how many
-- tokens it has out; fosite re-reads the client on every use, so orphans are
-- inert until DeleteExpired removes them.
CREATE TABLE oauth_tokens (
    kind              TEXT    NOT NULL,
    signature         TEXT    NOT NULL,
    request_id        TEXT    NOT NULL DEFAULT '',
    requested_at      INTEGER NOT NULL DEFAULT 0,
    client_id         TEXT    NOT NULL DEFAULT '',
    subject           TEXT    NOT NULL DEFAULT '',
    scopes            TEXT    NOT NULL DEFAULT '[]',
    granted_scopes    TEXT    NOT NULL DEFAULT '[]',
    audience          TEXT    NOT NULL DEFAULT '[]',
    granted_audience  TEXT    NOT NULL DEFAULT '[]',
    form              TEXT    NOT NULL DEFAULT '',
    session           BLOB,
    active            INTEGER NOT NULL DEFAULT 1,
    access_signature  TEXT    NOT NULL DEFAULT '',
    expires_at        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, signature)
) STRICT;

CREATE INDEX oauth_tokens_request ON oauth_tokens (kind, request_id);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at) WHERE expires_at > 0;
