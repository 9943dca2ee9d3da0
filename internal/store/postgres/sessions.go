package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authz/authz/internal/store"
)

// CreateSession stores s; ErrNotFound when its user does not exist.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	if _, err := s.q(ctx).Exec(ctx, insertSession, sessionArgs(se)...); err != nil {
		return wrapf(err, "create session of user %q", se.UserID)
	}
	return nil
}

const insertSession = `INSERT INTO sessions (` + sessionCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

func sessionArgs(se *store.Session) []any {
	return []any{se.ID, se.UserID, ts(se.AuthTime), strs(se.AMR), se.Provider, ts(se.CreatedAt),
		ts(se.ExpiresAt), se.UserAgent, se.IP, ts(se.LastSeenAt)}
}

// SignIn sends the sign-in's writes as one batch: one round trip, and one
// implicit transaction, so a failed one takes the others back. The login
// transaction's deletion cannot abort the batch when it finds nothing, so
// each write after it is conditional on the one before: the session on the
// deletion, the last login and the event on the session. The session's
// foreign key makes sure its user is there for the update.
func (s *Store) SignIn(ctx context.Context, loginID string, se *store.Session, e *store.AuditEvent) error {
	var (
		id    int64
		ended bool
	)
	err := s.sendBatch(ctx, func() *pgx.Batch {
		b := &pgx.Batch{}
		b.Queue(signInSession, append(sessionArgs(se), loginID)...).Exec(func(tag pgconn.CommandTag) error {
			ended = tag.RowsAffected() == 1
			return nil
		})
		b.Queue(signInLastLogin, se.UserID, ts(se.CreatedAt), se.ID)
		b.Queue(signInAudit, append(auditArgs(e), se.ID)...).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&id); err != nil && (ended || !errors.Is(err, pgx.ErrNoRows)) {
				return err
			}
			return nil
		})
		return b
	})
	if err == nil && !ended {
		err = store.ErrNotFound
	}
	if err != nil {
		return wrapf(err, "sign in user %q", se.UserID)
	}
	e.ID = id
	return nil
}

const (
	signInSession = `WITH ended AS (DELETE FROM login_transactions WHERE id = $11 RETURNING id)
		INSERT INTO sessions (` + sessionCols + `)
		SELECT $1, $2, $3::timestamptz, $4::text[], $5, $6::timestamptz, $7::timestamptz, $8, $9, $10::timestamptz
		WHERE $11 = '' OR EXISTS (SELECT FROM ended)`
	signInLastLogin = `UPDATE users SET last_login_at = $2
		WHERE id = $1 AND EXISTS (SELECT FROM sessions WHERE id = $3)`
	signInAudit = `INSERT INTO audit_events (time, type, actor_id, user_id, client_id, ip, detail)
		SELECT $1::timestamptz, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT FROM sessions WHERE id = $8)
		RETURNING id`
)

// GetSession returns the session unless it expired at now. Expired rows stay
// until DeleteExpired, so the check is in the query.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*store.Session, error) {
	se, err := scanSession(s.q(ctx).QueryRow(ctx, `SELECT `+sessionCols+`
		FROM sessions WHERE id = $1 AND expires_at > $2`, id, ts(now)))
	if err != nil {
		// The session ID is the hash of a cookie: not a secret, but not worth logging.
		return nil, wrapf(err, "get session")
	}
	return se, nil
}

const sessionCols = `id, user_id, auth_time, amr, provider, created_at, expires_at,
	user_agent, ip, last_seen_at`

func scanSession(row pgx.Row) (*store.Session, error) {
	var se store.Session
	err := row.Scan(&se.ID, &se.UserID, tsDst{&se.AuthTime}, &se.AMR, &se.Provider,
		tsDst{&se.CreatedAt}, tsDst{&se.ExpiresAt}, &se.UserAgent, &se.IP, tsDst{&se.LastSeenAt})
	if err != nil {
		return nil, err
	}
	se.AMR = noEmpty(se.AMR)
	return &se, nil
}

// DeleteSession deletes a session and queues its back-channel logouts;
// ErrNotFound when it is gone already.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(q querier) error {
		if err := execOne(ctx, q, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
			return err
		}
		return queueLogouts(ctx, q, "sc.session_id = $1", id)
	})
	if err != nil {
		return wrapf(err, "delete session")
	}
	return nil
}

// DeleteUserSessions signs the user out everywhere and queues the
// back-channel logouts of every session.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		return queueLogouts(ctx, q, "sc.user_id = $1", userID)
	})
	if err != nil {
		return wrapf(err, "delete sessions of user %q", userID)
	}
	return nil
}

const ltCols = `id, purpose, csrf, auth_request, client_id, requested_at, user_id, amr,
	auth_time, pending_otp_secret, action_token_id, upstream_alias, upstream_state,
	upstream_nonce, upstream_verifier, created_at, expires_at, pending_recovery_codes, webauthn_session`

