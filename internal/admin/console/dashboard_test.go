package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

func TestDashboard(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		now := time.Now().UTC()
		e.Service.Now = func() time.Time { return now }
		enrolled := e.CreateUser("enr", "enr@example.com", store.RoleUser, true)
		e.AddCredential(enrolled.ID)
		e.CreateUser("wait", "wait@example.com", store.RoleUser, true)
		e.CreateUser("none", "none@example.com", store.RoleUser, false)
		robot, grants, none := "Robot", []string{"client_credentials"}, []string{}
		if _, _, err := e.Service.CreateClient(context.Background(), admin.Actor{},
			admin.ClientPatch{Name: &robot, GrantTypes: &grants, RedirectURIs: &none}); err != nil {
			t.Fatal(err)
		}
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 1, 0, time.UTC)
		for _, amr := range []string{"pwd,otp,mfa", "pwd,otp,mfa", "pwd", "pwd,fed", "fed", "x"} {
			e.AddEvent("login.success", enrolled.ID, "amr="+amr, today)
		}
		e.AddEvent("login.success", enrolled.ID, "amr=pwd", today.Add(-time.Hour)) // yesterday
		e.AddEvent("otp.lockout", enrolled.ID, "", today)

		page := e.Get("/admin").Body
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
