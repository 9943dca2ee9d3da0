package login

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/metrics"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/passkey"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Security keys and passkeys (WebAuthn) as a second factor: registered from
// the account page after a current code (an add-security-key login
// transaction holds the ceremony), offered first at the code step, listed
// with their last use and removable on the account page after a current
// code. Adding or removing one is e-mailed to the user.

const (
	msgKeyRefused  = "err.key_refused"
	msgKeyExpired  = "err.key_expired"
	msgKeyCloned   = "err.key_cloned"
	msgKeyNotAdded = "err.key_not_added"
	msgKeyTaken    = "err.key_taken"
	msgKeyName     = "err.key_name"
	msgKeyGone     = "err.key_gone"
	msgKeysOff     = "err.keys_off"
	// maxKeyName bounds a key's name, in characters.
	maxKeyName = 64
)

// showSecurityKey begins a sign-in ceremony and renders its page; the
// challenge waits in the transaction until answered.
func (p *Pipeline) showSecurityKey(w http.ResponseWriter, r *http.Request, st *state, d views.CodeStepData, status int) {
	opts, kept, err := p.Passkeys.BeginLogin(r.Context(), st.user)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	st.lt.WebAuthnSession = kept
	if err := p.Store.UpdateLoginTransaction(r.Context(), st.lt); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Options = string(opts)
	p.render(w, r, status, views.SecurityKeyPage(d))
}

// takeCeremony spends the kept ceremony of lt before its answer is
// checked, so that a challenge is answered once whatever the outcome (a
// registration's name stays for the next attempt).
func (p *Pipeline) takeCeremony(ctx context.Context, lt *store.LoginTransaction) ([]byte, error) {
	kept := lt.WebAuthnSession
	if kept == nil {
		return nil, nil
	}
	lt.WebAuthnSession = passkey.Answered(kept)
	return kept, p.Store.UpdateLoginTransaction(ctx, lt)
}

// postSecurityKey serves POST /login/webauthn: an assertion as the second
// factor.
func (p *Pipeline) postSecurityKey(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepOTP)
	if !ok {
		return
	}
	if len(st.keys) == 0 {
		// No key to check (none registered, or security keys are off).
		p.showStep(w, r, lt, msgKeyRefused, http.StatusUnauthorized)
		return
	}
	kept, err := p.takeCeremony(ctx, lt)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	used, err := p.Passkeys.FinishLogin(ctx, st.user, kept, []byte(r.PostFormValue("credential")))
	if err != nil {
		p.keyRefused(w, r, st, used, metrics.CeremonyLogin, err)
		return
	}
	metrics.From(ctx).WebAuthn(metrics.CeremonyLogin, metrics.OutcomeSuccess)
	p.audit(ctx, audit.WebAuthnUsed, st.user.ID, st.user.ID, lt.ClientID, "name="+used.Name)
	if !slices.Contains(lt.AMR, session.AMRHardwareKey) {
		lt.AMR = append(lt.AMR, session.AMRHardwareKey)
	}
	p.maybeRemember(w, r, st.user, lt.ClientID)
	p.passedFrom(w, r, st)
}

// keyRefused answers a refused ceremony response: a message on the step's
// page for the browser's or authenticator's failures (audited, counted,
// and charged to the client's address), an error page for the server's.
func (p *Pipeline) keyRefused(w http.ResponseWriter, r *http.Request, st *state, used *store.WebAuthnCredential, ceremony string, err error) {
	ctx := r.Context()
	var msg, outcome string
	typ, detail := audit.WebAuthnRefused, "ceremony="+ceremony
	switch {
	case errors.Is(err, passkey.ErrCounter):
		msg, outcome, typ = msgKeyCloned, metrics.OutcomeCounter, audit.WebAuthnCounterAnomaly
		if used != nil {
			detail += " name=" + used.Name
		}
	case errors.Is(err, passkey.ErrExpired):
		msg, outcome, detail = msgKeyExpired, metrics.OutcomeExpired, detail+" reason=expired"
	case errors.Is(err, passkey.ErrTaken):
		msg, outcome, detail = msgKeyTaken, metrics.OutcomeFailure, detail+" reason=registered-already"
	case errors.Is(err, passkey.ErrNoCeremony):
		msg, outcome, detail = msgKeyRefused, metrics.OutcomeFailure, detail+" reason=no-challenge"
	case errors.Is(err, passkey.ErrInvalid):
		msg, outcome, detail = msgKeyRefused, metrics.OutcomeFailure, detail+" reason=invalid"
	default:
		p.fail(w, r, err)
		return
	}
	if ceremony == metrics.CeremonyRegister && msg == msgKeyRefused {
		msg = msgKeyNotAdded
	}
	metrics.From(ctx).WebAuthn(ceremony, outcome)
	p.audit(ctx, typ, "", st.user.ID, st.lt.ClientID, detail)
	p.countAddressFailure(r)
	p.showStep(w, r, st.lt, msg, http.StatusUnauthorized)
}

