package api

import (
	"net/http"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

// apiAuditEvent is an audit event in the API.
type apiAuditEvent struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	ActorID  string    `json:"actor_id"`
	UserID   string    `json:"user_id"`
	ClientID string    `json:"client_id"`
	IP       string    `json:"ip"`
	Detail   string    `json:"detail"`
}

// AuditView is how the API and the CLI show an audit event.
func AuditView(e *store.AuditEvent) any { return auditJSON(e) }

func auditJSON(e *store.AuditEvent) apiAuditEvent {
	return apiAuditEvent{ID: e.ID, Time: e.Time, Type: e.Type, ActorID: e.ActorID,
		UserID: e.UserID, ClientID: e.ClientID, IP: e.IP, Detail: e.Detail}
}

// apiListAudit serves the audit log, newest first, filtered by user_id, type
// and an RFC 3339 time range (since inclusive, until exclusive).
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readPage(w, r, "user_id", "type", "since", "until")
	if !ok {
		return
	}
	q := r.URL.Query()
	query := admin.AuditQuery{UserID: q.Get("user_id"), Type: q.Get("type")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &query.Since}, {"until", &query.Until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", f.name+" must be an RFC 3339 time such as 2025-03-04T15:30:00Z.", f.name)
			return
		}
		*f.dst = t.UTC()
	}
	events, next, err := a.Service.ListAudit(r.Context(), query, pg)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	items := make([]apiAuditEvent, 0, len(events))
	for _, e := range events {
		items = append(items, auditJSON(e))
	}
	writePage(w, r, items, next, pg)
}
