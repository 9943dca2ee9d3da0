-- 0001_init: the whole schema behind store.Store.
--
-- Conventions: times are timestamptz and NULL stands for Go's zero time, so no
-- column invents a sentinel date; slices are text[]; blobs are bytea. Rows that
-- belong to a user (or client) go with it: the foreign keys cascade, so deleting
-- an account never leaves sessions or tokens behind that could still be used.

CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL,
    email         text NOT NULL DEFAULT '',
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL DEFAULT '',
    enabled       boolean NOT NULL DEFAULT true,
    otp_required  boolean NOT NULL DEFAULT false,
    role          text NOT NULL DEFAULT 'user',
    created_at    timestamptz,
    updated_at    timestamptz,
    last_login_at timestamptz
);

-- Usernames and e-mail addresses are compared case-insensitively; many users may
-- have no e-mail address, hence the partial index.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email <> '';

CREATE TABLE otp_credentials (
    user_id       text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret bytea NOT NULL,
    last_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz
);

CREATE TABLE throttles (
    key          text PRIMARY KEY,
    failures     integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz
);

CREATE INDEX throttles_updated_at_idx ON throttles (updated_at);

CREATE TABLE clients (
    id                        text PRIMARY KEY,
    name                      text NOT NULL DEFAULT '',
    public                    boolean NOT NULL DEFAULT false,
    secret_hash               bytea NOT NULL DEFAULT '\x',
    redirect_uris             text[] NOT NULL DEFAULT '{}',
    post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    grant_types               text[] NOT NULL DEFAULT '{}',
    scopes                    text[] NOT NULL DEFAULT '{}',
    skip_consent              boolean NOT NULL DEFAULT false,
    disabled                  boolean NOT NULL DEFAULT false,
    created_at                timestamptz,
    updated_at                timestamptz
);

CREATE TABLE sessions (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz,
    amr        text[] NOT NULL DEFAULT '{}',
    provider   text NOT NULL DEFAULT '',
    created_at timestamptz,
    expires_at timestamptz
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- A login transaction exists before its user is known and may have no client, so
-- user_id and client_id are plain text, not foreign keys.
CREATE TABLE login_transactions (
    id                 text PRIMARY KEY,
    purpose            text NOT NULL DEFAULT 'login',
    csrf               text NOT NULL DEFAULT '',
    auth_request       text NOT NULL DEFAULT '',
    client_id          text NOT NULL DEFAULT '',
    requested_at       timestamptz,
    user_id            text NOT NULL DEFAULT '',
    amr                text[] NOT NULL DEFAULT '{}',
    auth_time          timestamptz,
    pending_otp_secret bytea NOT NULL DEFAULT '\x',
    action_token_id    text NOT NULL DEFAULT '',
    upstream_alias     text NOT NULL DEFAULT '',
    upstream_state     text NOT NULL DEFAULT '',
    upstream_nonce     text NOT NULL DEFAULT '',
    upstream_verifier  text NOT NULL DEFAULT '',
    created_at         timestamptz,
    expires_at         timestamptz
);

CREATE INDEX login_transactions_expires_at_idx ON login_transactions (expires_at);

CREATE TABLE action_tokens (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    created_at timestamptz,
    expires_at timestamptz,
    used_at    timestamptz
);

CREATE INDEX action_tokens_user_kind_idx ON action_tokens (user_id, kind);
CREATE INDEX action_tokens_expires_at_idx ON action_tokens (expires_at);

CREATE TABLE signing_keys (
    id         text PRIMARY KEY,
    algorithm  text NOT NULL,
    sealed_key bytea NOT NULL,
    created_at timestamptz,
    retire_at  timestamptz
);

CREATE TABLE providers (
    alias                text PRIMARY KEY,
    display_name         text NOT NULL DEFAULT '',
    issuer_url           text NOT NULL DEFAULT '',
    client_id            text NOT NULL DEFAULT '',
    sealed_client_secret bytea NOT NULL DEFAULT '\x',
    scopes               text[] NOT NULL DEFAULT '{}',
    claim_username       text NOT NULL DEFAULT '',
    claim_email          text NOT NULL DEFAULT '',
    claim_first_name     text NOT NULL DEFAULT '',
    claim_last_name      text NOT NULL DEFAULT '',
    link_policy          text NOT NULL DEFAULT 'existing',
    enabled              boolean NOT NULL DEFAULT true,
    require_otp          boolean NOT NULL DEFAULT false,
    created_at           timestamptz,
    updated_at           timestamptz
);

-- provider_alias is deliberately not a foreign key: removing a provider and adding
-- it back under the same alias must not lose every user's link.
CREATE TABLE federated_identities (
    provider_alias text NOT NULL,
    subject        text NOT NULL,
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz,
    PRIMARY KEY (provider_alias, subject)
);

CREATE INDEX federated_identities_user_id_idx ON federated_identities (user_id);

CREATE TABLE consents (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    granted_at timestamptz,
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX consents_client_id_idx ON consents (client_id);

-- The audit log outlives what it mentions, so it references nothing.
CREATE TABLE audit_events (
    id        bigserial PRIMARY KEY,
    time      timestamptz,
    type      text NOT NULL DEFAULT '',
    actor_id  text NOT NULL DEFAULT '',
    user_id   text NOT NULL DEFAULT '',
    client_id text NOT NULL DEFAULT '',
    ip        text NOT NULL DEFAULT '',
    detail    text NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, id);
CREATE INDEX audit_events_type_idx ON audit_events (type, id);

-- One table for every fosite token kind: the kind is part of the key. client_id
-- is not a foreign key: deleting a client must not hinge on how many tokens it
-- has out, and fosite re-reads the client on every use, so orphaned tokens are
-- inert until DeleteExpired removes them.
CREATE TABLE oauth_tokens (
    kind             text NOT NULL,
    signature        text NOT NULL,
    request_id       text NOT NULL DEFAULT '',
    requested_at     timestamptz,
    client_id        text NOT NULL DEFAULT '',
    subject          text NOT NULL DEFAULT '',
    scopes           text[] NOT NULL DEFAULT '{}',
    granted_scopes   text[] NOT NULL DEFAULT '{}',
    audience         text[] NOT NULL DEFAULT '{}',
    granted_audience text[] NOT NULL DEFAULT '{}',
    form             text NOT NULL DEFAULT '',
    session          bytea NOT NULL DEFAULT '\x',
    active           boolean NOT NULL DEFAULT true,
    access_signature text NOT NULL DEFAULT '',
    expires_at       timestamptz,
    PRIMARY KEY (kind, signature)
);

CREATE INDEX oauth_tokens_request_idx ON oauth_tokens (kind, request_id);
CREATE INDEX oauth_tokens_expires_at_idx ON oauth_tokens (expires_at);
