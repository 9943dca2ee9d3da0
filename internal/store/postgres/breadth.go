package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// Issue 16: back-channel logout bookkeeping and client assertion jti values.

// queueLogouts queues a delivery for every client recorded in the sessions
// that cond selects (on session_clients, aliased sc, with $1) and has a
// back-channel logout URI, then forgets those records. Deliveries are due at
// once.
func queueLogouts(ctx context.Context, q querier, cond string, arg any) error {
	_, err := q.Exec(ctx, `INSERT INTO logout_deliveries (client_id, user_id, sid, attempts, next_attempt_at, created_at)
		SELECT sc.client_id, sc.user_id, sc.sid, 0, to_timestamp(0), now() FROM session_clients sc
		JOIN clients c ON c.id = sc.client_id
		WHERE c.backchannel_logout_uri <> '' AND `+cond+` ORDER BY sc.created_at`, arg)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `DELETE FROM session_clients sc WHERE `+cond, arg)
	return err
}

// wrapIf is wrapf for an error that may be nil.
func wrapIf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return wrapf(err, format, args...)
}

// recordSessionClient creates or replaces the record of (SessionID, ClientID).
const recordSessionClient = `INSERT INTO session_clients (session_id, client_id, user_id, sid, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, client_id) DO UPDATE SET user_id = excluded.user_id,
	sid = excluded.sid, expires_at = excluded.expires_at`

func sessionClientArgs(sc *store.SessionClient) []any {
	return []any{sc.SessionID, sc.ClientID, sc.UserID, sc.SID, ts(sc.CreatedAt), ts(sc.ExpiresAt)}
}

// ListSessionClients returns the clients recorded in a session.
func (s *Store) ListSessionClients(ctx context.Context, sessionID string) ([]*store.SessionClient, error) {
	out, err := queryList(ctx, s.q(ctx), func(row pgx.Row) (*store.SessionClient, error) {
		var c store.SessionClient
		err := row.Scan(&c.SessionID, &c.ClientID, &c.UserID, &c.SID, tsDst{&c.CreatedAt}, tsDst{&c.ExpiresAt})
		return &c, err
	}, `SELECT session_id, client_id, user_id, sid, created_at, expires_at
		FROM session_clients WHERE session_id = $1 ORDER BY client_id`, sessionID)
	if err != nil {
		return nil, wrapIf(err, "list clients of session")
	}
	return out, nil
}

// TransferSessionClients moves a session's client records to another session.
func (s *Store) TransferSessionClients(ctx context.Context, fromID, toID string, expiresAt time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO session_clients (session_id, client_id, user_id, sid, created_at, expires_at)
			SELECT $2, client_id, user_id, sid, created_at, $3 FROM session_clients WHERE session_id = $1
			ON CONFLICT (session_id, client_id) DO UPDATE SET sid = excluded.sid, expires_at = excluded.expires_at`,
			fromID, toID, ts(expiresAt)); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `DELETE FROM session_clients WHERE session_id = $1`, fromID)
		return err
	})
	return wrapIf(err, "transfer clients of session")
}

const logoutCols = `id, client_id, user_id, sid, attempts, next_attempt_at, last_error, created_at`

func scanLogout(row pgx.Row) (*store.LogoutDelivery, error) {
	var d store.LogoutDelivery
	err := row.Scan(&d.ID, &d.ClientID, &d.UserID, &d.SID, &d.Attempts, tsDst{&d.NextAttemptAt}, &d.LastError, tsDst{&d.CreatedAt})
	return &d, err
}

// ClaimLogouts leases up to limit due deliveries. SKIP LOCKED lets replicas
// claim side by side, each different rows.
func (s *Store) ClaimLogouts(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*store.LogoutDelivery, error) {
	out, err := queryList(ctx, s.q(ctx), scanLogout, `UPDATE logout_deliveries SET next_attempt_at = $2
		WHERE id IN (SELECT id FROM logout_deliveries WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id
		LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING `+logoutCols, ts(now), ts(leaseUntil), limit)
	if err != nil {
		return nil, wrapIf(err, "claim logouts")
	}
	return out, nil
}

// CompleteLogout deletes a delivery.
func (s *Store) CompleteLogout(ctx context.Context, id int64) error {
	return wrapIf(execOne(ctx, s.q(ctx), `DELETE FROM logout_deliveries WHERE id = $1`, id), "complete logout %d", id)
}

// RetryLogout records a failed attempt.
func (s *Store) RetryLogout(ctx context.Context, d *store.LogoutDelivery) error {
	return wrapIf(execOne(ctx, s.q(ctx), `UPDATE logout_deliveries SET attempts = $2, next_attempt_at = $3,
		last_error = $4 WHERE id = $1`, d.ID, d.Attempts, ts(d.NextAttemptAt), d.LastError), "retry logout %d", d.ID)
}

// UseAssertionJTI records jti unless it is recorded and unexpired.
func (s *Store) UseAssertionJTI(ctx context.Context, jti string, expiresAt, now time.Time) error {
	err := execOne(ctx, s.q(ctx), `INSERT INTO client_assertion_jtis (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE client_assertion_jtis.expires_at <= $3`,
		jti, ts(expiresAt), ts(now))
	if errors.Is(err, pgx.ErrNoRows) {
		return wrapIf(store.ErrConflict, "use assertion jti")
	}
	return wrapIf(err, "use assertion jti")
}
