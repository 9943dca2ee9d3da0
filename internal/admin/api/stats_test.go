package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

func TestStats(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		now := time.Now().UTC()
		e.Service.Now = func() time.Time { return now }
		enrolled := e.CreateUser("enr", "enr@example.com", store.RoleUser, true)
		e.AddCredential(enrolled.ID)
		e.CreateUser("wait", "wait@example.com", store.RoleUser, true)
		e.CreateUser("none", "none@example.com", store.RoleUser, false)
		e.clientToken("Robot", Scope)
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 1, 0, time.UTC)
		for _, amr := range []string{"pwd,otp,mfa", "pwd,otp,mfa", "pwd", "pwd,fed", "fed", "x"} {
			e.AddEvent("login.success", enrolled.ID, "amr="+amr, today)
		}
		e.AddEvent("login.success", enrolled.ID, "amr=pwd", today.Add(-time.Hour)) // yesterday
		e.AddEvent("otp.lockout", enrolled.ID, "", today)

		var st admin.Stats
		e.api("GET", "/stats", nil).decode(t, &st)
		// root is enrolled? No: root has the flag but no credential.
		want := admin.Stats{Users: 4, OTPEnrolled: 1, OTPWaiting: 2, Clients: 1, Lockouts: 1}
		if st.Users != want.Users || st.OTPEnrolled != want.OTPEnrolled || st.OTPWaiting != want.OTPWaiting ||
			st.Clients != want.Clients || st.Lockouts != want.Lockouts || st.Partial {
			t.Errorf("stats %+v", st)
		}
		if got, _ := json.Marshal(st.Logins); string(got) != `{"fed":2,"other":1,"otp":2,"pwd":1}` {
			t.Errorf("logins %s", got)
		}
	})
}
