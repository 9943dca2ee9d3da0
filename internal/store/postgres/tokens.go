package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

const tokenCols = `kind, signature, request_id, requested_at, client_id, subject, scopes,
	granted_scopes, audience, granted_audience, form, session, active, access_signature,
	expires_at, rotated_at`

// CreateToken stores t; ErrConflict when (kind, signature) is taken.
func (s *Store) CreateToken(ctx context.Context, t *store.OAuthToken) error {
	if _, err := s.q(ctx).Exec(ctx, insertToken, tokenArgs(t)...); err != nil {
		// Signatures are bearer secrets' hashes; the request ID identifies the grant.
		return wrapf(err, "create %s token of request %q", t.Kind, t.RequestID)
	}
	return nil
}

const insertToken = `INSERT INTO oauth_tokens (` + tokenCols + `) VALUES
	($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

func tokenArgs(t *store.OAuthToken) []any {
	return []any{t.Kind, t.Signature, t.RequestID, ts(t.RequestedAt), t.ClientID, t.Subject,
		strs(t.Scopes), strs(t.GrantedScopes), strs(t.Audience), strs(t.GrantedAudience),
		t.Form, blob(t.Session), t.Active, t.AccessSignature, ts(t.ExpiresAt), ts(t.RotatedAt)}
}

// CreateTokens sends the inserts as one batch, which PostgreSQL runs as one
// implicit transaction.
func (s *Store) CreateTokens(ctx context.Context, tokens []*store.OAuthToken, sc *store.SessionClient) error {
	if len(tokens) == 0 && sc == nil {
		return nil
	}
	err := s.sendBatch(ctx, func() *pgx.Batch {
		b := &pgx.Batch{}
		for _, t := range tokens {
			b.Queue(insertToken, tokenArgs(t)...)
		}
		if sc != nil {
			b.Queue(recordSessionClient, sessionClientArgs(sc)...)
		}
		return b
	})
	if err != nil {
		return wrapf(err, "create %d tokens", len(tokens))
	}
	return nil
}

// GetToken returns the token, active or not.
func (s *Store) GetToken(ctx context.Context, kind, signature string) (*store.OAuthToken, error) {
	t, err := scanToken(s.q(ctx).QueryRow(ctx, selectToken, kind, signature))
	if err != nil {
		return nil, wrapf(err, "get %s token", kind)
	}
	return t, nil
}

const selectToken = `SELECT ` + tokenCols + ` FROM oauth_tokens WHERE kind = $1 AND signature = $2`

func scanToken(row pgx.Row) (*store.OAuthToken, error) {
	var t store.OAuthToken
	err := row.Scan(&t.Kind, &t.Signature, &t.RequestID, tsDst{&t.RequestedAt}, &t.ClientID,
		&t.Subject, &t.Scopes, &t.GrantedScopes, &t.Audience, &t.GrantedAudience, &t.Form,
		&t.Session, &t.Active, &t.AccessSignature, tsDst{&t.ExpiresAt}, tsDst{&t.RotatedAt})
	if err != nil {
		return nil, err
	}
	t.Scopes = noEmpty(t.Scopes)
	t.GrantedScopes = noEmpty(t.GrantedScopes)
	t.Audience = noEmpty(t.Audience)
	t.GrantedAudience = noEmpty(t.GrantedAudience)
	t.Session = noEmpty(t.Session)
	return &t, nil
}

// GetTokens reads the tokens of keys in one batch.
func (s *Store) GetTokens(ctx context.Context, keys []store.TokenKey) ([]*store.OAuthToken, error) {
	out := make([]*store.OAuthToken, len(keys))
	err := s.sendBatch(ctx, func() *pgx.Batch {
		b := &pgx.Batch{}
		for i, k := range keys {
			b.Queue(selectToken, k.Kind, k.Signature).QueryRow(func(row pgx.Row) (err error) {
				out[i], err = scanToken(row)
				return noRowsIsNil(err)
			})
		}
		return b
	})
	if err != nil {
		return nil, wrapf(err, "get %d tokens", len(keys))
	}
	return out, nil
}

// DeactivateToken marks the token inactive. Testing "still active" in the UPDATE
// makes refresh-token rotation single-use across replicas.
func (s *Store) DeactivateToken(ctx context.Context, kind, signature string) error {
	q := s.q(ctx)
	tag, err := q.Exec(ctx, `UPDATE oauth_tokens SET active = false
		WHERE kind = $1 AND signature = $2 AND active`, kind, signature)
	if err != nil {
		return wrapf(err, "deactivate %s token", kind)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	err = exists(ctx, q, `SELECT FROM oauth_tokens WHERE kind = $1 AND signature = $2`, kind, signature)
	if err != nil {
		return wrapf(err, "deactivate %s token", kind)
	}
	return wrapf(store.ErrConflict, "deactivate %s token: inactive already", kind)
}

// rotateToken retires an active token and, in the same statement, deletes
// the access token it was issued with: the one it names, or every one of
// its request when it names none. Two deletions, each a join an index
// serves, where one with an OR of both would leave the planner to scan.
const rotateToken = `WITH rotated AS (
		UPDATE oauth_tokens SET active = false, rotated_at = $3
		WHERE kind = $1 AND signature = $2 AND active
		RETURNING request_id, access_signature),
	named AS (
		DELETE FROM oauth_tokens a USING rotated r
		WHERE r.access_signature <> '' AND a.kind = $4 AND a.signature = r.access_signature),
	unnamed AS (
		DELETE FROM oauth_tokens a USING rotated r
		WHERE r.access_signature = '' AND a.kind = $4 AND a.request_id = r.request_id)
	SELECT count(*) FROM rotated`

// RotateToken retires the active token at now, with the access token issued
// with it (rotateToken). When it is inactive already, a share lock on a row
// still within the grace holds off a concurrent revocation until this
// transaction has issued its tokens, and the revocation then finds them (see
// DeactivateTokensByRequest).
func (s *Store) RotateToken(ctx context.Context, kind, signature string, now, graceSince time.Time) (bool, error) {
	q := s.q(ctx)
	var rotated int
	if err := q.QueryRow(ctx, rotateToken, kind, signature, ts(now), store.TokenAccess).Scan(&rotated); err != nil {
		return false, wrapf(err, "rotate %s token", kind)
	}
	if rotated == 1 {
		return false, nil
	}
	if !graceSince.IsZero() {
		err := exists(ctx, q, `SELECT FROM oauth_tokens WHERE kind = $1 AND signature = $2
			AND NOT active AND rotated_at > $3 FOR SHARE`, kind, signature, ts(graceSince))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, wrapf(err, "rotate %s token", kind)
		}
	}
	if err := exists(ctx, q, `SELECT FROM oauth_tokens WHERE kind = $1 AND signature = $2`, kind, signature); err != nil {
		return false, wrapf(err, "rotate %s token", kind)
	}
	return false, wrapf(store.ErrConflict, "rotate %s token: inactive already", kind)
}

// DeleteToken deletes the token; ErrNotFound when unknown, which fosite turns
// into its own not-found error.
func (s *Store) DeleteToken(ctx context.Context, kind, signature string) error {
	err := execOne(ctx, s.q(ctx), `DELETE FROM oauth_tokens
		WHERE kind = $1 AND signature = $2`, kind, signature)
	if err != nil {
		return wrapf(err, "delete %s token", kind)
	}
	return nil
}

// DeactivateTokensByRequest revokes every token of kind issued under
// requestID. Under READ COMMITTED one UPDATE misses a token that a concurrent
// rotation inserts: the UPDATE waits for the rotation's lock on the old token
// but sees only the rows of its own snapshot. So it runs again until it finds
// nothing more; each run after a wait sees what the waited-for rotation issued.
func (s *Store) DeactivateTokensByRequest(ctx context.Context, kind, requestID string) error {
	for {
		tag, err := s.q(ctx).Exec(ctx, `UPDATE oauth_tokens SET active = false, rotated_at = NULL
			WHERE kind = $1 AND request_id = $2 AND (active OR rotated_at IS NOT NULL)`, kind, requestID)
		if err != nil {
			return wrapf(err, "deactivate %s tokens of request %q", kind, requestID)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
	}
}

// DeleteSubjectTokens deletes every token issued to subject.
func (s *Store) DeleteSubjectTokens(ctx context.Context, subject string) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM oauth_tokens WHERE subject = $1`, subject); err != nil {
		return wrapf(err, "delete tokens of %q", subject)
	}
	return nil
}

// DeleteTokensByRequest deletes every token of kind issued under requestID.
func (s *Store) DeleteTokensByRequest(ctx context.Context, kind, requestID string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM oauth_tokens
		WHERE kind = $1 AND request_id = $2`, kind, requestID)
	if err != nil {
		return wrapf(err, "delete %s tokens of request %q", kind, requestID)
	}
	return nil
}
