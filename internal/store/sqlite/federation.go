package sqlite

import (
	"context"

	"github.com/authz/authz/internal/store"
)

const providerCols = `alias, display_name, issuer_url, client_id, sealed_client_secret, scopes, claim_username,
	claim_email, claim_first_name, claim_last_name, link_policy, enabled, require_otp, created_at, updated_at, sync_profile`

func scanProvider(sc scanner) (*store.Provider, error) {
	var p store.Provider
	err := sc.Scan(&p.Alias, &p.DisplayName, &p.IssuerURL, &p.ClientID, &p.SealedClientSecret, jsonList{&p.Scopes},
		&p.ClaimUsername, &p.ClaimEmail, &p.ClaimFirstName, &p.ClaimLastName, &p.LinkPolicy, &p.Enabled,
		&p.RequireOTP, microTime{&p.CreatedAt}, microTime{&p.UpdatedAt}, &p.SyncProfile)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// CreateProvider stores p; a taken alias is store.ErrConflict.
func (s *Store) CreateProvider(ctx context.Context, p *store.Provider) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO providers (`+providerCols+`) VALUES (`+placeholders(16)+`)`,
		p.Alias, p.DisplayName, p.IssuerURL, p.ClientID, p.SealedClientSecret, list(p.Scopes), p.ClaimUsername,
		p.ClaimEmail, p.ClaimFirstName, p.ClaimLastName, p.LinkPolicy, p.Enabled, p.RequireOTP,
		micro(p.CreatedAt), micro(p.UpdatedAt), p.SyncProfile)
	return wrap(err, "create provider %q", p.Alias)
}

// GetProvider returns the provider with alias.
func (s *Store) GetProvider(ctx context.Context, alias string) (*store.Provider, error) {
	p, err := scanProvider(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+providerCols+` FROM providers WHERE alias = ?`, alias))
	return p, wrap(err, "get provider %q", alias)
}

// UpdateProvider writes every field of p but Alias and CreatedAt.
func (s *Store) UpdateProvider(ctx context.Context, p *store.Provider) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE providers SET display_name = ?, issuer_url = ?,
		client_id = ?, sealed_client_secret = ?, scopes = ?, claim_username = ?, claim_email = ?,
		claim_first_name = ?, claim_last_name = ?, link_policy = ?, enabled = ?, require_otp = ?,
		updated_at = ?, sync_profile = ? WHERE alias = ?`,
		p.DisplayName, p.IssuerURL, p.ClientID, p.SealedClientSecret, list(p.Scopes), p.ClaimUsername,
		p.ClaimEmail, p.ClaimFirstName, p.ClaimLastName, p.LinkPolicy, p.Enabled, p.RequireOTP,
		micro(p.UpdatedAt), p.SyncProfile, p.Alias))
	return wrap(err, "update provider %q", p.Alias)
}

// DeleteProvider deletes the provider. Its users' links stay, so that adding
// the provider back under the same alias restores them.
func (s *Store) DeleteProvider(ctx context.Context, alias string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM providers WHERE alias = ?`, alias))
	return wrap(err, "delete provider %q", alias)
}

// ListProviders returns every provider ordered by alias.
func (s *Store) ListProviders(ctx context.Context) ([]*store.Provider, error) {
	ps, err := collect(scanProvider)(s.reader(ctx).QueryContext(ctx,
		`SELECT `+providerCols+` FROM providers ORDER BY alias`))
	return ps, wrap(err, "list providers")
}

func scanIdentity(sc scanner) (*store.FederatedIdentity, error) {
	var f store.FederatedIdentity
	if err := sc.Scan(&f.ProviderAlias, &f.Subject, &f.UserID, microTime{&f.CreatedAt}); err != nil {
		return nil, err
	}
	return &f, nil
}

// CreateFederatedIdentity links an upstream subject to a user; a subject
// already linked is store.ErrConflict.
func (s *Store) CreateFederatedIdentity(ctx context.Context, f *store.FederatedIdentity) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO federated_identities (provider_alias, subject, user_id, created_at)
		VALUES (?, ?, ?, ?)`, f.ProviderAlias, f.Subject, f.UserID, micro(f.CreatedAt))
	return wrap(err, "link %s subject %q to %q", f.ProviderAlias, f.Subject, f.UserID)
}

// GetFederatedIdentity returns the link of an upstream subject.
func (s *Store) GetFederatedIdentity(ctx context.Context, alias, subject string) (*store.FederatedIdentity, error) {
	f, err := scanIdentity(s.reader(ctx).QueryRowContext(ctx, `SELECT provider_alias, subject, user_id, created_at
		FROM federated_identities WHERE provider_alias = ? AND subject = ?`, alias, subject))
	return f, wrap(err, "get %s subject %q", alias, subject)
}

// ListFederatedIdentities returns the user's links ordered by provider.
func (s *Store) ListFederatedIdentities(ctx context.Context, userID string) ([]*store.FederatedIdentity, error) {
	fs, err := collect(scanIdentity)(s.reader(ctx).QueryContext(ctx, `SELECT provider_alias, subject, user_id, created_at
		FROM federated_identities WHERE user_id = ? ORDER BY provider_alias, subject`, userID))
	return fs, wrap(err, "list links of %q", userID)
}

// DeleteFederatedIdentity unlinks an upstream subject.
func (s *Store) DeleteFederatedIdentity(ctx context.Context, alias, subject string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx,
		`DELETE FROM federated_identities WHERE provider_alias = ? AND subject = ?`, alias, subject))
	return wrap(err, "unlink %s subject %q", alias, subject)
}
