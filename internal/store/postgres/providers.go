package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// CreateSigningKey stores k; ErrConflict when its kid is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO signing_keys
		(id, algorithm, sealed_key, created_at, activate_at, retire_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Algorithm, blob(k.SealedKey), ts(k.CreatedAt), ts(k.ActivateAt), ts(k.RetireAt))
	if err != nil {
		return wrapf(err, "create signing key %q", k.ID)
	}
	return nil
}

func scanSigningKey(row pgx.Row) (*store.SigningKey, error) {
	var k store.SigningKey
	err := row.Scan(&k.ID, &k.Algorithm, &k.SealedKey, tsDst{&k.CreatedAt}, tsDst{&k.ActivateAt}, tsDst{&k.RetireAt})
	if err != nil {
		return nil, err
	}
	k.SealedKey = noEmpty(k.SealedKey)
	return &k, nil
}

// ListSigningKeys returns every key, newest first; the ID breaks ties so that
// replicas agree on which key signs.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	keys, err := queryList(ctx, s.q(ctx), scanSigningKey, `SELECT id, algorithm, sealed_key,
		created_at, activate_at, retire_at FROM signing_keys ORDER BY created_at DESC NULLS LAST, id DESC`)
	if err != nil {
		return nil, wrapf(err, "list signing keys")
	}
	return keys, nil
}

// RetireSigningKeys sets RetireAt on every key of keepID's algorithm but
// keepID that has none yet.
func (s *Store) RetireSigningKeys(ctx context.Context, keepID string, retireAt time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `UPDATE signing_keys SET retire_at = $2
		WHERE retire_at IS NULL AND id <> $1
		AND algorithm = (SELECT algorithm FROM signing_keys WHERE id = $1)`, keepID, ts(retireAt))
	if err != nil {
		return wrapf(err, "retire signing keys but %q", keepID)
	}
	return nil
}

// signingKeysLock is the pg_advisory_xact_lock key of LockSigningKeys, one
// per schema like the keys themselves.
const signingKeysLock = `hashtextextended('authz signing keys ' || current_schema(), 0)`

// LockSigningKeys takes a transaction-level advisory lock, which PostgreSQL
// releases at commit or rollback; a session lock could outlive a failed
// transaction on a pooled connection.
func (s *Store) LockSigningKeys(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("postgres: lock signing keys: no transaction in context")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+signingKeysLock+`)`); err != nil {
		return wrapf(err, "lock signing keys")
	}
	return nil
}

const providerCols = `alias, display_name, issuer_url, client_id, sealed_client_secret,
	scopes, claim_username, claim_email, claim_first_name, claim_last_name, link_policy,
	enabled, require_otp, created_at, updated_at, sync_profile`

func scanProvider(row pgx.Row) (*store.Provider, error) {
	var p store.Provider
	err := row.Scan(&p.Alias, &p.DisplayName, &p.IssuerURL, &p.ClientID,
		&p.SealedClientSecret, &p.Scopes, &p.ClaimUsername, &p.ClaimEmail, &p.ClaimFirstName,
		&p.ClaimLastName, &p.LinkPolicy, &p.Enabled, &p.RequireOTP,
		tsDst{&p.CreatedAt}, tsDst{&p.UpdatedAt}, &p.SyncProfile)
	if err != nil {
		return nil, err
	}
	p.SealedClientSecret = noEmpty(p.SealedClientSecret)
	p.Scopes = noEmpty(p.Scopes)
	return &p, nil
}

// CreateProvider stores p; ErrConflict when its alias is taken.
func (s *Store) CreateProvider(ctx context.Context, p *store.Provider) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO providers (`+providerCols+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		p.Alias, p.DisplayName, p.IssuerURL, p.ClientID, blob(p.SealedClientSecret),
		strs(p.Scopes), p.ClaimUsername, p.ClaimEmail, p.ClaimFirstName, p.ClaimLastName,
		p.LinkPolicy, p.Enabled, p.RequireOTP, ts(p.CreatedAt), ts(p.UpdatedAt), p.SyncProfile)
	if err != nil {
		return wrapf(err, "create provider %q", p.Alias)
	}
	return nil
}

