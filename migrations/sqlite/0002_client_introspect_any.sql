-- A resource server may introspect tokens issued to other clients (RFC 7662).
ALTER TABLE clients ADD COLUMN introspect_any INTEGER NOT NULL DEFAULT 0;
