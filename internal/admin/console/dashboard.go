package console

import (
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/views"
)

// loginMethods label the dashboard's login counts (catalog IDs), in the
// order shown.
var loginMethods = []struct{ key, label string }{
	{admin.MethodWebAuthn, "admin.dash.method_webauthn"},
	{admin.MethodOTP, "admin.dash.method_otp"},
	{admin.MethodRemembered, "admin.dash.method_remembered"},
	{admin.MethodPassword, "admin.dash.method_password"},
	{admin.MethodFederated, "admin.dash.method_federated"},
	{admin.MethodOther, "admin.dash.method_other"},
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
		Since: i18n.FormatTime(r.Context(), st.Since)}
	for _, m := range loginMethods {
		n := st.Logins[m.key]
		d.Logins = append(d.Logins, views.AdminLoginCount{ID: m.key, Label: i18n.T(r.Context(), m.label), Count: n})
		d.LoginsTotal += n
	}
	c.render(w, r, http.StatusOK, views.AdminDashboardPage(d))
}
