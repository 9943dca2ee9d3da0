package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

const clientCols = `id, name, public, secret_hash, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, skip_consent, disabled, created_at, updated_at, introspect_any,
	access_token_format, audiences, require_par, token_auth_method, jwks, jwks_uri,
	backchannel_logout_uri, backchannel_logout_session_required, id_token_signed_response_alg`

func scanClient(row pgx.Row) (*store.Client, error) {
	var c store.Client
	err := row.Scan(&c.ID, &c.Name, &c.Public, &c.SecretHash, &c.RedirectURIs,
		&c.PostLogoutRedirectURIs, &c.GrantTypes, &c.Scopes, &c.SkipConsent, &c.Disabled,
		tsDst{&c.CreatedAt}, tsDst{&c.UpdatedAt}, &c.IntrospectAny,
		&c.AccessTokenFormat, &c.Audiences, &c.RequirePAR, &c.TokenAuthMethod, &c.JWKS, &c.JWKSURI,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.IDTokenAlg)
	if err != nil {
		return nil, err
	}
	c.SecretHash = noEmpty(c.SecretHash)
	c.RedirectURIs = noEmpty(c.RedirectURIs)
	c.PostLogoutRedirectURIs = noEmpty(c.PostLogoutRedirectURIs)
	c.GrantTypes = noEmpty(c.GrantTypes)
	c.Scopes = noEmpty(c.Scopes)
	c.Audiences = noEmpty(c.Audiences)
	return &c, nil
}

// CreateClient stores c; ErrConflict when its ID is taken.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
		$14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		c.ID, c.Name, c.Public, blob(c.SecretHash), strs(c.RedirectURIs),
		strs(c.PostLogoutRedirectURIs), strs(c.GrantTypes), strs(c.Scopes), c.SkipConsent,
		c.Disabled, ts(c.CreatedAt), ts(c.UpdatedAt), c.IntrospectAny,
		c.AccessTokenFormat, strs(c.Audiences), c.RequirePAR, c.TokenAuthMethod, c.JWKS, c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.IDTokenAlg)
	if err != nil {
		return wrapf(err, "create client %q", c.ID)
	}
	return nil
}

// GetClient returns the client with id.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := scanClient(s.q(ctx).QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, wrapf(err, "get client %q", id)
	}
	return c, nil
}

// UpdateClient writes every field of c but ID and CreatedAt.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	err := execOne(ctx, s.q(ctx), `UPDATE clients SET name = $2, public = $3,
		secret_hash = $4, redirect_uris = $5, post_logout_redirect_uris = $6,
		grant_types = $7, scopes = $8, skip_consent = $9, disabled = $10, updated_at = $11,
		introspect_any = $12, access_token_format = $13, audiences = $14, require_par = $15,
		token_auth_method = $16, jwks = $17, jwks_uri = $18, backchannel_logout_uri = $19,
		backchannel_logout_session_required = $20, id_token_signed_response_alg = $21
		WHERE id = $1`,
		c.ID, c.Name, c.Public, blob(c.SecretHash), strs(c.RedirectURIs),
		strs(c.PostLogoutRedirectURIs), strs(c.GrantTypes), strs(c.Scopes), c.SkipConsent,
		c.Disabled, ts(c.UpdatedAt), c.IntrospectAny,
		c.AccessTokenFormat, strs(c.Audiences), c.RequirePAR, c.TokenAuthMethod, c.JWKS, c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.IDTokenAlg)
	if err != nil {
		return wrapf(err, "update client %q", c.ID)
	}
	return nil
}

// DeleteClient deletes the client and the consents given to it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := execOne(ctx, s.q(ctx), `DELETE FROM clients WHERE id = $1`, id); err != nil {
		return wrapf(err, "delete client %q", id)
	}
	return nil
}

// ListClients returns every client ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	cs, err := queryList(ctx, s.q(ctx), scanClient, `SELECT `+clientCols+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, wrapf(err, "list clients")
	}
	return cs, nil
}
