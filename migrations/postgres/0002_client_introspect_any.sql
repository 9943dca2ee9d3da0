-- A resource server may introspect tokens issued to other clients (RFC 7662).
ALTER TABLE clients ADD COLUMN introspect_any boolean NOT NULL DEFAULT false;
