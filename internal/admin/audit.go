package admin

import (
	"context"
	"time"

	"github.com/authz/authz/internal/store"
)

// maxTypeLen bounds an audit type filter.
const maxTypeLen = 100

// AuditQuery selects audit events; zero fields select everything.
type AuditQuery struct {
	UserID string
	Type   string
	// Since is inclusive, Until exclusive.
	Since time.Time
	Until time.Time
}

// ListAudit returns one page of the events matching q, newest first, and the
// cursor of the next page ("" on the last).
func (s *Service) ListAudit(ctx context.Context, q AuditQuery, pg store.Page) ([]*store.AuditEvent, string, error) {
	switch {
	case !validText(q.Type, maxTypeLen):
		return nil, "", invalid("type", "admin.err.audit_type", "Max", maxTypeLen)
	case !validText(q.UserID, maxQueryLen):
		return nil, "", invalid("user_id", "admin.err.audit_user", "Max", maxQueryLen)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return nil, "", invalid("until", "admin.err.audit_range")
	}
	events, next, err := s.Store.ListAuditPage(ctx, store.AuditPageFilter{Type: q.Type, UserID: q.UserID, Since: q.Since, Until: q.Until}, pg)
	if err != nil {
		return nil, "", pageError(err, "audit events")
	}
	return events, next, nil
}
