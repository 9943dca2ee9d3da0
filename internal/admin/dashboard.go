package admin

import (
	"context"
	"net/http"

	"github.com/authz/authz/views"
)

// loginMethods label the dashboard's login counts, in the order shown.
var loginMethods = []struct{ key, label string }{
	{MethodOTP, "Password and one-time code"},
	{MethodPassword, "Password only"},
	{MethodFederated, "Upstream provider"},
	{MethodOther, "Other"},
}

// dashboard serves GET /admin.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, _ *principal) {
	st, err := c.Service().Dashboard(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminDashboardData{Users: st.Users, OTPEnrolled: st.OTPEnrolled, OTPWaiting: st.OTPWaiting,
		Clients: st.Clients, Providers: st.Providers, Lockouts: st.Lockouts, Partial: st.Partial,
		Since: formatTime(st.Since)}
	for _, m := range loginMethods {
		n := st.Logins[m.key]
		d.Logins = append(d.Logins, views.AdminLoginCount{ID: m.key, Label: m.label, Count: n})
		d.LoginsTotal += n
	}
	c.render(w, r, http.StatusOK, views.AdminDashboardPage(d))
}

// identityRows lists the upstream identities of user id for the user page,
// and the aliases of the providers one can be linked at.
func (c *Console) identityRows(ctx context.Context, id string) ([]views.AdminIdentityRow, []string, error) {
	ids, err := c.Store.ListFederatedIdentities(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	providers, err := c.Store.ListProviders(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	var aliases []string
	for _, p := range providers {
		names[p.Alias] = p.DisplayName
		aliases = append(aliases, p.Alias)
	}
	var rows []views.AdminIdentityRow
	for _, fi := range ids {
		name, ok := names[fi.ProviderAlias]
		if !ok {
			name = "deleted provider"
		}
		rows = append(rows, views.AdminIdentityRow{Provider: fi.ProviderAlias, Name: name, Subject: fi.Subject, Linked: formatTime(fi.CreatedAt)})
	}
	return rows, aliases, nil
}
