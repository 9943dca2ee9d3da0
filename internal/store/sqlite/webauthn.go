package sqlite

import (
	"context"
	"time"

	"github.com/authz/authz/internal/store"
)

// Security keys and passkeys (WebAuthn), and remembered browsers.

const webauthnCols = `id, user_id, name, public_key, record, sign_count, created_at, last_used_at`

// CreateWebAuthnCredential stores c; a taken credential ID is store.ErrConflict.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO webauthn_credentials (`+webauthnCols+`) VALUES (`+placeholders(8)+`)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.Record, int64(c.SignCount), micro(c.CreatedAt), micro(c.LastUsedAt))
	return wrap(err, "create webauthn credential of %q", c.UserID)
}

// ListWebAuthnCredentials returns the user's credentials, oldest first.
func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]*store.WebAuthnCredential, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+webauthnCols+` FROM webauthn_credentials
		WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap(err, "list webauthn credentials of %q", userID)
	}
	defer rows.Close()
	var out []*store.WebAuthnCredential
	for rows.Next() {
		var c store.WebAuthnCredential
		var count int64
		if err := rows.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.Record, &count,
			microTime{&c.CreatedAt}, microTime{&c.LastUsedAt}); err != nil {
			return nil, wrap(err, "list webauthn credentials of %q", userID)
		}
		c.SignCount = uint32(count)
		out = append(out, &c)
	}
	return out, wrap(rows.Err(), "list webauthn credentials of %q", userID)
}

// UseWebAuthnCredential records an assertion; the UPDATE's condition decides
// which of two uses of one counter value wins.
func (s *Store) UseWebAuthnCredential(ctx context.Context, userID string, id []byte, signCount uint32, at time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		return conditional(ctx, q, `UPDATE webauthn_credentials SET sign_count = ?1, last_used_at = ?2
			WHERE user_id = ?3 AND id = ?4 AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))`,
			[]any{int64(signCount), micro(at), userID, id},
			`SELECT count(*) FROM webauthn_credentials WHERE user_id = ? AND id = ?`, userID, id)
	})
	return wrap(err, "use webauthn credential of %q", userID)
}

// DeleteWebAuthnCredential deletes one credential of the user.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM webauthn_credentials WHERE user_id = ? AND id = ?`, userID, id))
	return wrap(err, "delete webauthn credential of %q", userID)
}

// DeleteWebAuthnCredentials deletes every credential of the user.
func (s *Store) DeleteWebAuthnCredentials(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, `DELETE FROM webauthn_credentials WHERE user_id = ?`, userID, "delete webauthn credentials of %q")
}

// CountSecondFactors counts users by the second factors they hold.
func (s *Store) CountSecondFactors(ctx context.Context) (totpOnly, webauthnOnly, both int, err error) {
	err = s.reader(ctx).QueryRowContext(ctx, `SELECT
		coalesce(sum(t AND NOT w), 0), coalesce(sum(w AND NOT t), 0), coalesce(sum(t AND w), 0)
		FROM (SELECT EXISTS (SELECT 1 FROM otp_credentials c WHERE c.user_id = u.id) AS t,
			EXISTS (SELECT 1 FROM webauthn_credentials k WHERE k.user_id = u.id) AS w FROM users u)`).
		Scan(&totpOnly, &webauthnOnly, &both)
	return totpOnly, webauthnOnly, both, wrap(err, "count second factors")
}

const rememberedCols = `id, user_id, user_agent, ip, created_at, expires_at, last_used_at`

func scanRemembered(row interface{ Scan(...any) error }) (*store.RememberedBrowser, error) {
	var b store.RememberedBrowser
	err := row.Scan(&b.ID, &b.UserID, &b.UserAgent, &b.IP, microTime{&b.CreatedAt}, microTime{&b.ExpiresAt}, microTime{&b.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateRememberedBrowser stores b; a taken ID is store.ErrConflict.
func (s *Store) CreateRememberedBrowser(ctx context.Context, b *store.RememberedBrowser) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO remembered_browsers (`+rememberedCols+`) VALUES (`+placeholders(7)+`)`,
		b.ID, b.UserID, b.UserAgent, b.IP, micro(b.CreatedAt), micro(b.ExpiresAt), micro(b.LastUsedAt))
	return wrap(err, "create remembered browser of %q", b.UserID)
}

// GetRememberedBrowser returns the browser unless it has expired at now.
func (s *Store) GetRememberedBrowser(ctx context.Context, id string, now time.Time) (*store.RememberedBrowser, error) {
	b, err := scanRemembered(s.reader(ctx).QueryRowContext(ctx, `SELECT `+rememberedCols+` FROM remembered_browsers
		WHERE id = ? AND expires_at > ?`, id, micro(now)))
	if err != nil {
		return nil, wrap(err, "get remembered browser")
	}
	return b, nil
}

// TouchRememberedBrowser records a login the browser spared a code.
func (s *Store) TouchRememberedBrowser(ctx context.Context, id string, at time.Time) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE remembered_browsers SET last_used_at = ? WHERE id = ?`, micro(at), id))
	return wrap(err, "touch remembered browser")
}

// ListRememberedBrowsers returns the user's live browsers, newest first.
func (s *Store) ListRememberedBrowsers(ctx context.Context, userID string, now time.Time) ([]*store.RememberedBrowser, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+rememberedCols+` FROM remembered_browsers
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`, userID, micro(now))
	if err != nil {
		return nil, wrap(err, "list remembered browsers of %q", userID)
	}
	defer rows.Close()
	var out []*store.RememberedBrowser
	for rows.Next() {
		b, err := scanRemembered(rows)
		if err != nil {
			return nil, wrap(err, "list remembered browsers of %q", userID)
		}
		out = append(out, b)
	}
	return out, wrap(rows.Err(), "list remembered browsers of %q", userID)
}

// DeleteRememberedBrowsers forgets every browser of the user.
func (s *Store) DeleteRememberedBrowsers(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, `DELETE FROM remembered_browsers WHERE user_id = ?`, userID, "delete remembered browsers of %q")
}

// deleteCount runs a DELETE of one user's rows and returns how many went.
func (s *Store) deleteCount(ctx context.Context, query, userID, what string) (int, error) {
	res, err := s.writer(ctx).ExecContext(ctx, query, userID)
	if err != nil {
		return 0, wrap(err, what, userID)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, what, userID)
}
