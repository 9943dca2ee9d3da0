package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

func (c *Console) registerUsers(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/users", c.guard(c.listUsers))
	mux.HandleFunc("GET /admin/users/new", c.guard(c.newUser))
	mux.HandleFunc("POST /admin/users", c.guardPost(c.createUser))
	mux.HandleFunc("GET /admin/users/{id}", c.guard(c.showUser))
	mux.HandleFunc("POST /admin/users/{id}", c.guardPost(c.updateUser))
	mux.HandleFunc("POST /admin/users/{id}/reset-otp", c.guardPost(c.resetOTP))
	mux.HandleFunc("POST /admin/users/{id}/void-recovery-codes", c.guardPost(c.voidRecoveryCodes))
	mux.HandleFunc("POST /admin/users/{id}/send-setup", c.guardPost(c.sendSetup))
	mux.HandleFunc("POST /admin/users/{id}/send-reset", c.guardPost(c.sendReset))
	mux.HandleFunc("POST /admin/users/{id}/delete", c.guardPost(c.deleteUser))
	mux.HandleFunc("POST /admin/users/{id}/link", c.guardPost(c.linkIdentity))
	mux.HandleFunc("POST /admin/users/{id}/unlink", c.guardPost(c.unlinkIdentity))
}

func userPath(id string) string { return "/admin/users/" + url.PathEscape(id) }

// listUsers serves GET /admin/users?q=&after=.
func (c *Console) listUsers(w http.ResponseWriter, r *http.Request, _ *principal) {
	query, pg := cleanQuery(r.URL.Query().Get("q")), listPage(r.URL.Query())
	users, next, err := c.Store.ListUsersPage(r.Context(), store.UserPageFilter{Prefix: query}, pg)
	if c.badPage(w, r, err) {
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminUsersData{Query: query}
	if r.URL.Query().Get("notice") == "deleted" {
		d.Notice = i18n.T(r.Context(), "admin.notice.user_deleted")
	}
	for _, u := range users {
		d.Users = append(d.Users, views.AdminUserRow{
			Href: userPath(u.ID), Username: u.Username, Email: u.Email, FirstName: u.FirstName,
			LastName: u.LastName, Role: u.Role, Enabled: u.Enabled, OTP: u.OTPRequired,
		})
	}
	d.FirstHref, d.NextHref = pageLinks("/admin/users", url.Values{"q": {query}}, pg, next)
	c.render(w, r, http.StatusOK, views.AdminUsersPage(d))
}

// newUser serves the empty add-user form.
func (c *Console) newUser(w http.ResponseWriter, r *http.Request, p *principal) {
	f := views.AdminUserForm{Enabled: true, Role: store.RoleUser}
	c.render(w, r, http.StatusOK, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f}))
}

// createUser serves POST /admin/users: it stores the user, then e-mails the
// set-up link; a failed e-mail shows on the user's page.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readUserForm(r)
	u, sent, err := c.Service.CreateUser(r.Context(), p.actor(), userPatchOfForm(f))
	if e := admin.AsError(err); e != nil {
		status, _ := kindStatus(e.Kind)
		c.render(w, r, status, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f, Error: e.Text(r.Context())}))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	target := userPath(u.ID) + "?notice=created"
	if !sent.Sent() {
		target += "&" + mailErrorQuery(sent)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// showUser serves the edit-user page.
func (c *Console) showUser(w http.ResponseWriter, r *http.Request, p *principal) {
	info, err := c.Service.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		c.userError(w, r, err)
		return
	}
	q := r.URL.Query()
	d, err := c.userPage(r.Context(), p, info)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Notice, d.Error = noticeText(r.Context(), q, info.User), mailErrorText(r.Context(), q)
	c.render(w, r, http.StatusOK, views.AdminUserPage(d))
}

// userError answers a failed user operation that has no form to show again;
// the only object such an operation misses is the user.
func (c *Console) userError(w http.ResponseWriter, r *http.Request, err error) {
	if e := admin.AsError(err); e != nil && e.Kind == admin.KindNotFound {
		ctx := r.Context()
		c.render(w, r, http.StatusNotFound, views.ErrorPage(i18n.T(ctx, "admin.user_not_found"), e.Text(ctx), "/admin/users", i18n.T(ctx, "admin.back_users")))
		return
	}
	c.refuse(w, r, err, "/admin/users", "admin.back_users")
}

// showUserWith renders the edit page of user id with the form as typed and
// the refusal err. When the user itself is gone, reading it again fails and
// the answer is the not-found page.
func (c *Console) showUserWith(w http.ResponseWriter, r *http.Request, p *principal, id string, f *views.AdminUserForm, err error) {
	e := admin.AsError(err)
	if e == nil {
		c.userError(w, r, err)
		return
	}
	info, gerr := c.Service.GetUser(r.Context(), id)
	if gerr != nil {
		c.userError(w, r, gerr)
		return
	}
	d, gerr := c.userPage(r.Context(), p, info)
	if gerr != nil {
		c.fail(w, r, gerr)
		return
	}
	if f != nil {
		d.Form = *f
	}
	d.Error = e.Text(r.Context())
	status, _ := kindStatus(e.Kind)
	c.render(w, r, status, views.AdminUserPage(d))
}

