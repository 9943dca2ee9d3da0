package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// PutConsent creates or replaces the consent of (UserID, ClientID).
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id)
		DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, strs(c.Scopes), ts(c.GrantedAt))
	if err != nil {
		return wrapf(err, "put consent of user %q to client %q", c.UserID, c.ClientID)
	}
	return nil
}

// GetConsent returns what the user granted the client.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	c := store.Consent{UserID: userID, ClientID: clientID}
	err := s.q(ctx).QueryRow(ctx, `SELECT scopes, granted_at FROM consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID).
		Scan(&c.Scopes, tsDst{&c.GrantedAt})
	if err != nil {
		return nil, wrapf(err, "get consent of user %q to client %q", userID, clientID)
	}
	c.Scopes = noEmpty(c.Scopes)
	return &c, nil
}

// AppendAudit stores e and sets e.ID.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if err := s.q(ctx).QueryRow(ctx, appendAudit, auditArgs(e)...).Scan(&e.ID); err != nil {
		return wrapf(err, "append %s audit event", e.Type)
	}
	return nil
}

const appendAudit = `INSERT INTO audit_events
	(time, type, actor_id, user_id, client_id, ip, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`

func auditArgs(e *store.AuditEvent) []any {
	return []any{auditTime(e.Time), e.Type, e.ActorID, e.UserID, e.ClientID, e.IP, e.Detail}
}

// auditWhere is the WHERE clause of ListAudit; an empty or zero filter field
// matches everything. Since is inclusive and Until exclusive, so consecutive
// windows neither overlap nor leave gaps.
const auditWhere = ` WHERE ($1 = '' OR type = $1) AND ($2 = '' OR user_id = $2)
	AND ($3::timestamptz IS NULL OR time >= $3) AND ($4::timestamptz IS NULL OR time < $4)`

func scanAudit(row pgx.Row) (*store.AuditEvent, error) {
	var e store.AuditEvent
	err := row.Scan(&e.ID, tsDst{&e.Time}, &e.Type, &e.ActorID, &e.UserID, &e.ClientID,
		&e.IP, &e.Detail)
	if err != nil {
		return nil, err
	}
	if e.Time.Equal(epoch) {
		e.Time = time.Time{}
	}
	return &e, nil
}

// epoch stands for the zero time in audit_events.time, which is NOT NULL
// (migration 0009) so that the keyset of ListAuditPage is a plain row
// comparison; SQLite stores the zero time the same way.
var epoch = time.Unix(0, 0).UTC()

// auditTime is the time column's value of an event at t.
func auditTime(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.Truncate(time.Microsecond)
}

// ListAudit returns one page of matching events newest first, and how many match.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, int, error) {
	offset, limit := pageLimit(f.Offset, f.Limit)
	q := s.q(ctx)
	args := []any{f.Type, f.UserID, ts(f.Since), ts(f.Until)}
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM audit_events`+auditWhere, args...).Scan(&total); err != nil {
		return nil, 0, wrapf(err, "count audit events")
	}
	// The ID breaks ties between events of the same microsecond in insertion order.
	events, err := queryList(ctx, q, scanAudit, `SELECT id, time, type, actor_id, user_id,
		client_id, ip, detail FROM audit_events`+auditWhere+`
		ORDER BY time DESC NULLS LAST, id DESC LIMIT $5 OFFSET $6`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, wrapf(err, "list audit events")
	}
	return events, total, nil
}