func scanLT(row pgx.Row) (*store.LoginTransaction, error) {
	var lt store.LoginTransaction
	err := row.Scan(&lt.ID, &lt.Purpose, &lt.CSRF, &lt.AuthRequest, &lt.ClientID,
		tsDst{&lt.RequestedAt}, &lt.UserID, &lt.AMR, tsDst{&lt.AuthTime}, &lt.PendingOTPSecret,
		&lt.ActionTokenID, &lt.UpstreamAlias, &lt.UpstreamState, &lt.UpstreamNonce,
		&lt.UpstreamVerifier, tsDst{&lt.CreatedAt}, tsDst{&lt.ExpiresAt}, &lt.PendingRecoveryCodes, &lt.WebAuthnSession)
	if err != nil {
		return nil, err
	}
	lt.AMR = noEmpty(lt.AMR)
	lt.PendingOTPSecret = noEmpty(lt.PendingOTPSecret)
	lt.PendingRecoveryCodes = noEmpty(lt.PendingRecoveryCodes)
	lt.WebAuthnSession = noEmpty(lt.WebAuthnSession)
	return &lt, nil
}

// CreateLoginTransaction stores lt; ErrConflict when its ID is taken.
func (s *Store) CreateLoginTransaction(ctx context.Context, lt *store.LoginTransaction) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO login_transactions (`+ltCols+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		lt.ID, lt.Purpose, lt.CSRF, lt.AuthRequest, lt.ClientID, ts(lt.RequestedAt), lt.UserID,
		strs(lt.AMR), ts(lt.AuthTime), blob(lt.PendingOTPSecret), lt.ActionTokenID,
		lt.UpstreamAlias, lt.UpstreamState, lt.UpstreamNonce, lt.UpstreamVerifier,
		ts(lt.CreatedAt), ts(lt.ExpiresAt), blob(lt.PendingRecoveryCodes), blob(lt.WebAuthnSession))
	if err != nil {
		return wrapf(err, "create login transaction")
	}
	return nil
}

// GetLoginTransaction returns the transaction unless it expired at now.
func (s *Store) GetLoginTransaction(ctx context.Context, id string, now time.Time) (*store.LoginTransaction, error) {
	lt, err := scanLT(s.q(ctx).QueryRow(ctx, `SELECT `+ltCols+` FROM login_transactions
		WHERE id = $1 AND expires_at > $2`, id, ts(now)))
	if err != nil {
		return nil, wrapf(err, "get login transaction")
	}
	return lt, nil
}

// GetLoginState reads the transaction, its user, the user's authenticator
// and security keys in one batch, one round trip, as one read-only
// REPEATABLE READ transaction (see batchLoginState); inside the caller's
// transaction it reads one statement after another.
func (s *Store) GetLoginState(ctx context.Context, id, throttleKey string, now time.Time) (*store.LoginState, error) {
	if _, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return store.ReadLoginState(ctx, s, id, throttleKey, now)
	}
	ls, err := s.batchLoginState(ctx, id, throttleKey, now)
	if err != nil {
		return nil, wrapf(err, "get login state")
	}
	return ls, nil
}

// ltUserID selects the user of login transaction $1.
const ltUserID = `(SELECT user_id FROM login_transactions WHERE id = $1)`

// batchLoginState reads the login state in one batch. Its statements share
// one snapshot (a read-only REPEATABLE READ transaction begun and committed
// inside the batch): each record is selected by the transaction's user_id,
// and under READ COMMITTED a user_id changed between two statements (a
// password step, then an upstream sign-in, in one browser's login) would
// pair one user with the other's records, or with none of them.
func (s *Store) batchLoginState(ctx context.Context, id, throttleKey string, now time.Time) (*store.LoginState, error) {
	ls := &store.LoginState{}
	var ltErr error
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	b.Queue(`SELECT `+ltCols+` FROM login_transactions WHERE id = $1 AND expires_at > $2`, id, ts(now)).
		QueryRow(func(row pgx.Row) error {
			ls.Transaction, ltErr = scanLT(row)
			return nil
		})
	b.Queue(`SELECT `+userCols+` FROM users WHERE id = `+ltUserID, id).QueryRow(func(row pgx.Row) (err error) {
		ls.User, err = scanUser(row)
		return noRowsIsNil(err)
	})
	b.Queue(`SELECT `+otpCols+` FROM otp_credentials WHERE user_id = `+ltUserID, id).QueryRow(func(row pgx.Row) (err error) {
		ls.OTP, err = scanOTPCredential(row)
		return noRowsIsNil(err)
	})
	b.Queue(`SELECT `+webauthnCols+` FROM webauthn_credentials WHERE user_id = `+ltUserID+` ORDER BY created_at, id`, id).
		Query(func(rows pgx.Rows) (err error) {
			ls.SecurityKeys, err = pgx.CollectRows(rows, scanWebAuthn)
			return err
		})
	if throttleKey != "" {
		b.Queue(`SELECT `+throttleCols+` FROM throttles WHERE key = $1`, throttleKey).QueryRow(func(row pgx.Row) (err error) {
			ls.Throttle, err = scanThrottleOrZero(row, throttleKey)
			return err
		})
	}
	// A batch that fails leaves its connection in the aborted transaction;
	// the pool closes such a connection instead of reusing it.
	b.Queue(`COMMIT`)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if ltErr != nil {
		return nil, ltErr
	}
	return ls, nil
}

// noRowsIsNil is err, except that no row is no error.
func noRowsIsNil(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// UpdateLoginTransaction writes every field of lt but ID and CreatedAt.
func (s *Store) UpdateLoginTransaction(ctx context.Context, lt *store.LoginTransaction) error {
	err := execOne(ctx, s.q(ctx), `UPDATE login_transactions SET purpose = $2, csrf = $3,
		auth_request = $4, client_id = $5, requested_at = $6, user_id = $7, amr = $8,
		auth_time = $9, pending_otp_secret = $10, action_token_id = $11,
		upstream_alias = $12, upstream_state = $13, upstream_nonce = $14,
		upstream_verifier = $15, expires_at = $16, pending_recovery_codes = $17, webauthn_session = $18 WHERE id = $1`,
		lt.ID, lt.Purpose, lt.CSRF, lt.AuthRequest, lt.ClientID, ts(lt.RequestedAt), lt.UserID,
		strs(lt.AMR), ts(lt.AuthTime), blob(lt.PendingOTPSecret), lt.ActionTokenID,
		lt.UpstreamAlias, lt.UpstreamState, lt.UpstreamNonce, lt.UpstreamVerifier,
		ts(lt.ExpiresAt), blob(lt.PendingRecoveryCodes), blob(lt.WebAuthnSession))
	if err != nil {
		return wrapf(err, "update login transaction")
	}
	return nil
}

// DeleteLoginTransaction deletes a transaction; ErrNotFound when it is gone.
func (s *Store) DeleteLoginTransaction(ctx context.Context, id string) error {
	err := execOne(ctx, s.q(ctx), `DELETE FROM login_transactions WHERE id = $1`, id)
	if err != nil {
		return wrapf(err, "delete login transaction")
	}
	return nil
}

// DeleteUserLoginTransactions deletes the user's login transactions but keepID.
func (s *Store) DeleteUserLoginTransactions(ctx context.Context, userID, keepID string) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM login_transactions WHERE user_id = $1 AND user_id <> '' AND id <> $2`, userID, keepID); err != nil {
		return wrapf(err, "delete login transactions of user %q", userID)
	}
	return nil
}

