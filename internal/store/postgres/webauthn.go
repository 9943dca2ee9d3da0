package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// Security keys and passkeys (WebAuthn), and remembered browsers.

const webauthnCols = `id, user_id, name, public_key, record, sign_count, created_at, last_used_at`

// CreateWebAuthnCredential stores c; ErrConflict when its ID is taken.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO webauthn_credentials (`+webauthnCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		blob(c.ID), c.UserID, c.Name, blob(c.PublicKey), blob(c.Record), int64(c.SignCount), ts(c.CreatedAt), ts(c.LastUsedAt))
	if err != nil {
		return wrapf(err, "create webauthn credential of user %q", c.UserID)
	}
	return nil
}

// ListWebAuthnCredentials returns the user's credentials, oldest first.
func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]*store.WebAuthnCredential, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+webauthnCols+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrapf(err, "list webauthn credentials of user %q", userID)
	}
	out, err := pgx.CollectRows(rows, scanWebAuthn)
	if err != nil {
		return nil, wrapf(err, "list webauthn credentials of user %q", userID)
	}
	return out, nil
}

// UseWebAuthnCredential records an assertion. The counter comparison is in
// the UPDATE itself, so of two replicas accepting one assertion only one wins.
func (s *Store) UseWebAuthnCredential(ctx context.Context, userID string, id []byte, signCount uint32, at time.Time) error {
	q := s.q(ctx)
	tag, err := q.Exec(ctx, `UPDATE webauthn_credentials SET sign_count = $3, last_used_at = $4
		WHERE user_id = $1 AND id = $2 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))`,
		userID, blob(id), int64(signCount), ts(at))
	if err != nil {
		return wrapf(err, "use webauthn credential of user %q", userID)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if err := exists(ctx, q, `SELECT FROM webauthn_credentials WHERE user_id = $1 AND id = $2`, userID, blob(id)); err != nil {
		return wrapf(err, "use webauthn credential of user %q", userID)
	}
	return wrapf(store.ErrConflict, "use webauthn credential of user %q: counter %d did not grow", userID, signCount)
}

// DeleteWebAuthnCredential deletes one credential of the user.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error {
	if err := execOne(ctx, s.q(ctx), `DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2`, userID, blob(id)); err != nil {
		return wrapf(err, "delete webauthn credential of user %q", userID)
	}
	return nil
}

// DeleteWebAuthnCredentials deletes every credential of the user.
func (s *Store) DeleteWebAuthnCredentials(ctx context.Context, userID string) (int, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM webauthn_credentials WHERE user_id = $1`, userID)
	if err != nil {
		return 0, wrapf(err, "delete webauthn credentials of user %q", userID)
	}
	return int(tag.RowsAffected()), nil
}

// CountSecondFactors counts users by the second factors they hold.
func (s *Store) CountSecondFactors(ctx context.Context) (totpOnly, webauthnOnly, both int, err error) {
	err = s.q(ctx).QueryRow(ctx, `SELECT count(*) FILTER (WHERE t AND NOT w), count(*) FILTER (WHERE w AND NOT t),
		count(*) FILTER (WHERE t AND w)
		FROM (SELECT EXISTS (SELECT FROM otp_credentials c WHERE c.user_id = u.id) AS t,
			EXISTS (SELECT FROM webauthn_credentials k WHERE k.user_id = u.id) AS w FROM users u) f`).
		Scan(&totpOnly, &webauthnOnly, &both)
	if err != nil {
		return 0, 0, 0, wrapf(err, "count second factors")
	}
	return totpOnly, webauthnOnly, both, nil
}

const rememberedCols = `id, user_id, user_agent, ip, created_at, expires_at, last_used_at`

func scanRemembered(row pgx.Row) (*store.RememberedBrowser, error) {
	var b store.RememberedBrowser
	err := row.Scan(&b.ID, &b.UserID, &b.UserAgent, &b.IP, tsDst{&b.CreatedAt}, tsDst{&b.ExpiresAt}, tsDst{&b.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateRememberedBrowser stores b; ErrConflict when its ID is taken.
func (s *Store) CreateRememberedBrowser(ctx context.Context, b *store.RememberedBrowser) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO remembered_browsers (`+rememberedCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		b.ID, b.UserID, b.UserAgent, b.IP, ts(b.CreatedAt), ts(b.ExpiresAt), ts(b.LastUsedAt))
	if err != nil {
		return wrapf(err, "create remembered browser of user %q", b.UserID)
	}
	return nil
}

// GetRememberedBrowser returns the browser unless it expired at now.
func (s *Store) GetRememberedBrowser(ctx context.Context, id string, now time.Time) (*store.RememberedBrowser, error) {
	b, err := scanRemembered(s.q(ctx).QueryRow(ctx, `SELECT `+rememberedCols+` FROM remembered_browsers
		WHERE id = $1 AND expires_at > $2`, id, ts(now)))
	if err != nil {
		return nil, wrapf(err, "get remembered browser")
	}
	return b, nil
}

// TouchRememberedBrowser records a login the browser spared a code.
func (s *Store) TouchRememberedBrowser(ctx context.Context, id string, at time.Time) error {
	if err := execOne(ctx, s.q(ctx), `UPDATE remembered_browsers SET last_used_at = $2 WHERE id = $1`, id, ts(at)); err != nil {
		return wrapf(err, "touch remembered browser")
	}
	return nil
}

// ListRememberedBrowsers returns the user's live browsers, newest first.
func (s *Store) ListRememberedBrowsers(ctx context.Context, userID string, now time.Time) ([]*store.RememberedBrowser, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+rememberedCols+` FROM remembered_browsers
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`, userID, ts(now))
	if err != nil {
		return nil, wrapf(err, "list remembered browsers of user %q", userID)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.RememberedBrowser, error) { return scanRemembered(row) })
	if err != nil {
		return nil, wrapf(err, "list remembered browsers of user %q", userID)
	}
	return out, nil
}

// DeleteRememberedBrowsers forgets every browser of the user.
func (s *Store) DeleteRememberedBrowsers(ctx context.Context, userID string) (int, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM remembered_browsers WHERE user_id = $1`, userID)
	if err != nil {
		return 0, wrapf(err, "delete remembered browsers of user %q", userID)
	}
	return int(tag.RowsAffected()), nil
}

// scanWebAuthn reads a row of webauthnCols.
func scanWebAuthn(row pgx.CollectableRow) (*store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var count int64
	err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.Record, &count, tsDst{&c.CreatedAt}, tsDst{&c.LastUsedAt})
	c.SignCount = uint32(count)
	c.Record = noEmpty(c.Record)
	return &c, err
}
