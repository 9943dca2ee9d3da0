package login

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// Remember this browser: when the administrator allows it (RememberDays >
// 0), the code step offers "don't ask again on this browser". The browser
// gets a long-lived cookie with a random token; the store keeps its hash
// with the user, the browser's description and the expiry. A later login of
// the same user in that browser skips the code step after the password, and
// its amr says so ("remembered", never "otp"). Only an ordinary sign-in
// is spared the code: a set-up or reset link, which sets a new password
// without the old one, always asks for it. A reset of the
// authenticator, a changed or reset password, a disabled user, and "forget
// all" on the account page delete the rows, which voids every such cookie.
// Administrators are never remembered: the console needs a checked second
// factor in every session.

// checkRemembered sets st.remembered when the request's remember cookie is
// valid for st's user and st is an ordinary sign-in. A cookie that does not
// count (unknown, expired, voided, or another user's) is audited once the
// user is known.
func (p *Pipeline) checkRemembered(r *http.Request, st *state) error {
	u := st.user
	if p.RememberDays <= 0 || u == nil || u.Role == store.RoleAdmin || st.lt.Purpose != store.PurposeLogin {
		return nil
	}
	id := p.currentRemembered(r)
	if id == "" {
		return nil
	}
	b, err := p.Store.GetRememberedBrowser(r.Context(), id, p.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		st.rememberRefused = "reason=unknown-or-voided"
		return nil
	case err != nil:
		return err
	case b.UserID != u.ID:
		// A shared browser, or a cookie copied into another user's login:
		// either way it proves nothing for this user.
		st.rememberRefused = "reason=other-user"
		return nil
	}
	st.remembered = b
	return nil
}

// codeSkipped reports whether a remembered browser is what lets this login
// finish without the code step.
func (st *state) codeSkipped() bool {
	return st.remembered != nil && st.lt.Purpose == store.PurposeLogin && !st.otpWaived && !session.SecondFactor(st.lt.AMR) &&
		(st.cred != nil || len(st.keys) > 0)
}

// rememberedUsed records a login a remembered browser spared the code.
func (p *Pipeline) rememberedUsed(ctx context.Context, st *state) {
	if err := p.Store.TouchRememberedBrowser(ctx, st.remembered.ID, p.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Log.ErrorContext(ctx, "touch remembered browser", "err", err)
	}
	p.audit(ctx, audit.RememberedBrowserUsed, st.user.ID, st.user.ID, st.lt.ClientID, "")
}

// auditRememberRefused records, at the code step, a remember cookie that
// did not count for this login.
func (p *Pipeline) auditRememberRefused(ctx context.Context, st *state) {
	if st.rememberRefused != "" {
		p.audit(ctx, audit.RememberedBrowserRefused, "", st.user.ID, st.lt.ClientID, st.rememberRefused)
	}
}

// rememberDays is what the code step offers: the setting, or 0 for an
// administrator.
func (p *Pipeline) rememberDays(u *store.User) int {
	if u == nil || u.Role == store.RoleAdmin {
		return 0
	}
	return p.RememberDays
}

// maybeRemember remembers this browser for u when the passed code step's
// form asked to and the setting allows it.
func (p *Pipeline) maybeRemember(w http.ResponseWriter, r *http.Request, u *store.User, clientID string) {
	ctx := r.Context()
	days := p.rememberDays(u)
	if days <= 0 || r.PostFormValue("remember") != "yes" {
		return
	}
	token, id := session.NewToken()
	now := p.now()
	b := &store.RememberedBrowser{ID: id, UserID: u.ID, UserAgent: truncate(r.UserAgent(), 512), IP: clientip.FromContext(ctx),
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour)}
	if err := p.Store.CreateRememberedBrowser(ctx, b); err != nil {
		// The login goes on: the browser is merely asked again next time.
		p.Log.ErrorContext(ctx, "remember browser", "err", err)
		return
	}
	p.Sessions.SetCookie(w, session.RememberCookie, token, b.ExpiresAt)
	p.audit(ctx, audit.BrowserRemembered, u.ID, u.ID, clientID, "days="+strconv.Itoa(days))
}

// forgetBrowsers voids every remembered browser of the user, and audits it
// when there were any.
func (p *Pipeline) forgetBrowsers(ctx context.Context, actorID, userID, reason string) error {
	n, err := p.Store.DeleteRememberedBrowsers(ctx, userID)
	if err != nil {
		return err
	}
	if n > 0 {
		p.audit(ctx, audit.RememberedBrowsersForgotten, actorID, userID, "", "reason="+reason+" count="+strconv.Itoa(n))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// currentRemembered is the store ID of the request's remember cookie, or "".
func (p *Pipeline) currentRemembered(r *http.Request) string {
	token := p.Sessions.CookieValue(r, session.RememberCookie)
	if token == "" || len(token) > 128 {
		return ""
	}
	return session.TokenID(token)
}
