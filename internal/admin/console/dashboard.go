package console

import (
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/views"
)

// loginMethods label the dashboard's login counts, in the order shown.
var loginMethods = []struct{ key, label string }{
	{admin.MethodWebAuthn, "Password and security key or passkey"},
	{admin.MethodOTP, "Password and one-time code"},
	{admin.MethodRemembered, "Password in a remembered browser"},
	{admin.MethodPassword, "Password only"},
	{admin.MethodFederated, "Upstream provider"},
	{admin.MethodOther, "Other"},
}

// dashboard serves GET /admin.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, _ *principal) {
	st, err := c.Service.Dashboard(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminDashboardData{Users: st.Users, OTPEnrolled: st.OTPEnrolled, OTPWaiting: st.OTPWaiting,
		TOTPOnly: st.TOTPOnly, WebAuthnOnly: st.WebAuthnOnly, BothFactors: st.BothFactors,
		Clients: st.Clients, Providers: st.Providers, Lockouts: st.Lockouts, Partial: st.Partial,
		Since: formatTime(st.Since)}
	for _, m := range loginMethods {
		n := st.Logins[m.key]
		d.Logins = append(d.Logins, views.AdminLoginCount{ID: m.key, Label: m.label, Count: n})
		d.LoginsTotal += n
	}
	c.render(w, r, http.StatusOK, views.AdminDashboardPage(d))
}
