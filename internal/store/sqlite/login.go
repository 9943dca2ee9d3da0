package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/authz/authz/internal/store"
)

// IDs in this file are hashes of cookie or link values; error messages leave
// them out, since they are the keys a thief would need.

// CreateSession stores ss.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	return createSession(ctx, s.writer(ctx), ss)
}

// SignIn ends the login transaction and writes the session, the last login
// and the event in one transaction, so all of them share one commit.
func (s *Store) SignIn(ctx context.Context, loginID string, ss *store.Session, e *store.AuditEvent) error {
	var id int64
	err := s.inTx(ctx, func(q querier) error {
		if loginID != "" {
			err := exactlyOne(q.ExecContext(ctx, `DELETE FROM login_transactions WHERE id = ?`, loginID))
			if err != nil {
				return wrap(err, "end login transaction")
			}
		}
		if err := createSession(ctx, q, ss); err != nil {
			return err
		}
		if err := setLastLogin(ctx, q, ss.UserID, ss.CreatedAt); err != nil {
			return err
		}
		return appendAudit(ctx, q, e, &id)
	})
	if err == nil {
		e.ID = id
	}
	return err
}

func setLastLogin(ctx context.Context, q querier, id string, at time.Time) error {
	err := exactlyOne(q.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, micro(at), id))
	return wrap(err, "set last login of user %q", id)
}

func createSession(ctx context.Context, q querier, ss *store.Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.ID, ss.UserID, micro(ss.AuthTime), list(ss.AMR), ss.Provider, micro(ss.CreatedAt), micro(ss.ExpiresAt),
		ss.UserAgent, ss.IP, micro(ss.LastSeenAt))
	return wrap(err, "create session of %q", ss.UserID)
}

const sessionCols = `id, user_id, auth_time, amr, provider, created_at, expires_at, user_agent, ip, last_seen_at`

func scanSession(row interface{ Scan(...any) error }) (*store.Session, error) {
	var ss store.Session
	err := row.Scan(&ss.ID, &ss.UserID, microTime{&ss.AuthTime}, jsonList{&ss.AMR}, &ss.Provider,
		microTime{&ss.CreatedAt}, microTime{&ss.ExpiresAt}, &ss.UserAgent, &ss.IP, microTime{&ss.LastSeenAt})
	if err != nil {
		return nil, err
	}
	return &ss, nil
}

// GetSession returns the session unless it has expired at now.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*store.Session, error) {
	ss, err := scanSession(s.reader(ctx).QueryRowContext(ctx, `SELECT `+sessionCols+`
		FROM sessions WHERE id = ? AND expires_at > ?`, id, micro(now)))
	if err != nil {
		return nil, wrap(err, "get session")
	}
	return ss, nil
}

// DeleteSession deletes the session and queues its back-channel logouts.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return wrap(s.inTx(ctx, func(q querier) error {
		if err := exactlyOne(q.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)); err != nil {
			return err
		}
		return queueLogouts(ctx, q, "sc.session_id = ?", id)
	}), "delete session")
}

// DeleteUserSessions signs the user out everywhere and queues the
// back-channel logouts of every session.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	return wrap(s.inTx(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		return queueLogouts(ctx, q, "sc.user_id = ?", userID)
	}), "delete sessions of %q", userID)
}

const loginTxCols = `id, purpose, csrf, auth_request, client_id, requested_at, user_id, amr, auth_time,
	pending_otp_secret, action_token_id, upstream_alias, upstream_state, upstream_nonce, upstream_verifier,
	created_at, expires_at, pending_recovery_codes, webauthn_session`

// CreateLoginTransaction stores lt.
func (s *Store) CreateLoginTransaction(ctx context.Context, lt *store.LoginTransaction) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO login_transactions (`+loginTxCols+`) VALUES (`+placeholders(19)+`)`,
		lt.ID, lt.Purpose, lt.CSRF, lt.AuthRequest, lt.ClientID, micro(lt.RequestedAt), lt.UserID, list(lt.AMR),
		micro(lt.AuthTime), lt.PendingOTPSecret, lt.ActionTokenID, lt.UpstreamAlias, lt.UpstreamState,
		lt.UpstreamNonce, lt.UpstreamVerifier, micro(lt.CreatedAt), micro(lt.ExpiresAt), lt.PendingRecoveryCodes, lt.WebAuthnSession)
	return wrap(err, "create login transaction")
}

// GetLoginTransaction returns the transaction unless it has expired at now.
func (s *Store) GetLoginTransaction(ctx context.Context, id string, now time.Time) (*store.LoginTransaction, error) {
	var lt store.LoginTransaction
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT `+loginTxCols+` FROM login_transactions
		WHERE id = ? AND expires_at > ?`, id, micro(now)).Scan(
		&lt.ID, &lt.Purpose, &lt.CSRF, &lt.AuthRequest, &lt.ClientID, microTime{&lt.RequestedAt}, &lt.UserID,
		jsonList{&lt.AMR}, microTime{&lt.AuthTime}, &lt.PendingOTPSecret, &lt.ActionTokenID, &lt.UpstreamAlias,
		&lt.UpstreamState, &lt.UpstreamNonce, &lt.UpstreamVerifier, microTime{&lt.CreatedAt}, microTime{&lt.ExpiresAt},
		&lt.PendingRecoveryCodes, &lt.WebAuthnSession)
	if err != nil {
		return nil, wrap(err, "get login transaction")
	}
	return &lt, nil
}

