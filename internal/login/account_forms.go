package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// The account page's forms. A wrong current password or code counts towards
// the same lockouts as at sign-in.

const (
	msgWrongPassword = "err.wrong_password"
	msgNoPassword    = "err.no_password"
	msgNoOTP         = "err.no_otp"
	msgCodeNeeded    = "err.code_needed"
)

// secondFactor checks the form's code (or recovery code) for a; on failure it
// has answered the request and returns false.
func (p *Pipeline) secondFactor(w http.ResponseWriter, r *http.Request, a *account, what string) bool {
	ctx := r.Context()
	recovery, left, err := p.checkSecondFactor(ctx, a.user, a.cred, r.PostFormValue("otp"))
	if err != nil {
		msg, status := p.codeMessage(r.Context(), err)
		if msg == "" {
			p.fail(w, r, err)
			return false
		}
		if errors.Is(err, mfa.ErrCodeEmpty) {
			msg = msgCodeNeeded
		}
		p.countCodeFailure(r, a.user, "", err, "method=otp context=account action="+what)
		p.showAccount(w, r, a, "", msg, status)
		return false
	}
	if recovery {
		p.recoveryCodeUsed(ctx, a.user, "", left)
	}
	return true
}

// postAccountPassword serves POST /account/password: the current password
// and a code, then the new password. Every other browser is signed out, and
// every OAuth token of the user revoked.
func (p *Pipeline) postAccountPassword(w http.ResponseWriter, r *http.Request, a *account) {
	ctx := r.Context()
	u := a.user
	if u.PasswordHash == "" {
		p.showAccount(w, r, a, "", msgNoPassword, http.StatusBadRequest)
		return
	}
	pw := r.PostFormValue("password")
	// The rules first: a code spent on a form that fails them would be lost.
	if err := password.Check(pw, r.PostFormValue("password_confirm"), u.Username); err != nil {
		p.showAccount(w, r, a, "", policyMessage(err), http.StatusBadRequest)
		return
	}
	if !p.currentPassword(w, r, a) {
		return
	}
	if a.cred != nil && !p.secondFactor(w, r, a, "password") {
		return
	}
	hash, err := p.Passwords.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		p.showAccount(w, r, a, "", msgBusy, http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.replacePassword(ctx, u.ID, hash); err != nil {
		p.fail(w, r, err)
		return
	}
	if _, err := p.Sessions.EndOthers(ctx, u.ID, a.sess.ID); err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.forgetBrowsers(ctx, u.ID, u.ID, "password-changed"); err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.PasswordChanged, u.ID, u.ID, "", "reason=account")
	p.notify(ctx, u, notify.Note{Kind: notify.PasswordChanged})
	http.Redirect(w, r, "/account?done=password", http.StatusSeeOther)
}

// currentPassword checks the form's current password under the sign-in
// lockout; on failure it has answered the request and returns false.
func (p *Pipeline) currentPassword(w http.ResponseWriter, r *http.Request, a *account) bool {
	ctx := r.Context()
	current := r.PostFormValue("current_password")
	if len(current) > 1024 {
		p.showAccount(w, r, a, "", msgWrongPassword, http.StatusBadRequest)
		return false
	}
	keys, th, err := p.chargePassword(r, a.user, a.user.Username, "")
	if msg := p.lockedMessage(r.Context(), err); msg != "" {
		p.showAccount(w, r, a, "", msg, http.StatusTooManyRequests)
		return false
	}
	if err != nil {
		p.fail(w, r, err)
		return false
	}
	err = p.Passwords.Verify(ctx, a.user.PasswordHash, current)
	switch {
	case errors.Is(err, password.ErrBusy):
		w.Header().Set("Retry-After", "2")
		p.showAccount(w, r, a, "", msgBusy, http.StatusServiceUnavailable)
		return false
	case errors.Is(err, context.Canceled):
		p.fail(w, r, err)
		return false
	case err != nil:
		p.countAddressFailure(r)
		p.audit(ctx, audit.LoginFailure, "", a.user.ID, "", "method=pwd context=account")
		if th.LockedUntil.After(p.now()) {
			p.audit(ctx, audit.PasswordLockout, "", a.user.ID, "", "")
		}
		p.showAccount(w, r, a, "", msgWrongPassword, http.StatusUnauthorized)
		return false
	}
	_ = p.Store.ResetThrottle(ctx, keys...)
	return true
}

