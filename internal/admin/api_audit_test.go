package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// addEvent appends an audit event at t.
func (e *env) addEvent(typ, userID, detail string, t time.Time) {
	e.t.Helper()
	if err := e.st.AppendAudit(context.Background(), &store.AuditEvent{Time: t, Type: typ, UserID: userID, Detail: detail}); err != nil {
		e.t.Fatal(err)
	}
}

func TestAPIAudit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("hal", "hal@example.com", store.RoleUser, false)
		base := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
		for i := range 5 {
			e.addEvent("login.success", u.ID, "amr=pwd", base.Add(time.Duration(i)*time.Hour))
		}
		e.addEvent("login.failure", u.ID, "method=pwd", base.Add(30*time.Minute))
		e.addEvent("login.success", e.admin.ID, "amr=pwd,otp,mfa", base)

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

func TestDashboard(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		now := time.Now().UTC()
		e.console.Now = func() time.Time { return now }
		enrolled := e.createUser("enr", "enr@example.com", store.RoleUser, true)
		e.addCredential(enrolled.ID)
		e.createUser("wait", "wait@example.com", store.RoleUser, true)
		e.createUser("none", "none@example.com", store.RoleUser, false)
		e.clientToken("Robot", AdminScope)
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 1, 0, time.UTC)
		for _, amr := range []string{"pwd,otp,mfa", "pwd,otp,mfa", "pwd", "pwd,fed", "fed", "x"} {
			e.addEvent("login.success", enrolled.ID, "amr="+amr, today)
		}
		e.addEvent("login.success", enrolled.ID, "amr=pwd", today.Add(-time.Hour)) // yesterday
		e.addEvent("otp.lockout", enrolled.ID, "", today)

		var st Stats
		e.api("GET", "/stats", nil).decode(t, &st)
		// root is enrolled? No: root has the flag but no credential.
		want := Stats{Users: 4, OTPEnrolled: 1, OTPWaiting: 2, Clients: 1, Lockouts: 1}
		if st.Users != want.Users || st.OTPEnrolled != want.OTPEnrolled || st.OTPWaiting != want.OTPWaiting ||
			st.Clients != want.Clients || st.Lockouts != want.Lockouts || st.Partial {
			t.Errorf("stats %+v", st)
		}
		if got, _ := json.Marshal(st.Logins); string(got) != `{"fed":2,"other":1,"otp":2,"pwd":1}` {
			t.Errorf("logins %s", got)
		}

		page := e.get("/admin").body
		for id, want := range map[string]string{
			"count-users": "4", "count-otp-enrolled": "1", "count-otp-waiting": "2", "count-clients": "1",
			"count-logins": "6", "login-otp": "2", "login-pwd": "1", "login-fed": "2", "login-other": "1", "count-lockouts": "1",
		} {
			if got := text(t, page, id); got != want {
				t.Errorf("%s = %q, want %q", id, got, want)
			}
		}
		for _, nav := range []string{"nav-dashboard", "nav-users", "nav-clients", "nav-providers", "nav-audit"} {
			if !strings.Contains(page, `id="`+nav+`"`) {
				t.Errorf("navigation lacks %s", nav)
			}
		}
	})
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("ivy", "ivy@example.com", store.RoleUser, false)
		base := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
		for i := range 25 {
			e.addEvent("login.success", u.ID, "amr=pwd", base.Add(time.Duration(i)*time.Minute))
		}
		e.addEvent("otp.lockout", u.ID, "", base)
		r := e.get("/admin/audit?user=ivy&type=login.success")
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.body, "event-count"); got != "Showing 1–20 of 25" {
			t.Errorf("count %q", got)
		}
		if !strings.Contains(r.body, "<td>ivy</td>") || !strings.Contains(r.body, "2025-03-04 10:24:00") {
			t.Error("page lacks the newest event with the username")
		}
		if !strings.Contains(r.body, `id="next"`) {
			t.Error("no link to older events")
		}
		r = e.get("/admin/audit?user=ivy&type=login.success&page=2")
		if got := text(t, r.body, "event-count"); got != "Showing 21–25 of 25" {
			t.Errorf("page 2 count %q", got)
		}
		r = e.get("/admin/audit?type=otp.lockout&since=2025-03-04T09:00&until=2025-03-04T11:00")
		if got := text(t, r.body, "event-count"); got != "Showing 1–1 of 1" {
			t.Errorf("time range %q", got)
		}
		r = e.get("/admin/audit?since=soon")
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); !strings.Contains(got, "From must be a date") {
			t.Errorf("error %q", got)
		}
		wantStatus(t, e.get("/admin/audit?user=nobody"), http.StatusOK)
		if !slices.Contains(auditTypes, "federation.unlinked") {
			t.Error("the type list lacks federation.unlinked")
		}
	})
}
