package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authz/authz/internal/store"
)

// CreateOTPCredential stores c, replacing the user's previous credential and
// with it the replay state of the old device.
func (s *Store) CreateOTPCredential(ctx context.Context, c *store.OTPCredential) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO otp_credentials (user_id, sealed_secret, last_step, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
			last_step = excluded.last_step, created_at = excluded.created_at`,
		c.UserID, c.SealedSecret, c.LastStep, micro(c.CreatedAt))
	return wrap(err, "create OTP credential of %q", c.UserID)
}

// GetOTPCredential returns the user's credential.
func (s *Store) GetOTPCredential(ctx context.Context, userID string) (*store.OTPCredential, error) {
	c := store.OTPCredential{UserID: userID}
	err := s.reader(ctx).QueryRowContext(ctx,
		`SELECT sealed_secret, last_step, created_at FROM otp_credentials WHERE user_id = ?`, userID).
		Scan(&c.SealedSecret, &c.LastStep, microTime{&c.CreatedAt})
	if err != nil {
		return nil, wrap(err, "get OTP credential of %q", userID)
	}
	return &c, nil
}

// DeleteOTPCredential deletes the user's credential.
func (s *Store) DeleteOTPCredential(ctx context.Context, userID string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM otp_credentials WHERE user_id = ?`, userID))
	return wrap(err, "delete OTP credential of %q", userID)
}

// AcceptOTPStep records step as the last one used. The comparison is in the
// UPDATE itself, so two logins racing with one code cannot both pass.
func (s *Store) AcceptOTPStep(ctx context.Context, userID string, step int64, throttleKey string) error {
	err := s.inTx(ctx, func(q querier) error {
		err := conditional(ctx, q,
			`UPDATE otp_credentials SET last_step = ? WHERE user_id = ? AND last_step < ?`, []any{step, userID, step},
			`SELECT count(*) FROM otp_credentials WHERE user_id = ?`, userID)
		if err != nil || throttleKey == "" {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, throttleKey)
		return err
	})
	return wrap(err, "accept OTP step %d of %q", step, userID)
}

// GetThrottle returns the throttle for key, or a zero one.
func (s *Store) GetThrottle(ctx context.Context, key string) (*store.Throttle, error) {
	th := store.Throttle{Key: key}
	err := s.reader(ctx).QueryRowContext(ctx,
		`SELECT failures, locked_until, updated_at FROM throttles WHERE key = ?`, key).
		Scan(&th.Failures, microTime{&th.LockedUntil}, microTime{&th.UpdatedAt})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(err, "get throttle %q", key)
	}
	return &th, nil
}

// AddFailure counts one failure for key. The increment and the lock that
// depends on it share a transaction, so concurrent callers each see their
// own count.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (*store.Throttle, error) {
	now = stored(now) // return what a later GetThrottle will read
	th := store.Throttle{Key: key, UpdatedAt: now}
	err := s.inTx(ctx, func(q querier) error {
		err := q.QueryRowContext(ctx, `INSERT INTO throttles (key, failures, locked_until, updated_at) VALUES (?, 1, 0, ?)
			ON CONFLICT (key) DO UPDATE SET failures = failures + 1, updated_at = excluded.updated_at
			RETURNING failures`, key, micro(now)).Scan(&th.Failures)
		if err != nil {
			return err
		}
		if d := lockFor(th.Failures); d > 0 {
			th.LockedUntil = now.Add(d)
		}
		_, err = q.ExecContext(ctx, `UPDATE throttles SET locked_until = ? WHERE key = ?`, micro(th.LockedUntil), key)
		return err
	})
	if err != nil {
		return nil, wrap(err, "add failure to %q", key)
	}
	return &th, nil
}

// CountFreeFailure counts a failure that earns no lock in one upsert, whose
// WHERE leaves a locked key, or one at its free budget, as it is.
func (s *Store) CountFreeFailure(ctx context.Context, key string, now time.Time, free int, restart time.Time) (*store.Throttle, bool, error) {
	if free < 1 {
		return nil, false, nil
	}
	now = stored(now)
	th := store.Throttle{Key: key, UpdatedAt: now}
	err := s.writer(ctx).QueryRowContext(ctx, `INSERT INTO throttles (key, failures, locked_until, updated_at) VALUES (?1, 1, 0, ?2)
		ON CONFLICT (key) DO UPDATE
		SET failures = CASE WHEN updated_at < ?4 THEN 1 ELSE failures + 1 END, updated_at = excluded.updated_at, locked_until = 0
		WHERE locked_until <= ?2 AND (failures < ?3 OR updated_at < ?4)
		RETURNING failures`, key, micro(now), free, micro(restart)).Scan(&th.Failures)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, wrap(err, "count failure of %q", key)
	}
	return &th, true, nil
}

// ResetThrottle forgets the failures of keys in one statement; an unknown
// key is already reset.
func (s *Store) ResetThrottle(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	_, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM throttles WHERE key IN (`+placeholders(len(keys))+`)`, args...)
	return wrap(err, "reset throttles %q", keys)
}
