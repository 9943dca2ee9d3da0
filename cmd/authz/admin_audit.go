package main

import (
	"context"
	"flag"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/api"
)

var auditColumns = []string{"time", "type", "actor_id", "user_id", "client_id", "ip", "detail"}

var auditCommands = []adminCommand{
	{"audit", "list", bindAuditList},
}

// bindAuditList lists the audit log newest first, as the console's audit
// page and the API's /audit-events do.
func bindAuditList(fs *flag.FlagSet) adminRun {
	user := fs.String("user", "", "only events about this user (ID or username)")
	typ := fs.String("type", "", "only events of this type, such as login.success")
	since := fs.String("since", "", "only events at or after this RFC 3339 time")
	until := fs.String("until", "", "only events before this RFC 3339 time")
	cursor, limit := pagingFlags(fs)
	return func(ctx context.Context, svc *admin.Service, _ map[string]bool) (any, error) {
		pg, err := page(*cursor, *limit)
		if err != nil {
			return nil, err
		}
		q := admin.AuditQuery{Type: *typ, UserID: *user}
		for _, f := range []struct {
			name, value string
			dst         *time.Time
		}{{"since", *since, &q.Since}, {"until", *until, &q.Until}} {
			if f.value == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, f.value)
			if err != nil {
				return nil, usageError("--" + f.name + " must be an RFC 3339 time such as 2025-03-04T15:30:00Z")
			}
			*f.dst = t.UTC()
		}
		if *user != "" {
			// A name that is nobody's is the ID of a deleted user, whose
			// events remain.
			info, err := svc.FindUser(ctx, *user)
			switch e := admin.AsError(err); {
			case err == nil:
				q.UserID = info.ID
			case e == nil || e.Kind != admin.KindNotFound:
				return nil, err
			}
		}
		events, next, err := svc.ListAudit(ctx, q, pg)
		if err != nil {
			return nil, err
		}
		out := newList(pg, next, auditColumns)
		for _, e := range events {
			out.Items = append(out.Items, api.AuditView(e))
		}
		return out, nil
	}
}
