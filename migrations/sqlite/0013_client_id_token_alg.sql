-- A client's ID token (and logout token) algorithm, id_token_signed_response_alg;
-- empty for the server's default.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';