// postBeginAddSecurityKey serves POST /account/security-keys: after a
// current code (or a recovery code), the registration page of a key named
// by the user.
func (p *Pipeline) postBeginAddSecurityKey(w http.ResponseWriter, r *http.Request, a *account) {
	if p.Passkeys == nil {
		p.showAccount(w, r, a, "", msgKeysOff, http.StatusNotFound)
		return
	}
	if a.cred == nil {
		p.showAccount(w, r, a, "", msgNoOTP, http.StatusBadRequest)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > maxKeyName || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		p.showAccount(w, r, a, "", msgKeyName, http.StatusBadRequest)
		return
	}
	if !p.secondFactor(w, r, a, "add-security-key") {
		return
	}
	s := a.sess
	lt := &store.LoginTransaction{Purpose: store.PurposeAddSecurityKey, UserID: a.user.ID, AMR: slices.Clone(s.AMR),
		AuthTime: s.AuthTime, UpstreamAlias: s.Provider}
	_, kept, err := p.Passkeys.BeginRegistration(r.Context(), a.user, name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	lt.WebAuthnSession = kept
	if err := p.begin(w, r, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// showAddSecurityKey renders the registration page with a fresh challenge
// for the name chosen on the account page.
func (p *Pipeline) showAddSecurityKey(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	// A failed attempt kept the name: the page begins another ceremony.
	name := passkey.CeremonyName(st.lt.WebAuthnSession)
	opts, kept, err := p.Passkeys.BeginRegistration(r.Context(), st.user, name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	st.lt.WebAuthnSession = kept
	if err := p.Store.UpdateLoginTransaction(r.Context(), st.lt); err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, views.AddSecurityKeyPage(st.lt.CSRF, name, string(opts), msg))
}

// postAddSecurityKey serves POST /login/webauthn/register: the browser's
// new credential. Registered, it ends the transaction and the browser goes
// back to the account page, whose session is unchanged.
func (p *Pipeline) postAddSecurityKey(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepAddSecurityKey)
	if !ok {
		return
	}
	kept, err := p.takeCeremony(ctx, lt)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	cred, err := p.Passkeys.FinishRegistration(ctx, st.user, kept, []byte(r.PostFormValue("credential")))
	if err != nil {
		p.keyRefused(w, r, st, nil, metrics.CeremonyRegister, err)
		return
	}
	if !p.useUp(w, r, lt) {
		return
	}
	metrics.From(ctx).WebAuthn(metrics.CeremonyRegister, metrics.OutcomeSuccess)
	p.audit(ctx, audit.WebAuthnRegistered, st.user.ID, st.user.ID, "", "name="+cred.Name)
	p.notify(ctx, st.user, notify.Note{Kind: notify.SecurityKeyAdded, Name: cred.Name})
	http.Redirect(w, r, "/account?done=key-added", http.StatusSeeOther)
}

// keyHandle names a credential in the account page's forms.
func keyHandle(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// postRemoveSecurityKey serves POST /account/security-keys/remove: after a
// current code (or a recovery code), as the other forms that change how the
// user signs in, the key goes and the user is told by e-mail. A key that is
// gone already costs no code.
func (p *Pipeline) postRemoveSecurityKey(w http.ResponseWriter, r *http.Request, a *account) {
	ctx := r.Context()
	handle := r.PostFormValue("key")
	id, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(id) == 0 || len(id) > 1024 {
		p.showAccount(w, r, a, "", msgKeyGone, http.StatusBadRequest)
		return
	}
	keys, err := p.Store.ListWebAuthnCredentials(ctx, a.user.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(keys, func(k *store.WebAuthnCredential) bool { return keyHandle(k.ID) == handle })
	if i < 0 {
		http.Redirect(w, r, "/account?done=key-gone", http.StatusSeeOther)
		return
	}
	if a.cred != nil && !p.secondFactor(w, r, a, "remove-security-key") {
		return
	}
	err = p.Store.DeleteWebAuthnCredential(ctx, a.user.ID, keys[i].ID)
	if errors.Is(err, store.ErrNotFound) {
		http.Redirect(w, r, "/account?done=key-gone", http.StatusSeeOther)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.WebAuthnRemoved, a.user.ID, a.user.ID, "", "name="+keys[i].Name+" reason=account")
	p.notify(ctx, a.user, notify.Note{Kind: notify.SecurityKeyRemoved, Name: keys[i].Name})
	http.Redirect(w, r, "/account?done=key-removed", http.StatusSeeOther)
}

// postForgetBrowsers serves POST /account/remembered/forget.
func (p *Pipeline) postForgetBrowsers(w http.ResponseWriter, r *http.Request, a *account) {
	if err := p.forgetBrowsers(r.Context(), a.user.ID, a.user.ID, "account"); err != nil {
		p.fail(w, r, err)
		return
	}
	p.Sessions.SetCookie(w, session.RememberCookie, "", time.Time{})
	http.Redirect(w, r, "/account?done=forgotten", http.StatusSeeOther)
}

// securityKeyRows are the account page's list of keys.
func securityKeyRows(ctx context.Context, keys []*store.WebAuthnCredential) []views.AccountSecurityKey {
	out := make([]views.AccountSecurityKey, 0, len(keys))
	for _, k := range keys {
		last := i18n.T(ctx, "account.never")
		if !k.LastUsedAt.IsZero() {
			last = formatWhen(ctx, k.LastUsedAt)
		}
		out = append(out, views.AccountSecurityKey{Handle: keyHandle(k.ID), Name: k.Name, Added: formatWhen(ctx, k.CreatedAt), LastUsed: last})
	}
	return out
}

// rememberedRows are the account page's list of remembered browsers.
func rememberedRows(ctx context.Context, bs []*store.RememberedBrowser, currentID string) []views.AccountRemembered {
	out := make([]views.AccountRemembered, 0, len(bs))
	for _, b := range bs {
		last := i18n.T(ctx, "account.never")
		if !b.LastUsedAt.IsZero() {
			last = formatWhen(ctx, b.LastUsedAt)
		}
		out = append(out, views.AccountRemembered{Browser: describeBrowser(ctx, b.UserAgent), IP: orUnknown(ctx, b.IP),
			Since: formatWhen(ctx, b.CreatedAt), Until: formatWhen(ctx, b.ExpiresAt), LastUsed: last, Current: b.ID == currentID})
	}
	return out
}
