package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// The self-service account: recovery codes and the user's sessions.

// ReplaceRecoveryCodes swaps the user's codes for hashes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::text[]) AS h`, userID, strs(hashes), ts(now))
		return err
	})
	if err != nil {
		return wrapf(err, "replace recovery codes of user %q", userID)
	}
	return nil
}

// UseRecoveryCode deletes the code; the DELETE decides which of two
// concurrent uses wins.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string) (int, error) {
	var left int
	err := s.inTx(ctx, func(q querier) error {
		if err := execOne(ctx, q, `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2`, userID, hash); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, userID).Scan(&left)
	})
	if err != nil {
		return 0, wrapf(err, "use recovery code of user %q", userID)
	}
	return left, nil
}

// CountRecoveryCodes counts the user's codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, wrapf(err, "count recovery codes of user %q", userID)
	}
	return n, nil
}

// DeleteRecoveryCodes voids the user's codes.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID string) (int, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
	if err != nil {
		return 0, wrapf(err, "delete recovery codes of user %q", userID)
	}
	return int(tag.RowsAffected()), nil
}

// ListUserSessions returns the user's live sessions, newest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]*store.Session, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`, userID, ts(now))
	if err != nil {
		return nil, wrapf(err, "list sessions of user %q", userID)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Session, error) { return scanSession(row) })
	if err != nil {
		return nil, wrapf(err, "list sessions of user %q", userID)
	}
	return out, nil
}

// TouchSession records that the session was just used.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if err := execOne(ctx, s.q(ctx), `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, ts(at)); err != nil {
		return wrapf(err, "touch session")
	}
	return nil
}