func (c *Console) userPage(ctx context.Context, p *principal, info *admin.UserInfo) (views.AdminUserData, error) {
	u := info.User
	ids, providers, err := c.identityRows(ctx, u.ID)
	if err != nil {
		return views.AdminUserData{}, err
	}
	return views.AdminUserData{
		CSRF: p.csrf, Action: userPath(u.ID), Form: userFormOf(u), Self: u.ID == p.user.ID,
		OTPState: otpStateText(ctx, info), LastLogin: formatOptTime(ctx, u.LastLoginAt), Created: i18n.FormatTime(ctx, u.CreatedAt),
		RecoveryCodes: recoveryCodesText(ctx, info), HasRecoveryCodes: info.RecoveryCodes > 0,
		Identities: ids, Providers: providers, SecurityKeys: securityKeyRows(ctx, info), Remembered: rememberedRows(ctx, info),
	}, nil
}

func securityKeyRows(ctx context.Context, info *admin.UserInfo) []views.AdminSecurityKeyRow {
	out := make([]views.AdminSecurityKeyRow, 0, len(info.SecurityKeys))
	for _, k := range info.SecurityKeys {
		out = append(out, views.AdminSecurityKeyRow{Name: k.Name, Added: i18n.FormatTime(ctx, k.CreatedAt), LastUsed: formatOptTime(ctx, k.LastUsedAt)})
	}
	return out
}

func rememberedRows(ctx context.Context, info *admin.UserInfo) []views.AdminRememberedRow {
	out := make([]views.AdminRememberedRow, 0, len(info.Remembered))
	for _, b := range info.Remembered {
		out = append(out, views.AdminRememberedRow{Browser: b.UserAgent, IP: b.IP, Since: i18n.FormatTime(ctx, b.CreatedAt),
			Until: i18n.FormatTime(ctx, b.ExpiresAt), LastUsed: formatOptTime(ctx, b.LastUsedAt)})
	}
	return out
}

// formatOptTime is i18n.FormatTime, or "Never" for the zero time.
func formatOptTime(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return i18n.T(ctx, "admin.never")
	}
	return i18n.FormatTime(ctx, t)
}

// otpStateText describes the user's authenticator on the page.
func otpStateText(ctx context.Context, info *admin.UserInfo) string {
	switch info.OTPState {
	case admin.OTPEnrolled:
		return i18n.T(ctx, "admin.user.otp_enrolled", "When", i18n.FormatTime(ctx, info.EnrolledAt))
	case admin.OTPPending:
		return i18n.T(ctx, "admin.user.otp_pending")
	}
	return i18n.T(ctx, "admin.none")
}

// recoveryCodesText describes the user's recovery codes, which exist only
// with an authenticator.
func recoveryCodesText(ctx context.Context, info *admin.UserInfo) string {
	if info.OTPState != admin.OTPEnrolled {
		return i18n.T(ctx, "admin.user.codes_none")
	}
	return i18n.Plural(ctx, "admin.user.codes_left", info.RecoveryCodes)
}

// noticeText is the message for ?notice=key after a redirect, or "". Unknown
// keys show nothing, so a crafted link cannot make the page say anything.
func noticeText(ctx context.Context, q url.Values, u *store.User) string {
	id := map[string]string{
		"saved":                     "admin.notice.saved",
		"unchanged":                 "admin.notice.unchanged",
		"otp-none":                  "admin.notice.otp_none",
		"codes-voided":              "admin.notice.codes_voided",
		"linked":                    "admin.notice.linked",
		"unlinked":                  "admin.notice.unlinked",
		store.ActionSetup + "-sent": "admin.notice.setup_sent",
		store.ActionReset + "-sent": "admin.notice.reset_sent",
	}[q.Get("notice")]
	switch q.Get("notice") {
	case "created":
		id = "admin.notice.user_created_sent"
		if q.Has("mailerror") {
			id = "admin.notice.user_created"
		}
	case "otp-reset":
		id = "admin.notice.otp_reset_no_otp"
		if u.OTPRequired {
			id = "admin.notice.otp_reset"
		}
	}
	if id == "" {
		return ""
	}
	return i18n.T(ctx, id, "Email", u.Email)
}

// updateUser serves POST /admin/users/{id}, the edit form.
func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	f := readUserForm(r)
	changed, err := c.Service.UpdateUser(r.Context(), p.actor(), id, userPatchOfForm(f))
	switch {
	case err != nil:
		c.showUserWith(w, r, p, id, &f, err)
	case changed:
		http.Redirect(w, r, userPath(id)+"?notice=saved", http.StatusSeeOther)
	default:
		http.Redirect(w, r, userPath(id)+"?notice=unchanged", http.StatusSeeOther)
	}
}