// GetProvider returns the provider with alias.
func (s *Store) GetProvider(ctx context.Context, alias string) (*store.Provider, error) {
	p, err := scanProvider(s.q(ctx).QueryRow(ctx,
		`SELECT `+providerCols+` FROM providers WHERE alias = $1`, alias))
	if err != nil {
		return nil, wrapf(err, "get provider %q", alias)
	}
	return p, nil
}

// UpdateProvider writes every field of p but Alias and CreatedAt.
func (s *Store) UpdateProvider(ctx context.Context, p *store.Provider) error {
	err := execOne(ctx, s.q(ctx), `UPDATE providers SET display_name = $2, issuer_url = $3,
		client_id = $4, sealed_client_secret = $5, scopes = $6, claim_username = $7,
		claim_email = $8, claim_first_name = $9, claim_last_name = $10, link_policy = $11,
		enabled = $12, require_otp = $13, updated_at = $14, sync_profile = $15 WHERE alias = $1`,
		p.Alias, p.DisplayName, p.IssuerURL, p.ClientID, blob(p.SealedClientSecret),
		strs(p.Scopes), p.ClaimUsername, p.ClaimEmail, p.ClaimFirstName, p.ClaimLastName,
		p.LinkPolicy, p.Enabled, p.RequireOTP, ts(p.UpdatedAt), p.SyncProfile)
	if err != nil {
		return wrapf(err, "update provider %q", p.Alias)
	}
	return nil
}

// DeleteProvider deletes the provider.
func (s *Store) DeleteProvider(ctx context.Context, alias string) error {
	if err := execOne(ctx, s.q(ctx), `DELETE FROM providers WHERE alias = $1`, alias); err != nil {
		return wrapf(err, "delete provider %q", alias)
	}
	return nil
}

// ListProviders returns every provider ordered by alias.
func (s *Store) ListProviders(ctx context.Context) ([]*store.Provider, error) {
	ps, err := queryList(ctx, s.q(ctx), scanProvider,
		`SELECT `+providerCols+` FROM providers ORDER BY alias`)
	if err != nil {
		return nil, wrapf(err, "list providers")
	}
	return ps, nil
}

func scanFederatedIdentity(row pgx.Row) (*store.FederatedIdentity, error) {
	var f store.FederatedIdentity
	if err := row.Scan(&f.ProviderAlias, &f.Subject, &f.UserID, tsDst{&f.CreatedAt}); err != nil {
		return nil, err
	}
	return &f, nil
}

const fedCols = `provider_alias, subject, user_id, created_at`

// CreateFederatedIdentity links an upstream subject to a user; ErrConflict when
// the subject is linked already.
func (s *Store) CreateFederatedIdentity(ctx context.Context, f *store.FederatedIdentity) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO federated_identities (`+fedCols+`)
		VALUES ($1, $2, $3, $4)`, f.ProviderAlias, f.Subject, f.UserID, ts(f.CreatedAt))
	if err != nil {
		return wrapf(err, "link %s subject %q to user %q", f.ProviderAlias, f.Subject, f.UserID)
	}
	return nil
}

// GetFederatedIdentity returns the link of an upstream subject.
func (s *Store) GetFederatedIdentity(ctx context.Context, alias, subject string) (*store.FederatedIdentity, error) {
	f, err := scanFederatedIdentity(s.q(ctx).QueryRow(ctx, `SELECT `+fedCols+`
		FROM federated_identities WHERE provider_alias = $1 AND subject = $2`, alias, subject))
	if err != nil {
		return nil, wrapf(err, "get %s identity %q", alias, subject)
	}
	return f, nil
}

// ListFederatedIdentities returns the user's links ordered by provider.
func (s *Store) ListFederatedIdentities(ctx context.Context, userID string) ([]*store.FederatedIdentity, error) {
	fs, err := queryList(ctx, s.q(ctx), scanFederatedIdentity, `SELECT `+fedCols+`
		FROM federated_identities WHERE user_id = $1 ORDER BY provider_alias, subject`, userID)
	if err != nil {
		return nil, wrapf(err, "list identities of user %q", userID)
	}
	return fs, nil
}

// DeleteFederatedIdentity removes a link.
func (s *Store) DeleteFederatedIdentity(ctx context.Context, alias, subject string) error {
	err := execOne(ctx, s.q(ctx), `DELETE FROM federated_identities
		WHERE provider_alias = $1 AND subject = $2`, alias, subject)
	if err != nil {
		return wrapf(err, "delete %s identity %q", alias, subject)
	}
	return nil
}
