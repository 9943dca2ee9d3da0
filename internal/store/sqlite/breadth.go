package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/authz/authz/internal/store"
)

// Issue 16: back-channel logout bookkeeping and client assertion jti values.

// queueLogouts queues a delivery for every client recorded in the sessions
// that cond selects (on session_clients, aliased sc) and has a back-channel
// logout URI, then forgets those records. Deliveries are due at once.
func queueLogouts(ctx context.Context, q querier, cond string, arg any) error {
	_, err := q.ExecContext(ctx, `INSERT INTO logout_deliveries (client_id, user_id, sid, attempts, next_attempt_at, created_at)
		SELECT sc.client_id, sc.user_id, sc.sid, 0, 0, ? FROM session_clients sc JOIN clients c ON c.id = sc.client_id
		WHERE c.backchannel_logout_uri <> '' AND `+cond+` ORDER BY sc.created_at`, micro(time.Now()), arg)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `DELETE FROM session_clients AS sc WHERE `+cond, arg)
	return err
}

// recordSessionClient creates or replaces the record of (SessionID, ClientID).
func recordSessionClient(ctx context.Context, q querier, sc *store.SessionClient) error {
	_, err := q.ExecContext(ctx, `INSERT INTO session_clients (session_id, client_id, user_id, sid, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, client_id) DO UPDATE SET user_id = excluded.user_id,
		sid = excluded.sid, expires_at = excluded.expires_at`,
		sc.SessionID, sc.ClientID, sc.UserID, sc.SID, micro(sc.CreatedAt), micro(sc.ExpiresAt))
	return wrap(err, "record client %q of session", sc.ClientID)
}

// ListSessionClients returns the clients recorded in a session.
func (s *Store) ListSessionClients(ctx context.Context, sessionID string) ([]*store.SessionClient, error) {
	out, err := collect(func(sc scanner) (*store.SessionClient, error) {
		var c store.SessionClient
		err := sc.Scan(&c.SessionID, &c.ClientID, &c.UserID, &c.SID, microTime{&c.CreatedAt}, microTime{&c.ExpiresAt})
		return &c, err
	})(s.reader(ctx).QueryContext(ctx, `SELECT session_id, client_id, user_id, sid, created_at, expires_at
		FROM session_clients WHERE session_id = ? ORDER BY client_id`, sessionID))
	return out, wrap(err, "list clients of session")
}

// TransferSessionClients moves a session's client records to another session.
func (s *Store) TransferSessionClients(ctx context.Context, fromID, toID string, expiresAt time.Time) error {
	_, err := s.writer(ctx).ExecContext(ctx, `UPDATE OR REPLACE session_clients SET session_id = ?, expires_at = ?
		WHERE session_id = ?`, toID, micro(expiresAt), fromID)
	return wrap(err, "transfer clients of session")
}

const logoutCols = `id, client_id, user_id, sid, attempts, next_attempt_at, last_error, created_at`

func scanLogout(sc scanner) (*store.LogoutDelivery, error) {
	var d store.LogoutDelivery
	err := sc.Scan(&d.ID, &d.ClientID, &d.UserID, &d.SID, &d.Attempts, microTime{&d.NextAttemptAt}, &d.LastError, microTime{&d.CreatedAt})
	return &d, err
}

// ClaimLogouts leases up to limit due deliveries. SQLite has one writer, so
// the UPDATE … RETURNING is the whole claim.
func (s *Store) ClaimLogouts(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*store.LogoutDelivery, error) {
	out, err := collect(scanLogout)(s.writer(ctx).QueryContext(ctx, `UPDATE logout_deliveries SET next_attempt_at = ?
		WHERE id IN (SELECT id FROM logout_deliveries WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+logoutCols, micro(leaseUntil), micro(now), limit))
	if err != nil {
		return nil, wrap(err, "claim logouts")
	}
	return out, nil
}

// CompleteLogout deletes a delivery.
func (s *Store) CompleteLogout(ctx context.Context, id int64) error {
	return wrap(exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM logout_deliveries WHERE id = ?`, id)), "complete logout %d", id)
}

// RetryLogout records a failed attempt.
func (s *Store) RetryLogout(ctx context.Context, d *store.LogoutDelivery) error {
	return wrap(exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE logout_deliveries SET attempts = ?, next_attempt_at = ?,
		last_error = ? WHERE id = ?`, d.Attempts, micro(d.NextAttemptAt), d.LastError, d.ID)), "retry logout %d", d.ID)
}

// UseAssertionJTI records jti unless it is recorded and unexpired.
func (s *Store) UseAssertionJTI(ctx context.Context, jti string, expiresAt, now time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO client_assertion_jtis (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE client_assertion_jtis.expires_at <= ?`,
		jti, micro(expiresAt), micro(now))
	if err := exactlyOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return wrap(store.ErrConflict, "use assertion jti")
		}
		return wrap(err, "use assertion jti")
	}
	return nil
}
