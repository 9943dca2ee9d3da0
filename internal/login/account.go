package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// The account page: the signed-in user's profile, authenticator, recovery
// codes, password, linked providers and sessions. Its forms (account_forms.go)
// carry the session's form token and need the current password or a code
// for every change that matters.

// account is what an account request is about: the session, its user, and
// the user's authenticator (nil when none).
type account struct {
	sess *store.Session
	user *store.User
	cred *store.OTPCredential
}

// accountNotices are the messages ?done= may ask for after a change: a fixed
// vocabulary, so a crafted link cannot put text on the page.
var accountNotices = map[string]string{
	"password":    "account.done_password",
	"session":     "account.done_session",
	"others":      "account.done_others",
	"gone":        "account.done_gone",
	"key-added":   "account.done_key_added",
	"key-removed": "account.done_key_removed",
	"key-gone":    "account.done_key_gone",
	"forgotten":   "account.done_forgotten",
}

// account serves GET /account: the signed-in user's account, or a login to
// get there.
func (p *Pipeline) account(w http.ResponseWriter, r *http.Request) {
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	p.showAccount(w, r, a, accountNotices[r.URL.Query().Get("done")], "", http.StatusOK)
}

// loadAccount reads the session and its user; without either it starts a
// login to the account page and returns false.
func (p *Pipeline) loadAccount(w http.ResponseWriter, r *http.Request) (*account, bool) {
	sess, err := p.Sessions.Current(r)
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	if sess == nil {
		p.Start(w, r, session.LoginRequest{})
		return nil, false
	}
	return p.accountOf(w, r, sess)
}

// accountOf reads the user of sess and the user's authenticator; a user gone
// or disabled ends the session and starts a login instead.
func (p *Pipeline) accountOf(w http.ResponseWriter, r *http.Request, sess *store.Session) (*account, bool) {
	u, err := p.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.Enabled {
		_, _ = p.Sessions.End(w, r)
		p.Start(w, r, session.LoginRequest{})
		return nil, false
	}
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	a := &account{sess: sess, user: u}
	a.cred, err = p.Store.GetOTPCredential(r.Context(), u.ID)
	if errors.Is(err, store.ErrNotFound) {
		a.cred, err = nil, nil
	}
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return a, true
}

// showAccount renders the account page with a notice or an error.
func (p *Pipeline) showAccount(w http.ResponseWriter, r *http.Request, a *account, notice, errMsg string, status int) {
	d, err := p.accountData(r, a)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	// Both are message IDs (or text already translated, which T keeps).
	d.Notice, d.Error = i18n.T(r.Context(), notice), i18n.T(r.Context(), errMsg)
	p.render(w, r, status, views.AccountPage(d))
}

func (p *Pipeline) accountData(r *http.Request, a *account) (views.AccountData, error) {
	ctx, u := r.Context(), a.user
	d := views.AccountData{
		Username: u.Username, Email: u.Email, Name: strings.TrimSpace(u.FirstName + " " + u.LastName),
		IsAdmin: u.Role == store.RoleAdmin, LogoutToken: session.LogoutToken(a.sess.ID),
		FormToken: session.FormToken(a.sess.ID), HasPassword: u.PasswordHash != "", OTP: "none",
	}
	switch {
	case a.cred != nil:
		d.OTP, d.OTPSince = "enrolled", i18n.FormatDate(ctx, a.cred.CreatedAt)
		n, err := p.Store.CountRecoveryCodes(ctx, u.ID)
		if err != nil {
			return d, err
		}
		d.RecoveryLeft = n
	case u.OTPRequired:
		d.OTP = "pending"
	}
	ids, err := p.Store.ListFederatedIdentities(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, id := range ids {
		name := id.ProviderAlias
		if pr, err := p.Store.GetProvider(ctx, id.ProviderAlias); err == nil && pr.DisplayName != "" {
			name = pr.DisplayName
		}
		d.Providers = append(d.Providers, name)
	}
	if d.OTP == "enrolled" && p.Passkeys != nil {
		d.SecurityKeysOn = true
		keys, err := p.Store.ListWebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return d, err
		}
		d.SecurityKeys = securityKeyRows(ctx, keys)
	}
	d.RememberDays = p.rememberDays(u)
	browsers, err := p.Store.ListRememberedBrowsers(ctx, u.ID, p.now())
	if err != nil {
		return d, err
	}
	d.Remembered = rememberedRows(ctx, browsers, p.currentRemembered(r))
	sessions, err := p.Sessions.List(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, s := range sessions {
		d.Sessions = append(d.Sessions, views.AccountSession{
			Handle: session.Handle(s.ID), Browser: describeBrowser(ctx, s.UserAgent), IP: orUnknown(ctx, s.IP),
			SignedIn: formatWhen(ctx, s.CreatedAt), LastSeen: formatWhen(ctx, s.LastSeenAt), Current: s.ID == a.sess.ID,
		})
	}
	return d, nil
}

func formatWhen(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return i18n.T(ctx, "account.unknown")
	}
	return i18n.FormatTime(ctx, t)
}

func orUnknown(ctx context.Context, s string) string {
	if s == "" {
		return i18n.T(ctx, "account.unknown")
	}
	return s
}

// describeBrowser names a browser and its system from a User-Agent header,
// roughly, for people to recognise their own devices; it never fails.
func describeBrowser(ctx context.Context, ua string) string {
	browsers := []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	}
	systems := []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	}
	name := i18n.T(ctx, "account.unknown_browser")
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			name = b.name
			break
		}
	}
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return i18n.T(ctx, "account.browser_on", "Browser", name, "System", s.name)
		}
	}
	return name
}

// accountHandler handles an account form for a checked request.
type accountHandler func(http.ResponseWriter, *http.Request, *account)

// withAccount bounds and parses the form, then requires a session (a
// session ended elsewhere is signed out here: its browser goes to sign in),
// the session's form token, and an address that is not locked out.
func (p *Pipeline) withAccount(h accountHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.form_unreadable", "/account", "account.back")
			return
		}
		sess, err := p.Sessions.Current(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if sess == nil {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		want := session.FormToken(sess.ID)
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(want)) != 1 {
			p.errorPage(w, r, http.StatusForbidden, "err.form_stale_title", msgBadForm, "/account", "account.back")
			return
		}
		a, ok := p.accountOf(w, r, sess)
		if !ok {
			return
		}
		err = throttle.Check(r.Context(), p.Store, throttle.AddressKey(clientip.FromContext(r.Context())), p.now())
		if msg := p.lockedMessage(r.Context(), err); msg != "" {
			p.showAccount(w, r, a, "", msg, http.StatusTooManyRequests)
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		h(w, r, a)
	}
}
