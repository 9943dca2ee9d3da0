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

		var l keysetPage[apiAuditEvent]
		filter := "/audit-events?type=login.success&user_id=" + u.ID + "&limit=2"
		r := e.api("GET", filter, nil)
		r.decode(t, &l)
		if len(l.Items) != 2 || !l.Items[0].Time.Equal(base.Add(4*time.Hour)) || !l.Items[0].Time.After(l.Items[1].Time) || l.Next == nil {
			t.Fatalf("newest first %+v", l)
		}
		// Newer events appended meanwhile do not shift the older pages.
		e.AddEvent("login.success", u.ID, "amr=pwd", base.Add(5*time.Hour))
		var times []time.Time
		for next := *l.Next; ; {
			e.api("GET", filter+"&cursor="+url.QueryEscape(next), nil).decode(t, &l)
			for _, ev := range l.Items {
				times = append(times, ev.Time)
			}
			if l.Next == nil {
				break
			}
			next = *l.Next
		}
		if len(times) != 3 || !times[0].Equal(base.Add(2*time.Hour)) || !times[2].Equal(base) {
			t.Errorf("older pages %v", times)
		}
		q := url.Values{"since": {base.Add(time.Hour).Format(time.RFC3339)}, "until": {base.Add(3 * time.Hour).Format(time.RFC3339)}, "type": {"login.success"}}
		e.api("GET", "/audit-events?"+q.Encode(), nil).decode(t, &l)
		if len(l.Items) != 2 || l.Next != nil {
			t.Errorf("time range %+v", l)
		}
		r = e.api("GET", "/audit-events?type=login.success&limit=1000", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"limit":100`) {
			t.Errorf("a limit above the maximum is not clamped: %s", r.body)
		}
		// A cursor of the unfiltered log does not continue a filtered one.
		e.api("GET", "/audit-events?limit=1", nil).decode(t, &l)
		wantProblem(t, e.api("GET", "/audit-events?type=login.failure&cursor="+url.QueryEscape(*l.Next), nil), http.StatusBadRequest, "cursor")
		for query, field := range map[string]string{
			"since=yesterday": "since", "until=2025-13-01T00:00:00Z": "until", "user=hal": "user",
			"since=2025-03-04T12:00:00Z&until=2025-03-04T11:00:00Z": "until", "limit=0": "limit", "offset=3": "offset",
		} {
			wantProblem(t, e.api("GET", "/audit-events?"+query, nil), http.StatusBadRequest, field)
		}
	})
}