// resetOTP serves POST /admin/users/{id}/reset-otp: the authenticator goes,
// the flag stays, so the next sign-in enrolls a new device. Without
// confirm=yes it asks first, as Delete does: the user's device stops working
// at once.
func (c *Console) resetOTP(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if !c.confirmed(w, r, p, id, "admin.user.reset_otp", "/reset-otp", "admin.confirm.reset_otp") {
		return
	}
	removed, err := c.Service.ResetOTP(r.Context(), p.actor(), id)
	switch {
	case err != nil:
		c.userError(w, r, err)
	case removed:
		http.Redirect(w, r, userPath(id)+"?notice=otp-reset", http.StatusSeeOther)
	default:
		http.Redirect(w, r, userPath(id)+"?notice=otp-none", http.StatusSeeOther)
	}
}

// voidRecoveryCodes serves POST /admin/users/{id}/void-recovery-codes, after
// a confirmation as Reset OTP asks.
func (c *Console) voidRecoveryCodes(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if !c.confirmed(w, r, p, id, "admin.user.void_codes", "/void-recovery-codes", "admin.confirm.void_codes") {
		return
	}
	if _, err := c.Service.VoidRecoveryCodes(r.Context(), p.actor(), id); err != nil {
		c.userError(w, r, err)
		return
	}
	http.Redirect(w, r, userPath(id)+"?notice=codes-voided", http.StatusSeeOther)
}

// confirmed reports whether the form carries confirm=yes; otherwise it asks,
// with the title and the question (catalog IDs; the question names the user
// as {{.Name}}), and the action posts again to userPath(id)+action: forms
// cannot pop up a dialog without script.
func (c *Console) confirmed(w http.ResponseWriter, r *http.Request, p *principal, id, title, action, question string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	info, err := c.Service.GetUser(r.Context(), id)
	if err != nil {
		c.userError(w, r, err)
		return false
	}
	ctx := r.Context()
	c.render(w, r, http.StatusOK, views.AdminConfirmPage(views.AdminConfirmData{
		Title: i18n.T(ctx, title), CSRF: p.csrf, Action: userPath(id) + action, Cancel: userPath(id),
		Question: i18n.T(ctx, question, "Name", info.Username),
	}))
	return false
}

// deleteUser serves POST /admin/users/{id}/delete. Without confirm=yes it
// asks first: forms cannot pop up a dialog without script.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if !c.confirmed(w, r, p, id, "admin.user.delete", "/delete", "admin.confirm.delete_user") {
		return
	}
	if err := c.Service.DeleteUser(r.Context(), p.actor(), id); err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	http.Redirect(w, r, "/admin/users?notice=deleted", http.StatusSeeOther)
}

// linkIdentity serves POST /admin/users/{id}/link: an administrator links an
// upstream identity, which providers with the "existing" policy require.
func (c *Console) linkIdentity(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	_, err := c.Service.LinkIdentity(r.Context(), p.actor(), id, r.PostFormValue("provider"), r.PostFormValue("subject"))
	if err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	http.Redirect(w, r, userPath(id)+"?notice=linked", http.StatusSeeOther)
}

// unlinkIdentity serves POST /admin/users/{id}/unlink.
func (c *Console) unlinkIdentity(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	err := c.Service.UnlinkIdentity(r.Context(), p.actor(), id, r.PostFormValue("provider"), r.PostFormValue("subject"))
	if err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	http.Redirect(w, r, userPath(id)+"?notice=unlinked", http.StatusSeeOther)
}

// sendSetup e-mails a new account set-up link; older ones stop working.
func (c *Console) sendSetup(w http.ResponseWriter, r *http.Request, p *principal) {
	c.sendLink(w, r, p, store.ActionSetup)
}

// sendReset e-mails a password reset link; older ones stop working.
func (c *Console) sendReset(w http.ResponseWriter, r *http.Request, p *principal) {
	c.sendLink(w, r, p, store.ActionReset)
}

func (c *Console) sendLink(w http.ResponseWriter, r *http.Request, p *principal, kind string) {
	id := r.PathValue("id")
	sent, err := c.Service.SendLink(r.Context(), p.actor(), id, kind)
	if err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	target := userPath(id) + "?notice=" + kind + "-sent"
	if !sent.Sent() {
		target = userPath(id) + "?" + mailErrorQuery(sent)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
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
			name = i18n.T(ctx, "admin.user.provider_deleted")
		}
		rows = append(rows, views.AdminIdentityRow{Provider: fi.ProviderAlias, Name: name, Subject: fi.Subject, Linked: i18n.FormatTime(ctx, fi.CreatedAt)})
	}
	return rows, aliases, nil
}
