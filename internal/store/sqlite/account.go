package sqlite

import (
	"context"
	"time"

	"github.com/authz/authz/internal/store"
)

// The self-service account: recovery codes and the user's sessions.

// ReplaceRecoveryCodes swaps the user's codes for hashes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := q.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`,
				userID, h, micro(now)); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "replace recovery codes of %q", userID)
}

// UseRecoveryCode deletes the code; the DELETE decides which of two
// concurrent uses wins.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string) (int, error) {
	var left int
	err := s.inTx(ctx, func(q querier) error {
		err := exactlyOne(q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?`, userID, hash))
		if err != nil {
			return err
		}
		return q.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&left)
	})
	if err != nil {
		return 0, wrap(err, "use recovery code of %q", userID)
	}
	return left, nil
}

// CountRecoveryCodes counts the user's codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&n)
	if err != nil {
		return 0, wrap(err, "count recovery codes of %q", userID)
	}
	return n, nil
}

// DeleteRecoveryCodes voids the user's codes.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID string) (int, error) {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID)
	if err != nil {
		return 0, wrap(err, "delete recovery codes of %q", userID)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, "delete recovery codes of %q", userID)
}

// ListUserSessions returns the user's live sessions, newest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]*store.Session, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`, userID, micro(now))
	if err != nil {
		return nil, wrap(err, "list sessions of %q", userID)
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, wrap(err, "list sessions of %q", userID)
		}
		out = append(out, ss)
	}
	return out, wrap(rows.Err(), "list sessions of %q", userID)
}

// TouchSession records that the session was just used.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micro(at), id))
	return wrap(err, "touch session")
}
