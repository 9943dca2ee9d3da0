package admin

import (
	"context"
	"fmt"
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

// ListAudit returns one page of the events matching q, newest first, and how
// many match.
func (s *Service) ListAudit(ctx context.Context, q AuditQuery, offset, limit int) ([]*store.AuditEvent, int, error) {
	switch {
	case !validText(q.Type, maxTypeLen):
		return nil, 0, invalid("type", "Type must be at most 100 characters long, without control characters.")
	case !validText(q.UserID, maxQueryLen):
		return nil, 0, invalid("user_id", "User must be at most 100 characters long, without control characters.")
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return nil, 0, invalid("until", "The end of the time range must be after its start.")
	}
	events, total, err := s.Store.ListAudit(ctx, store.AuditFilter{Type: q.Type, UserID: q.UserID, Since: q.Since, Until: q.Until, Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("admin: list audit events: %w", err)
	}
	return events, total, nil
}
