package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

func TestAPIAudit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("hal", "hal@example.com", store.RoleUser, false)
		base := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
		for i := range 5 {
			e.AddEvent("login.success", u.ID, "amr=pwd", base.Add(time.Duration(i)*time.Hour))
		}
		e.AddEvent("login.failure", u.ID, "method=pwd", base.Add(30*time.Minute))
		e.AddEvent("login.success", e.Admin.ID, "amr=pwd,otp,mfa", base)

		var l list[apiAuditEvent]
		e.api("GET", "/audit-events?type=login.success&user_id="+u.ID+"&limit=2", nil).decode(t, &l)
		if l.Total != 5 || len(l.Items) != 2 || !l.Items[0].Time.Equal(base.Add(4*time.Hour)) || !l.Items[0].Time.After(l.Items[1].Time) {
			t.Fatalf("newest first %+v", l)
		}
		q := url.Values{"since": {base.Add(time.Hour).Format(time.RFC3339)}, "until": {base.Add(3 * time.Hour).Format(time.RFC3339)}, "type": {"login.success"}}
		e.api("GET", "/audit-events?"+q.Encode(), nil).decode(t, &l)
		if l.Total != 2 {
			t.Errorf("time range %+v", l)
		}
		r := e.api("GET", "/audit-events?type=login.success&offset=100", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"items":[]`) || !strings.Contains(string(r.body), `"total":6`) {
			t.Errorf("beyond the end %s", r.body)
		}
		for query, field := range map[string]string{
			"since=yesterday": "since", "until=2025-13-01T00:00:00Z": "until", "user=hal": "user",
			"since=2025-03-04T12:00:00Z&until=2025-03-04T11:00:00Z": "until", "limit=1000": "limit",
		} {
			wantProblem(t, e.api("GET", "/audit-events?"+query, nil), http.StatusBadRequest, field)
		}
	})
}
