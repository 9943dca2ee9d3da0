package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authz/authz/internal/store"
)

const clientCols = `id, name, public, secret_hash, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, skip_consent, disabled, created_at, updated_at, introspect_any,
	access_token_format, audiences, require_par, token_auth_method, jwks, jwks_uri,
	backchannel_logout_uri, backchannel_logout_session_required, id_token_signed_response_alg`

func scanClient(sc scanner) (*store.Client, error) {
	var c store.Client
	err := sc.Scan(&c.ID, &c.Name, &c.Public, &c.SecretHash, jsonList{&c.RedirectURIs}, jsonList{&c.PostLogoutRedirectURIs},
		jsonList{&c.GrantTypes}, jsonList{&c.Scopes}, &c.SkipConsent, &c.Disabled, microTime{&c.CreatedAt}, microTime{&c.UpdatedAt}, &c.IntrospectAny,
		&c.AccessTokenFormat, jsonList{&c.Audiences}, &c.RequirePAR, &c.TokenAuthMethod, &c.JWKS, &c.JWKSURI,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.IDTokenAlg)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateClient stores c; a taken ID is store.ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO clients (`+clientCols+`) VALUES (`+placeholders(22)+`)`,
		c.ID, c.Name, c.Public, c.SecretHash, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		list(c.GrantTypes), list(c.Scopes), c.SkipConsent, c.Disabled, micro(c.CreatedAt), micro(c.UpdatedAt), c.IntrospectAny,
		c.AccessTokenFormat, list(c.Audiences), c.RequirePAR, c.TokenAuthMethod, c.JWKS, c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.IDTokenAlg)
	return wrap(err, "create client %q", c.ID)
}

// GetClient returns the client with id.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := scanClient(s.reader(ctx).QueryRowContext(ctx, `SELECT `+clientCols+` FROM clients WHERE id = ?`, id))
	return c, wrap(err, "get client %q", id)
}

// UpdateClient writes every field of c but ID and CreatedAt.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE clients SET name = ?, public = ?, secret_hash = ?,
		redirect_uris = ?, post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, skip_consent = ?,
		disabled = ?, updated_at = ?, introspect_any = ?, access_token_format = ?, audiences = ?,
		require_par = ?, token_auth_method = ?, jwks = ?, jwks_uri = ?, backchannel_logout_uri = ?,
		backchannel_logout_session_required = ?, id_token_signed_response_alg = ? WHERE id = ?`,
		c.Name, c.Public, c.SecretHash, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes),
		list(c.Scopes), c.SkipConsent, c.Disabled, micro(c.UpdatedAt), c.IntrospectAny,
		c.AccessTokenFormat, list(c.Audiences), c.RequirePAR, c.TokenAuthMethod, c.JWKS, c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.IDTokenAlg, c.ID))
	return wrap(err, "update client %q", c.ID)
}

// DeleteClient deletes the client and, by foreign key, its consents.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id))
	return wrap(err, "delete client %q", id)
}

// ListClients returns every client ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	cs, err := collect(scanClient)(s.reader(ctx).QueryContext(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id`))
	return cs, wrap(err, "list clients")
}

// PutConsent creates or replaces the consent of (c.UserID, c.ClientID).
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, list(c.Scopes), micro(c.GrantedAt))
	return wrap(err, "put consent of %q to %q", c.UserID, c.ClientID)
}

// GetConsent returns what userID granted clientID.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	c := store.Consent{UserID: userID, ClientID: clientID}
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT scopes, granted_at FROM consents WHERE user_id = ? AND client_id = ?`,
		userID, clientID).Scan(jsonList{&c.Scopes}, microTime{&c.GrantedAt})
	if err != nil {
		return nil, wrap(err, "get consent of %q to %q", userID, clientID)
	}
	return &c, nil
}

func scanSigningKey(sc scanner) (*store.SigningKey, error) {
	var k store.SigningKey
	if err := sc.Scan(&k.ID, &k.Algorithm, &k.SealedKey, microTime{&k.CreatedAt}, microTime{&k.ActivateAt}, microTime{&k.RetireAt}); err != nil {
		return nil, err
	}
	return &k, nil
}

// CreateSigningKey stores k; a taken kid is store.ErrConflict.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := s.writer(ctx).ExecContext(ctx,
		`INSERT INTO signing_keys (id, algorithm, sealed_key, created_at, activate_at, retire_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.SealedKey, micro(k.CreatedAt), micro(k.ActivateAt), micro(k.RetireAt))
	return wrap(err, "create signing key %q", k.ID)
}

