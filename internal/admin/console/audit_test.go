package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

func TestAuditPage(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("ivy", "ivy@example.com", store.RoleUser, false)
		base := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
		for i := range 25 {
			e.AddEvent("login.success", u.ID, "amr=pwd", base.Add(time.Duration(i)*time.Minute))
		}
		e.AddEvent("otp.lockout", u.ID, "", base)
		r := e.Get("/admin/audit?user=ivy&type=login.success")
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.Body, "event-count"); got != "Showing 20 events" {
			t.Errorf("count %q", got)
		}
		if !strings.Contains(r.Body, "<td>ivy</td>") || !strings.Contains(r.Body, "4 Mar 2025, 10:24:00 UTC") {
			t.Error("page lacks the newest event with the username")
		}
		older := linkHref(r.Body, "next")
		if !strings.Contains(older, "type=login.success") || !strings.Contains(older, "user=ivy") || !strings.Contains(older, "after=") {
			t.Fatalf("link to older events %q", older)
		}
		r = e.Get(older)
		if got := text(t, r.Body, "event-count"); got != "Showing 5 events" {
			t.Errorf("page 2 count %q", got)
		}
		if !strings.Contains(r.Body, "4 Mar 2025, 10:04:00 UTC") || strings.Contains(r.Body, "4 Mar 2025, 10:05:00 UTC") || strings.Contains(r.Body, `id="next"`) {
			t.Error("page 2 is not the five oldest events")
		}
		if linkHref(r.Body, "first") != "/admin/audit?type=login.success&user=ivy" {
			t.Errorf("newest link %q", linkHref(r.Body, "first"))
		}
		wantStatus(t, e.Get(strings.Replace(older, "user=ivy", "user=root", 1)), http.StatusBadRequest)
		r = e.Get("/admin/audit?type=otp.lockout&since=2025-03-04T09:00&until=2025-03-04T11:00")
		if got := text(t, r.Body, "event-count"); got != "Showing 1 event" {
			t.Errorf("time range %q", got)
		}
		r = e.Get("/admin/audit?since=soon")
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); !strings.Contains(got, "From must be a date") {
			t.Errorf("error %q", got)
		}
		wantStatus(t, e.Get("/admin/audit?user=nobody"), http.StatusOK)
		r = e.Get("/admin/audit")
		for _, typ := range []string{"federation.unlinked", "password.lockout", "user.created"} {
			if !strings.Contains(r.Body, `<option value="`+typ+`">`) {
				t.Errorf("the type filter does not offer %s", typ)
			}
		}
	})
}
