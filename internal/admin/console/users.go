package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/authz/authz/internal/admin"
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
		d.Notice = "User deleted."
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
		c.render(w, r, status, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f, Error: e.Message}))
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
	d.Notice, d.Error = noticeText(q, info.User), mailErrorText(q)
	c.render(w, r, http.StatusOK, views.AdminUserPage(d))
}

// userError answers a failed user operation that has no form to show again;
// the only object such an operation misses is the user.
func (c *Console) userError(w http.ResponseWriter, r *http.Request, err error) {
	if e := admin.AsError(err); e != nil && e.Kind == admin.KindNotFound {
		c.render(w, r, http.StatusNotFound, views.ErrorPage("User not found", e.Message, "/admin/users", "Back to users"))
		return
	}
	c.refuse(w, r, err, "/admin/users", "Back to users")
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
	d.Error = e.Message
	status, _ := kindStatus(e.Kind)
	c.render(w, r, status, views.AdminUserPage(d))
}

func (c *Console) userPage(ctx context.Context, p *principal, info *admin.UserInfo) (views.AdminUserData, error) {
	u := info.User
	lastLogin := "Never"
	if !u.LastLoginAt.IsZero() {
		lastLogin = formatTime(u.LastLoginAt)
	}
	ids, providers, err := c.identityRows(ctx, u.ID)
	if err != nil {
		return views.AdminUserData{}, err
	}
	return views.AdminUserData{
		CSRF: p.csrf, Action: userPath(u.ID), Form: userFormOf(u), Self: u.ID == p.user.ID,
		OTPState: otpStateText(info), LastLogin: lastLogin, Created: formatTime(u.CreatedAt),
		RecoveryCodes: recoveryCodesText(info), HasRecoveryCodes: info.RecoveryCodes > 0,
		Identities: ids, Providers: providers, SecurityKeys: securityKeyRows(info), Remembered: rememberedRows(info),
	}, nil
}

func securityKeyRows(info *admin.UserInfo) []views.AdminSecurityKeyRow {
	out := make([]views.AdminSecurityKeyRow, 0, len(info.SecurityKeys))
	for _, k := range info.SecurityKeys {
		out = append(out, views.AdminSecurityKeyRow{Name: k.Name, Added: formatTime(k.CreatedAt), LastUsed: formatOptTime(k.LastUsedAt)})
	}
	return out
}

func rememberedRows(info *admin.UserInfo) []views.AdminRememberedRow {
	out := make([]views.AdminRememberedRow, 0, len(info.Remembered))
	for _, b := range info.Remembered {
		out = append(out, views.AdminRememberedRow{Browser: b.UserAgent, IP: b.IP, Since: formatTime(b.CreatedAt),
			Until: formatTime(b.ExpiresAt), LastUsed: formatOptTime(b.LastUsedAt)})
	}
	return out
}

// formatOptTime is formatTime, or "Never" for the zero time.
func formatOptTime(t time.Time) string {
	if t.IsZero() {
		return "Never"
	}
	return formatTime(t)
}

// otpStateText describes the user's authenticator on the page.
func otpStateText(info *admin.UserInfo) string {
	switch info.OTPState {
	case admin.OTPEnrolled:
		return "Enrolled on " + formatTime(info.EnrolledAt)
	case admin.OTPPending:
		return "Waiting for enrollment"
	}
	return "None"
}

// recoveryCodesText describes the user's recovery codes, which exist only
// with an authenticator.
func recoveryCodesText(info *admin.UserInfo) string {
	if info.OTPState != admin.OTPEnrolled {
		return "None (no authenticator)"
	}
	return strconv.Itoa(info.RecoveryCodes) + " left"
}

// noticeText is the message for ?notice=key after a redirect, or "". Unknown
// keys show nothing, so a crafted link cannot make the page say anything.
func noticeText(q url.Values, u *store.User) string {
	switch q.Get("notice") {
	case "created":
		if q.Has("mailerror") {
			return "User created."
		}
		return "User created. A set-up e-mail was sent to " + u.Email + "."
	case "saved":
		return "Changes saved."
	case "unchanged":
		return "Nothing was changed."
	case "otp-reset":
		if u.OTPRequired {
			return "Authenticator removed. The user sets up a new one at the next sign-in."
		}
		return "Authenticator removed. OTP is not configured for this user, so the next sign-in asks for the password only."
	case "otp-none":
		return "The user had no authenticator to remove."
	case "codes-voided":
		return "Recovery codes voided. The user can make new ones from the account page."
	case "linked":
		return "Upstream identity linked."
	case "unlinked":
		return "Upstream identity unlinked. The user can no longer sign in through it."
	case store.ActionSetup + "-sent":
		return "A set-up e-mail was sent to " + u.Email + ". Earlier links no longer work."
	case store.ActionReset + "-sent":
		return "A password reset e-mail was sent to " + u.Email + ". Earlier links no longer work."
	}
	return ""
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
	if !c.confirmed(w, r, p, id, "Reset OTP", "/reset-otp", func(name string) string {
		return "Reset the authenticator of " + name + "? Their current authenticator stops working at once and they are signed out everywhere, their applications' tokens revoked; at the next sign-in they set up a new one."
	}) {
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
	if !c.confirmed(w, r, p, id, "Void recovery codes", "/void-recovery-codes", func(name string) string {
		return "Void the recovery codes of " + name + "? None of them will sign in any more; the authenticator keeps working."
	}) {
		return
	}
	if _, err := c.Service.VoidRecoveryCodes(r.Context(), p.actor(), id); err != nil {
		c.userError(w, r, err)
		return
	}
	http.Redirect(w, r, userPath(id)+"?notice=codes-voided", http.StatusSeeOther)
}

// confirmed reports whether the form carries confirm=yes; otherwise it asks,
// with the question about the user's name, and the action posts again to
// userPath(id)+action: forms cannot pop up a dialog without script.
func (c *Console) confirmed(w http.ResponseWriter, r *http.Request, p *principal, id, title, action string, question func(username string) string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	info, err := c.Service.GetUser(r.Context(), id)
	if err != nil {
		c.userError(w, r, err)
		return false
	}
	c.render(w, r, http.StatusOK, views.AdminConfirmPage(views.AdminConfirmData{
		Title: title, CSRF: p.csrf, Action: userPath(id) + action, Cancel: userPath(id), Question: question(info.Username),
	}))
	return false
}

// deleteUser serves POST /admin/users/{id}/delete. Without confirm=yes it
// asks first: forms cannot pop up a dialog without script.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if !c.confirmed(w, r, p, id, "Delete user", "/delete", func(name string) string {
		return "Delete the user " + name + "? Their sessions, authenticator and linked identities are deleted too. This cannot be undone."
	}) {
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
			name = "deleted provider"
		}
		rows = append(rows, views.AdminIdentityRow{Provider: fi.ProviderAlias, Name: name, Subject: fi.Subject, Linked: formatTime(fi.CreatedAt)})
	}
	return rows, aliases, nil
}
