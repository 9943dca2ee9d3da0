package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// The password step: who is signing in. The lockout belongs to the account
// the name found (by username or e-mail alike), counted per client address
// with a higher ceiling over all addresses; it is charged before the check,
// so concurrent guesses cannot outrun it. A wrong password also counts
// against the client's address across all accounts.

// showPassword renders the sign-in form, with the relying application's
// login_hint and the upstream providers' buttons.
func (p *Pipeline) showPassword(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	buttons, err := p.providerButtons(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	form, _ := url.ParseQuery(st.lt.AuthRequest)
	p.render(w, r, status, views.LoginPage(views.LoginData{CSRF: st.lt.CSRF, Username: form.Get("login_hint"), Error: msg, Providers: buttons}))
}

// postPassword serves POST /login/password.
func (p *Pipeline) postPassword(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	if lt.UserID != "" {
		p.advance(w, r, lt)
		return
	}
	ctx := r.Context()
	name := store.CanonicalUsername(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	if !plausibleName(name) || len(pw) > 1024 {
		p.showStep(w, r, lt, msgInvalidLogin, http.StatusBadRequest)
		return
	}
	u, err := p.findUser(ctx, name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	keys, th, err := p.chargePassword(r, u, name, p.knownDevice(r, u))
	if msg := p.lockedMessage(r.Context(), err); msg != "" {
		p.showStep(w, r, lt, msg, http.StatusTooManyRequests)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	err = p.Passwords.Verify(ctx, hash, pw)
	switch {
	case errors.Is(err, password.ErrBusy):
		w.Header().Set("Retry-After", "2")
		p.showStep(w, r, lt, msgBusy, http.StatusServiceUnavailable)
		return
	case errors.Is(err, context.Canceled):
		// The browser left while its check queued: no guess was judged.
		p.fail(w, r, err)
		return
	case err != nil:
		p.passwordFailed(w, r, lt, u, th)
		return
	case !u.Enabled:
		p.audit(ctx, audit.LoginFailure, "", u.ID, lt.ClientID, "method=pwd reason=disabled")
		p.showStep(w, r, lt, msgDisabled, http.StatusForbidden)
		return
	}
	_ = p.Store.ResetThrottle(ctx, keys...)
	lt.UserID, lt.AMR, lt.AuthTime, lt.UpstreamAlias = u.ID, []string{session.AMRPassword}, p.now(), ""
	st, err := p.loadFor(ctx, lt, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.passedFrom(w, r, st)
}

// plausibleName reports whether name can be a username or e-mail address at
// all: what no account can have (control characters, invalid UTF-8, absurd
// length) is refused before the store sees it.
func plausibleName(name string) bool {
	if len(name) > 256 || !utf8.ValidString(name) {
		return false
	}
	return !strings.ContainsFunc(name, unicode.IsControl)
}

// chargePassword counts the attempt against the account at this address and
// against the account overall, before the check (see throttle.Backoff.Charge);
// the lock that holds longer is the answer. At sign-in, a browser the account
// signed in with before (device, its note's ID; see knownDevice) answers to
// its address's count and its note's own, under the account-wide policy,
// instead of the account's, so that guesses from elsewhere cannot lock the
// owner out, and a copied note buys no more guesses than the account's lock
// allows; its success leaves the account's count alone. The account page,
// whose caller holds a session already, passes no device. It returns the
// keys to reset on success and the per-address count.
func (p *Pipeline) chargePassword(r *http.Request, u *store.User, name, device string) ([]string, *store.Throttle, error) {
	account := "name:" + name
	if u != nil {
		account = "user:" + u.ID
	}
	atAddress, overall := throttle.PasswordKeys(account, clientip.FromContext(r.Context()))
	th, err := throttle.Password.Charge(r.Context(), p.Store, atAddress, p.now())
	if err != nil {
		return nil, nil, err
	}
	if device != "" {
		noteKey := overall + "|device:" + device
		if _, err := throttle.PasswordAccount.Charge(r.Context(), p.Store, noteKey, p.now()); err != nil {
			return nil, nil, err
		}
		return []string{atAddress, noteKey}, th, nil
	}
	if _, err := throttle.PasswordAccount.Charge(r.Context(), p.Store, overall, p.now()); err != nil {
		return nil, nil, err
	}
	return []string{atAddress, overall}, th, nil
}

// passwordFailed answers a wrong password (or an unknown user, alike), after
// counting it against the address and auditing it.
func (p *Pipeline) passwordFailed(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, u *store.User, th *store.Throttle) {
	ctx := r.Context()
	p.countAddressFailure(r)
	userID := ""
	if u != nil {
		userID = u.ID
	}
	p.audit(ctx, audit.LoginFailure, "", userID, lt.ClientID, "method=pwd")
	if th.LockedUntil.After(p.now()) {
		p.audit(ctx, audit.PasswordLockout, "", userID, lt.ClientID, "")
	}
	p.showStep(w, r, lt, msgInvalidLogin, http.StatusUnauthorized)
}

// findUser looks a user up by username, or by e-mail when the name has an @.
// No user is (nil, nil).
func (p *Pipeline) findUser(ctx context.Context, name string) (*store.User, error) {
	if name == "" {
		return nil, nil
	}
	u, err := p.Store.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) && strings.Contains(name, "@") {
		u, err = p.Store.GetUserByEmail(ctx, name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}
