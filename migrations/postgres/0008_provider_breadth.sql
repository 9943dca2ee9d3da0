-- Issue 16: JWT access tokens, pushed authorization requests, private_key_jwt
-- client authentication and back-channel logout.
ALTER TABLE clients
    ADD COLUMN access_token_format text NOT NULL DEFAULT 'opaque',
    ADD COLUMN audiences text[] NOT NULL DEFAULT '{}',
    ADD COLUMN require_par boolean NOT NULL DEFAULT false,
    ADD COLUMN token_auth_method text NOT NULL DEFAULT '',
    ADD COLUMN jwks text NOT NULL DEFAULT '',
    ADD COLUMN jwks_uri text NOT NULL DEFAULT '',
    ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '',
    ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;

-- The clients that received tokens in a browser session: whom a back-channel
-- logout goes to when it ends. No foreign key to sessions: the row must
-- outlive the session's deletion for as long as it takes to queue the logouts
-- (the same statement), and DeleteExpired removes stale rows.
CREATE TABLE session_clients (
    session_id  text NOT NULL,
    client_id   text NOT NULL,
    user_id     text NOT NULL,
    sid         text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

CREATE INDEX session_clients_user_id ON session_clients (user_id);
CREATE INDEX session_clients_expires_at ON session_clients (expires_at);

-- Back-channel logout deliveries still to make. A replica claims due rows by
-- moving next_attempt_at past its lease, so two replicas never send one.
CREATE TABLE logout_deliveries (
    id               bigserial PRIMARY KEY,
    client_id        text NOT NULL,
    user_id          text NOT NULL,
    sid              text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL
);

CREATE INDEX logout_deliveries_next_attempt_at ON logout_deliveries (next_attempt_at);

-- jti values of client assertions (RFC 7523) seen until they expire: a
-- replay is refused on every replica.
CREATE TABLE client_assertion_jtis (
    jti         text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);

CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);
