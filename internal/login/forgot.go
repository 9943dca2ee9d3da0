package login

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// Forgot password: the user names an account, and authz answers the same
// whatever it finds. An account that exists, is enabled and has an e-mail
// address gets a single-use reset link (the same kind of link an
// administrator sends; a newer one voids the older); an account without a
// password here gets an e-mail naming its providers. The lookup's outcome
// leaves the request only through the e-mail: the link is made and sent in
// the background, so the answer takes as long either way, and the requests
// are throttled per address, per account at the address and per account
// over all addresses (throttle.CountReset), the same answer again.

const (
	msgForgotName = "err.forgot_name"
	// resetQuiet is how long an account or address must go without a reset
	// request for its count to start again.
	resetQuiet = time.Hour
)

// forgotCSRF is the reset form's CSRF secret, derived from the login cookie
// as pendingCSRF is, for another form.
func forgotCSRF(cookieID string) string {
	sum := sha256.Sum256([]byte("forgot-csrf:" + cookieID))
	return hex.EncodeToString(sum[:])
}

// showForgot serves GET /login/forgot.
func (p *Pipeline) showForgot(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, views.ForgotPage(forgotCSRF(p.cookieID(w, r)), ""))
}

// postForgot serves POST /login/forgot.
func (p *Pipeline) postForgot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.form_unreadable", "/login/forgot", "err.try_again")
		return
	}
	token := p.Sessions.CookieValue(r, session.TransactionCookie)
	if token == "" || len(token) > 128 ||
		subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(forgotCSRF(session.TokenID(token)))) != 1 {
		p.errorPage(w, r, http.StatusForbidden, "err.form_stale_title", msgBadForm, "/login/forgot", "err.try_again")
		return
	}
	name := store.CanonicalUsername(r.PostFormValue("username"))
	if name == "" || !plausibleName(name) {
		p.render(w, r, http.StatusBadRequest, views.ForgotPage(r.PostFormValue("csrf"), i18n.T(r.Context(), msgForgotName)))
		return
	}
	u, err := p.findUser(ctx, name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	account := "name:" + name
	if u != nil {
		account = "user:" + u.ID
	}
	now := p.now()
	ok, err := throttle.CountReset(ctx, p.Store, account, clientip.FromContext(ctx), resetQuiet, now)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if ok && u != nil && p.Notify != nil {
		p.Notify.Later(ctx, func(ctx context.Context) { p.sendReset(ctx, u, now) })
	}
	p.render(w, r, http.StatusOK, views.ForgotSentPage())
}

// sendReset e-mails u a reset link, or the names of its providers when the
// account has no password here; a disabled account or one without an
// address gets nothing. It runs after the request has been answered.
func (p *Pipeline) sendReset(ctx context.Context, u *store.User, now time.Time) {
	if !u.Enabled || u.Email == "" {
		return
	}
	if u.PasswordHash == "" {
		p.sendFederatedReset(ctx, u)
		return
	}
	token, err := session.IssueLink(ctx, p.Store, u.ID, store.ActionReset, p.LinkTTL, now)
	if err != nil {
		p.Log.ErrorContext(ctx, "login: issue reset link", "user", u.ID, "err", err)
		return
	}
	p.audit(ctx, audit.PasswordResetAsked, u.ID, u.ID, "", "")
	p.notify(ctx, u, notify.Note{Kind: notify.ResetLink, Link: strings.TrimSuffix(p.Issuer, "/") + session.LinkPath(token),
		Expires: now.Add(p.LinkTTL), TTL: p.LinkTTL})
}

// sendFederatedReset tells a user without a password which providers sign
// them in.
func (p *Pipeline) sendFederatedReset(ctx context.Context, u *store.User) {
	ids, err := p.Store.ListFederatedIdentities(ctx, u.ID)
	if err != nil {
		p.Log.ErrorContext(ctx, "login: list identities for a reset", "user", u.ID, "err", err)
		return
	}
	var names []string
	for _, id := range ids {
		name := id.ProviderAlias
		if pr, err := p.Store.GetProvider(ctx, id.ProviderAlias); err == nil && pr.DisplayName != "" {
			name = pr.DisplayName
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		// Neither a password nor a provider: only an administrator's
		// set-up link helps, and that is not the user's to ask for.
		return
	}
	p.audit(ctx, audit.PasswordResetAsked, u.ID, u.ID, "", "federated")
	p.notify(ctx, u, notify.Note{Kind: notify.ResetFederated, Providers: names})
}
