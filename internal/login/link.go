package login

// Set-up and reset links: the landing page, then a setup transaction that runs
// the same steps as a login (enrollment, then the new password).

import (
	"context"
	"errors"
	"net/http"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// openLink serves GET /link/{token}: the landing page, or with ?continue=1 the
// start of the setup transaction.
func (p *Pipeline) openLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	at, err := p.Store.GetActionToken(ctx, session.TokenID(token))
	switch {
	case errors.Is(err, store.ErrNotFound) || len(token) > 128:
		p.errorPage(w, r, http.StatusNotFound, "err.link_invalid", "err.link_invalid_text", "", "")
		return
	case err != nil:
		p.fail(w, r, err)
		return
	case !at.UsedAt.IsZero():
		p.errorPage(w, r, http.StatusGone, "err.link_used", "err.link_used_text", "/account", "login.submit")
		return
	case !p.now().Before(at.ExpiresAt):
		p.errorPage(w, r, http.StatusGone, "err.link_expired", "err.link_expired_text", "", "")
		return
	}
	u, err := p.Store.GetUser(ctx, at.UserID)
	if err != nil || !u.Enabled {
		p.errorPage(w, r, http.StatusForbidden, "err.account_unavailable", msgDisabled, "", "")
		return
	}
	if r.URL.Query().Get("continue") != "1" {
		p.render(w, r, http.StatusOK, views.SetupLandingPage(i18n.T(ctx, landingTitle(at.Kind)), i18n.T(ctx, landingIntro(at.Kind)), p.linkActions(ctx, u), session.LinkPath(token)+"?continue=1"))
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
		return "email.reset_subject"
	}
	return "email.setup_subject"
}

// landingIntro says what the link is for: a reset may have been asked for by
// the user or by an administrator, so it names neither.
func landingIntro(kind string) string {
	if kind == store.ActionReset {
		return "link.reset_intro"
	}
	return "link.setup_intro"
}

// linkActions lists what the setup will ask, derived like the pipeline's steps.
func (p *Pipeline) linkActions(ctx context.Context, u *store.User) []string {
	var actions []string
	_, err := p.Store.GetOTPCredential(ctx, u.ID)
	if u.OTPRequired && errors.Is(err, store.ErrNotFound) {
		actions = append(actions, i18n.T(ctx, "link.action_otp"))
	}
	return append(actions, i18n.T(ctx, "link.action_password"))
}