// replacePassword sets the user's password hash on a fresh copy of the user,
// and revokes the user's OAuth tokens and voids the unused links with it.
func (p *Pipeline) replacePassword(ctx context.Context, userID, hash string) error {
	return store.InTx(ctx, p.Store, func(ctx context.Context) error {
		u, err := p.Store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		u.PasswordHash, u.MustChangePassword = hash, false
		u.UpdatedAt = p.now()
		if err := p.Store.UpdateUser(ctx, u); err != nil {
			return err
		}
		return p.passwordReplaced(ctx, userID, "")
	})
}

// postReplaceAuthenticator serves POST /account/authenticator: after a
// current code (or a recovery code, for a lost device) the set-up page of a
// new authenticator. The old one works until the new one is confirmed, then
// never again: an abandoned replacement leaves the account as it was, never
// without its second factor.
func (p *Pipeline) postReplaceAuthenticator(w http.ResponseWriter, r *http.Request, a *account) {
	if a.cred == nil {
		p.showAccount(w, r, a, "", msgNoOTP, http.StatusBadRequest)
		return
	}
	if !p.secondFactor(w, r, a, "replace-otp") {
		return
	}
	s := a.sess
	lt := &store.LoginTransaction{Purpose: store.PurposeReplaceOTP, UserID: a.user.ID, AMR: slices.Clone(s.AMR),
		AuthTime: s.AuthTime, UpstreamAlias: s.Provider}
	if !slices.Contains(lt.AMR, session.AMROTP) {
		lt.AMR = append(lt.AMR, session.AMROTP)
	}
	if err := p.begin(w, r, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// postNewRecoveryCodes serves POST /account/recovery-codes: after a current
// code, a new set replaces the old one and is shown once.
func (p *Pipeline) postNewRecoveryCodes(w http.ResponseWriter, r *http.Request, a *account) {
	ctx := r.Context()
	if a.cred == nil {
		p.showAccount(w, r, a, "", msgNoOTP, http.StatusBadRequest)
		return
	}
	if !p.secondFactor(w, r, a, "recovery-codes") {
		return
	}
	codes, err := p.OTP.IssueRecoveryCodes(ctx, a.user.ID, p.now())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.RecoveryCodesIssued, a.user.ID, a.user.ID, "", "count="+strconv.Itoa(len(codes))+" reason=account")
	p.notify(ctx, a.user, notify.Note{Kind: notify.RecoveryCodesRenewed})
	p.render(w, r, http.StatusOK, views.RecoveryCodesPage(views.RecoveryCodesData{Codes: codes}))
}

// postEndSession serves POST /account/sessions/end: another of the user's
// sessions, named by its handle, ends.
func (p *Pipeline) postEndSession(w http.ResponseWriter, r *http.Request, a *account) {
	ctx := r.Context()
	handle := r.PostFormValue("session")
	all, err := p.Sessions.List(ctx, a.user.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(all, func(s *store.Session) bool { return s.ID != a.sess.ID && session.Handle(s.ID) == handle })
	if i < 0 {
		http.Redirect(w, r, "/account?done=gone", http.StatusSeeOther)
		return
	}
	if err := p.Sessions.EndSession(ctx, all[i]); err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.SessionEnded, a.user.ID, a.user.ID, "", "reason=account")
	p.notify(ctx, a.user, notify.Note{Kind: notify.SessionEnded})
	http.Redirect(w, r, "/account?done=session", http.StatusSeeOther)
}

// postEndOtherSessions serves POST /account/sessions/end-others.
func (p *Pipeline) postEndOtherSessions(w http.ResponseWriter, r *http.Request, a *account) {
	ctx := r.Context()
	n, err := p.Sessions.EndOthers(ctx, a.user.ID, a.sess.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if n > 0 {
		p.audit(ctx, audit.SessionEnded, a.user.ID, a.user.ID, "", "reason=account others="+strconv.Itoa(n))
		p.notify(ctx, a.user, notify.Note{Kind: notify.SessionsEnded})
	}
	http.Redirect(w, r, "/account?done=others", http.StatusSeeOther)
}
