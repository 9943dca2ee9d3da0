package sqlite

import (
	"context"

	"github.com/authz/authz/internal/store"
)

// AppendAudit stores e and sets e.ID.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	return appendAudit(ctx, s.writer(ctx), e, &e.ID)
}

// appendAudit stores e and sets *id to its ID.
func appendAudit(ctx context.Context, q querier, e *store.AuditEvent, id *int64) error {
	err := q.QueryRowContext(ctx, `INSERT INTO audit_events (time, type, actor_id, user_id, client_id, ip, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		micro(e.Time), e.Type, e.ActorID, e.UserID, e.ClientID, e.IP, e.Detail).Scan(id)
	return wrap(err, "append %s audit event", e.Type)
}

func scanAudit(sc scanner) (*store.AuditEvent, error) {
	var e store.AuditEvent
	err := sc.Scan(&e.ID, microTime{&e.Time}, &e.Type, &e.ActorID, &e.UserID, &e.ClientID, &e.IP, &e.Detail)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// ListAudit returns one page of events matching f, newest first, and how many
// match. Since is inclusive, Until exclusive.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, int, error) {
	w := auditWhere(f)
	q := s.reader(ctx)
	var total int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, wrap(err, "count audit events")
	}
	limit, offset := page(f.Limit, f.Offset)
	es, err := collect(scanAudit)(q.QueryContext(ctx, `SELECT id, time, type, actor_id, user_id, client_id, ip, detail
		FROM audit_events`+w.String()+` ORDER BY time DESC, id DESC LIMIT ? OFFSET ?`,
		append(w.args, limit, offset)...))
	return es, total, wrap(err, "list audit events")
}

func auditWhere(f store.AuditFilter) *where {
	var w where
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.UserID != "" {
		w.add("user_id = ?", f.UserID)
	}
	if !f.Since.IsZero() {
		w.add("time >= ?", micro(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("time < ?", micro(f.Until))
	}
	return &w
}