// UpdateLoginTransaction writes every field of lt but ID and CreatedAt.
func (s *Store) UpdateLoginTransaction(ctx context.Context, lt *store.LoginTransaction) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE login_transactions SET purpose = ?, csrf = ?,
		auth_request = ?, client_id = ?, requested_at = ?, user_id = ?, amr = ?, auth_time = ?,
		pending_otp_secret = ?, action_token_id = ?, upstream_alias = ?, upstream_state = ?,
		upstream_nonce = ?, upstream_verifier = ?, expires_at = ?, pending_recovery_codes = ?, webauthn_session = ? WHERE id = ?`,
		lt.Purpose, lt.CSRF, lt.AuthRequest, lt.ClientID, micro(lt.RequestedAt), lt.UserID, list(lt.AMR),
		micro(lt.AuthTime), lt.PendingOTPSecret, lt.ActionTokenID, lt.UpstreamAlias, lt.UpstreamState,
		lt.UpstreamNonce, lt.UpstreamVerifier, micro(lt.ExpiresAt), lt.PendingRecoveryCodes, lt.WebAuthnSession, lt.ID))
	return wrap(err, "update login transaction")
}

// DeleteLoginTransaction deletes the transaction.
func (s *Store) DeleteLoginTransaction(ctx context.Context, id string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM login_transactions WHERE id = ?`, id))
	return wrap(err, "delete login transaction")
}

// DeleteUserLoginTransactions deletes the user's login transactions but keepID.
func (s *Store) DeleteUserLoginTransactions(ctx context.Context, userID, keepID string) error {
	_, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM login_transactions WHERE user_id = ? AND user_id <> '' AND id <> ?`, userID, keepID)
	return wrap(err, "delete login transactions of %q", userID)
}

// CreateActionToken stores t and deletes the user's other unused links of the
// same kind, in one transaction, so only the newest e-mail works.
func (s *Store) CreateActionToken(ctx context.Context, t *store.ActionToken) error {
	err := s.inTx(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `DELETE FROM action_tokens WHERE user_id = ? AND kind = ? AND used_at = 0`,
			t.UserID, t.Kind)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `INSERT INTO action_tokens (id, user_id, kind, created_at, expires_at, used_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.UserID, t.Kind, micro(t.CreatedAt), micro(t.ExpiresAt), micro(t.UsedAt))
		return err
	})
	return wrap(err, "create %s link of %q", t.Kind, t.UserID)
}

// GetActionToken returns the link, used or expired or not.
func (s *Store) GetActionToken(ctx context.Context, id string) (*store.ActionToken, error) {
	t := store.ActionToken{ID: id}
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT user_id, kind, created_at, expires_at, used_at
		FROM action_tokens WHERE id = ?`, id).
		Scan(&t.UserID, &t.Kind, microTime{&t.CreatedAt}, microTime{&t.ExpiresAt}, microTime{&t.UsedAt})
	if err != nil {
		return nil, wrap(err, "get link")
	}
	return &t, nil
}

// DeleteUnusedActionTokens deletes the user's unused links of every kind.
func (s *Store) DeleteUnusedActionTokens(ctx context.Context, userID string) error {
	_, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM action_tokens WHERE user_id = ? AND used_at = 0`, userID)
	return wrap(err, "delete unused links of %q", userID)
}

// UseActionToken marks the link used at now, once.
func (s *Store) UseActionToken(ctx context.Context, id string, now time.Time) error {
	if now.IsZero() {
		// 0 means "unused" in the table: the link would stay usable.
		return errors.New("sqlite: use link: zero time")
	}
	err := conditional(ctx, s.writer(ctx),
		`UPDATE action_tokens SET used_at = ? WHERE id = ? AND used_at = 0`, []any{micro(now), id},
		`SELECT count(*) FROM action_tokens WHERE id = ?`, id)
	return wrap(err, "use link")
}

// GetLoginState reads the transaction and its user's sign-in records one
// after another (SQLite has no round trips to save) in one read
// transaction, so that all of them are of one moment.
func (s *Store) GetLoginState(ctx context.Context, id, throttleKey string, now time.Time) (*store.LoginState, error) {
	var ls *store.LoginState
	err := s.inSnapshot(ctx, func(ctx context.Context) (err error) {
		ls, err = store.ReadLoginState(ctx, s, id, throttleKey, now)
		return err
	})
	return ls, err
}
