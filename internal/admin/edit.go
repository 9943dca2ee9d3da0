package admin

import (
	"net/http"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// updateUser serves POST /admin/users/{id}, the edit form.
func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	f := readUserForm(r)
	changed, err := c.Service().UpdateUser(r.Context(), p.actor(), id, patchOfForm(f))
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
// the flag stays, so the next sign-in enrolls a new device.
func (c *Console) resetOTP(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	removed, err := c.Service().ResetOTP(r.Context(), p.actor(), id)
	switch {
	case err != nil:
		c.userError(w, r, err)
	case removed:
		http.Redirect(w, r, userPath(id)+"?notice=otp-reset", http.StatusSeeOther)
	default:
		http.Redirect(w, r, userPath(id)+"?notice=otp-none", http.StatusSeeOther)
	}
}

// deleteUser serves POST /admin/users/{id}/delete. Without confirm=yes it
// asks first: forms cannot pop up a dialog without script.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		info, err := c.Service().GetUser(r.Context(), id)
		if err != nil {
			c.userError(w, r, err)
			return
		}
		c.render(w, r, http.StatusOK, views.AdminConfirmPage(views.AdminConfirmData{
			Title: "Delete user", CSRF: p.csrf, Action: userPath(id) + "/delete", Cancel: userPath(id),
			Question: "Delete the user " + info.Username + "? Their sessions, authenticator and linked identities are deleted too. This cannot be undone.",
		}))
		return
	}
	if err := c.Service().DeleteUser(r.Context(), p.actor(), id); err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	http.Redirect(w, r, "/admin/users?notice=deleted", http.StatusSeeOther)
}

// linkIdentity serves POST /admin/users/{id}/link: an administrator links an
// upstream identity, which providers with the "existing" policy require.
func (c *Console) linkIdentity(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	_, err := c.Service().LinkIdentity(r.Context(), p.actor(), id, r.PostFormValue("provider"), r.PostFormValue("subject"))
	if err != nil {
		c.showUserWith(w, r, p, id, nil, err)
		return
	}
	http.Redirect(w, r, userPath(id)+"?notice=linked", http.StatusSeeOther)
}

// unlinkIdentity serves POST /admin/users/{id}/unlink.
func (c *Console) unlinkIdentity(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	err := c.Service().UnlinkIdentity(r.Context(), p.actor(), id, r.PostFormValue("provider"), r.PostFormValue("subject"))
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
	sent, err := c.Service().SendLink(r.Context(), p.actor(), id, kind)
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