const actionTokenCols = `id, user_id, kind, created_at, expires_at, used_at`

// CreateActionToken stores t and deletes the user's other unused tokens of the
// same kind, so only the newest link works.
func (s *Store) CreateActionToken(ctx context.Context, t *store.ActionToken) error {
	err := s.inTx(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM action_tokens
			WHERE user_id = $1 AND kind = $2 AND used_at IS NULL AND id <> $3`,
			t.UserID, t.Kind, t.ID)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `INSERT INTO action_tokens (`+actionTokenCols+`)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, t.UserID, t.Kind, ts(t.CreatedAt), ts(t.ExpiresAt), ts(t.UsedAt))
		return err
	})
	if err != nil {
		return wrapf(err, "create %s token of user %q", t.Kind, t.UserID)
	}
	return nil
}

// GetActionToken returns the token, used or not; expiry is the caller's to check.
func (s *Store) GetActionToken(ctx context.Context, id string) (*store.ActionToken, error) {
	var t store.ActionToken
	err := s.q(ctx).QueryRow(ctx, `SELECT `+actionTokenCols+` FROM action_tokens
		WHERE id = $1`, id).Scan(&t.ID, &t.UserID, &t.Kind, tsDst{&t.CreatedAt},
		tsDst{&t.ExpiresAt}, tsDst{&t.UsedAt})
	if err != nil {
		return nil, wrapf(err, "get action token")
	}
	return &t, nil
}

// DeleteUnusedActionTokens deletes the user's unused tokens of every kind.
func (s *Store) DeleteUnusedActionTokens(ctx context.Context, userID string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM action_tokens WHERE user_id = $1 AND used_at IS NULL`, userID)
	if err != nil {
		return wrapf(err, "delete unused action tokens of %q", userID)
	}
	return nil
}

// UseActionToken marks the token used at now. The "not used yet" test is part of
// the UPDATE, so a link clicked twice at once is used once.
func (s *Store) UseActionToken(ctx context.Context, id string, now time.Time) error {
	q := s.q(ctx)
	// A zero now must still mark the token, or it could be used again.
	tag, err := q.Exec(ctx, `UPDATE action_tokens SET used_at = coalesce($2, now())
		WHERE id = $1 AND used_at IS NULL`, id, ts(now))
	if err != nil {
		return wrapf(err, "use action token")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if err := exists(ctx, q, `SELECT FROM action_tokens WHERE id = $1`, id); err != nil {
		return wrapf(err, "use action token")
	}
	return wrapf(store.ErrConflict, "use action token: already used")
}