// ListSigningKeys returns every key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	ks, err := collect(scanSigningKey)(s.reader(ctx).QueryContext(ctx, `SELECT id, algorithm, sealed_key, created_at, activate_at,
		retire_at FROM signing_keys ORDER BY created_at DESC, id DESC`))
	return ks, wrap(err, "list signing keys")
}

// RetireSigningKeys sets retireAt on every key of keepID's algorithm but
// keepID that has none yet;
// keys already retiring keep their date.
func (s *Store) RetireSigningKeys(ctx context.Context, keepID string, retireAt time.Time) error {
	_, err := s.writer(ctx).ExecContext(ctx, `UPDATE signing_keys SET retire_at = ? WHERE retire_at = 0 AND id <> ?
		AND algorithm = (SELECT algorithm FROM signing_keys WHERE id = ?)`,
		micro(retireAt), keepID, keepID)
	return wrap(err, "retire signing keys but %q", keepID)
}

// LockSigningKeys only checks that ctx carries a transaction: SQLite's write
// transactions begin IMMEDIATE and so take turns already, and each sees what
// the one before it committed.
func (s *Store) LockSigningKeys(ctx context.Context) error {
	if txFrom(ctx) == nil {
		return errNoTx
	}
	return nil
}

const tokenCols = `kind, signature, ` + tokenValueCols

// tokenValueCols are the columns of a token beside its key, (kind, signature).
const tokenValueCols = `request_id, requested_at, client_id, subject, scopes, granted_scopes,
	audience, granted_audience, form, session, active, access_signature, expires_at, rotated_at`

// scanToken reads the token whose key the caller looked it up by: the key is
// not read back, since each column read costs the driver allocations, on
// the read every introspection makes.
func scanToken(sc scanner, kind, signature string) (*store.OAuthToken, error) {
	t := store.OAuthToken{Kind: kind, Signature: signature}
	err := sc.Scan(&t.RequestID, microTime{&t.RequestedAt}, &t.ClientID, &t.Subject,
		jsonList{&t.Scopes}, jsonList{&t.GrantedScopes}, jsonList{&t.Audience}, jsonList{&t.GrantedAudience},
		&t.Form, &t.Session, &t.Active, &t.AccessSignature, microTime{&t.ExpiresAt}, microTime{&t.RotatedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken stores t; a taken (kind, signature) is store.ErrConflict.
// Outside a transaction the insert may share its commit with others
// (tokenBatcher).
func (s *Store) CreateToken(ctx context.Context, t *store.OAuthToken) error {
	if txFrom(ctx) == nil {
		return s.tokens.insert(ctx, t)
	}
	return insertToken(ctx, s.writer(ctx), t)
}

// CreateTokens stores ts and sc in one transaction: one commit.
func (s *Store) CreateTokens(ctx context.Context, ts []*store.OAuthToken, sc *store.SessionClient) error {
	return s.inTx(ctx, func(q querier) error {
		for _, t := range ts {
			if err := insertToken(ctx, q, t); err != nil {
				return err
			}
		}
		if sc == nil {
			return nil
		}
		return recordSessionClient(ctx, q, sc)
	})
}

func insertToken(ctx context.Context, q querier, t *store.OAuthToken) error {
	_, err := q.ExecContext(ctx, `INSERT INTO oauth_tokens (`+tokenCols+`) VALUES (`+placeholders(16)+`)`,
		t.Kind, t.Signature, t.RequestID, micro(t.RequestedAt), t.ClientID, t.Subject, list(t.Scopes),
		list(t.GrantedScopes), list(t.Audience), list(t.GrantedAudience), t.Form, t.Session, t.Active,
		t.AccessSignature, micro(t.ExpiresAt), micro(t.RotatedAt))
	return wrap(err, "create %s token", t.Kind)
}

// GetToken returns the token, active or not.
func (s *Store) GetToken(ctx context.Context, kind, signature string) (*store.OAuthToken, error) {
	t, err := scanToken(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+tokenValueCols+` FROM oauth_tokens WHERE kind = ? AND signature = ?`, kind, signature), kind, signature)
	return t, wrap(err, "get %s token", kind)
}

// GetTokens reads the tokens one by one: in process, a batch would save no
// round trip.
func (s *Store) GetTokens(ctx context.Context, keys []store.TokenKey) ([]*store.OAuthToken, error) {
	out := make([]*store.OAuthToken, len(keys))
	for i, k := range keys {
		t, err := s.GetToken(ctx, k.Kind, k.Signature)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i] = t
		}
	}
	return out, nil
}

// DeactivateToken marks the token inactive; only the first of racing callers
// succeeds, which is what makes refresh-token rotation single-use.
func (s *Store) DeactivateToken(ctx context.Context, kind, signature string) error {
	err := conditional(ctx, s.writer(ctx),
		`UPDATE oauth_tokens SET active = 0 WHERE kind = ? AND signature = ? AND active = 1`, []any{kind, signature},
		`SELECT count(*) FROM oauth_tokens WHERE kind = ? AND signature = ?`, kind, signature)
	return wrap(err, "deactivate %s token", kind)
}

// RotateToken retires the active token at now, or finds it retired within
// the grace. SQLite has one writer at a time, so no revocation can come
// between the check and the tokens the caller's transaction issues next.
func (s *Store) RotateToken(ctx context.Context, kind, signature string, now, graceSince time.Time) (graced bool, err error) {
	err = s.inTx(ctx, func(q querier) error {
		var requestID, accessSig string
		err := q.QueryRowContext(ctx, `UPDATE oauth_tokens SET active = 0, rotated_at = ?
			WHERE kind = ? AND signature = ? AND active = 1 RETURNING request_id, access_signature`,
			micro(now), kind, signature).Scan(&requestID, &accessSig)
		switch {
		case err == nil:
			return deleteIssuedAccess(ctx, q, requestID, accessSig)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		graced, err = retired(ctx, q, kind, signature, graceSince)
		return err
	})
	return graced, wrap(err, "rotate %s token", kind)
}

// deleteIssuedAccess deletes the access token a rotated token was issued
// with: the one it names, or every one of its request when it names none.
func deleteIssuedAccess(ctx context.Context, q querier, requestID, accessSig string) error {
	if accessSig == "" {
		_, err := q.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE kind = ? AND request_id = ?`, store.TokenAccess, requestID)
		return err
	}
	_, err := q.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE kind = ? AND signature = ?`, store.TokenAccess, accessSig)
	return err
}

// retired tells of a token RotateToken found inactive whether it was rotated
// within the grace (graced), or refuses it.
func retired(ctx context.Context, q querier, kind, signature string, graceSince time.Time) (bool, error) {
	var active bool
	var rotatedAt int64
	err := q.QueryRowContext(ctx, `SELECT active, rotated_at FROM oauth_tokens WHERE kind = ? AND signature = ?`,
		kind, signature).Scan(&active, &rotatedAt)
	switch {
	case err != nil:
		return false, err
	case !active && rotatedAt != 0 && !graceSince.IsZero() && rotatedAt > micro(graceSince):
		return true, nil
	}
	return false, fmt.Errorf("inactive already: %w", store.ErrConflict)
}

// DeleteToken deletes the token.
func (s *Store) DeleteToken(ctx context.Context, kind, signature string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx,
		`DELETE FROM oauth_tokens WHERE kind = ? AND signature = ?`, kind, signature))
	return wrap(err, "delete %s token", kind)
}

// DeactivateTokensByRequest revokes every token of kind issued under requestID.
func (s *Store) DeactivateTokensByRequest(ctx context.Context, kind, requestID string) error {
	_, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE oauth_tokens SET active = 0, rotated_at = 0
		WHERE kind = ? AND request_id = ? AND (active = 1 OR rotated_at <> 0)`, kind, requestID)
	return wrap(err, "deactivate %s tokens of request %q", kind, requestID)
}

// DeleteSubjectTokens deletes every token issued to subject.
func (s *Store) DeleteSubjectTokens(ctx context.Context, subject string) error {
	_, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM oauth_tokens WHERE subject = ?`, subject)
	return wrap(err, "delete tokens of %q", subject)
}

// DeleteTokensByRequest deletes every token of kind issued under requestID.
func (s *Store) DeleteTokensByRequest(ctx context.Context, kind, requestID string) error {
	_, err := s.writer(ctx).ExecContext(ctx,
		`DELETE FROM oauth_tokens WHERE kind = ? AND request_id = ?`, kind, requestID)
	return wrap(err, "delete %s tokens of request %q", kind, requestID)
}
