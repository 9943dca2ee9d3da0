-- Issue 16: JWT access tokens, pushed authorization requests, private_key_jwt
-- client authentication and back-channel logout.
ALTER TABLE clients ADD COLUMN access_token_format TEXT NOT NULL DEFAULT 'opaque';
ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN token_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

-- The clients that received tokens in a browser session: whom a back-channel
-- logout goes to when it ends. No foreign key to sessions: the rows are read
-- in the transaction that deletes the session, and DeleteExpired removes
-- stale ones.
CREATE TABLE session_clients (
    session_id  TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    sid         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, client_id)
) STRICT;

CREATE INDEX session_clients_user_id ON session_clients (user_id);
CREATE INDEX session_clients_expires_at ON session_clients (expires_at);

-- Back-channel logout deliveries still to make; a claim moves
-- next_attempt_at past the claimer's lease.
CREATE TABLE logout_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id        TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    sid              TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX logout_deliveries_next_attempt_at ON logout_deliveries (next_attempt_at);

-- jti values of client assertions (RFC 7523) seen, until they expire.
CREATE TABLE client_assertion_jtis (
    jti         TEXT    NOT NULL PRIMARY KEY,
    expires_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);
