package login

// Set-up and reset links: the landing page, then a setup transaction that runs
// the same steps as a login (enrollment, then the new password).

import (
	"context"
	"errors"
	"net/http"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

const msgNewLink = "Ask your administrator to send you a new link."

// openLink serves GET /link/{token}: the landing page, or with ?continue=1 the
// start of the setup transaction.
func (p *Pipeline) openLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	at, err := p.Store.GetActionToken(ctx, session.TokenID(token))
	switch {
	case errors.Is(err, store.ErrNotFound) || len(token) > 128:
		p.render(w, r, http.StatusNotFound, views.ErrorPage("Invalid link", "This link is not valid: it is mistyped, or a newer link has replaced it. "+msgNewLink, "", ""))
		return
	case err != nil:
		p.fail(w, r, err)
		return
	case !at.UsedAt.IsZero():
		p.render(w, r, http.StatusGone, views.ErrorPage("Link already used", "This link has already been used. Each link works once. If you did not finish, "+lowerFirst(msgNewLink), "/account", "Sign in"))
		return
	case !p.now().Before(at.ExpiresAt):
		p.render(w, r, http.StatusGone, views.ErrorPage("Link expired", "This link has expired. "+msgNewLink, "", ""))
		return
	}
	u, err := p.Store.GetUser(ctx, at.UserID)
	if err != nil || !u.Enabled {
		p.render(w, r, http.StatusForbidden, views.ErrorPage("Account unavailable", msgDisabled, "", ""))
		return
	}
	if r.URL.Query().Get("continue") != "1" {
		p.render(w, r, http.StatusOK, views.SetupLandingPage(landingTitle(at.Kind), landingIntro(at.Kind), p.linkActions(ctx, u), session.LinkPath(token)+"?continue=1"))
		return
	}
	lt := &store.LoginTransaction{Purpose: store.PurposeSetup, UserID: u.ID, ActionTokenID: at.ID}
	if err := p.begin(w, r, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func landingTitle(kind string) string {
	if kind == store.ActionReset {
		return "Reset your password"
	}
	return "Set up your account"
}

// landingIntro says what the link is for: a reset may have been asked for by
// the user or by an administrator, so it names neither.
func landingIntro(kind string) string {
	if kind == store.ActionReset {
		return "To reset your password, do the following:"
	}
	return "Your administrator has requested that you do the following to set up your account:"
}

// linkActions lists what the setup will ask, derived like the pipeline's steps.
func (p *Pipeline) linkActions(ctx context.Context, u *store.User) []string {
	var actions []string
	_, err := p.Store.GetOTPCredential(ctx, u.ID)
	if u.OTPRequired && errors.Is(err, store.ErrNotFound) {
		actions = append(actions, "Configure OTP")
	}
	return append(actions, "Update Password")
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}
