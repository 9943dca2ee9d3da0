package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/metrics"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// The one-time-code step: every local login of a user with an authenticator.

const (
	msgCodeEmpty   = "err.code_empty"
	msgCodeInvalid = "err.code_invalid"
	// msgRecoveryInvalid answers a wrong, used or malformed recovery code
	// alike.
	msgRecoveryInvalid = "err.recovery_invalid"
)

// Ways through the code step.
const (
	methodSecurityKey = "webauthn"
	methodOTP         = "otp"
	methodRecovery    = "recovery"
)

// codeMethod chooses how the code step is passed on this page: a security
// key first when the user has one, the authenticator app's code when asked
// for ("Use a one-time code instead") or when there is no key, a recovery
// code when asked for. A form posted to one method re-renders that method's
// page.
func (st *state) codeMethod(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case q.Get("recovery") == "1" || r.URL.Path == "/login/recovery":
		return methodRecovery
	case r.URL.Path == "/login/otp", q.Get("method") == methodOTP && st.cred != nil:
		return methodOTP
	case len(st.keys) > 0:
		return methodSecurityKey
	case st.cred == nil:
		// Keys removed since: only recovery codes are left.
		return methodRecovery
	}
	return methodOTP
}

func (p *Pipeline) showOTP(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	p.auditRememberRefused(r.Context(), st)
	d := views.CodeStepData{CSRF: st.lt.CSRF, Error: msg, RememberDays: p.rememberDays(st.user), HasOTP: st.cred != nil, HasKeys: len(st.keys) > 0}
	switch st.codeMethod(r) {
	case methodRecovery:
		p.render(w, r, status, views.RecoveryPage(d))
	case methodSecurityKey:
		p.showSecurityKey(w, r, st, d, status)
	default:
		p.render(w, r, status, views.OTPPage(d))
	}
}

// postOTP serves POST /login/otp.
func (p *Pipeline) postOTP(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	st, ok := p.atStep(w, r, lt, stepOTP)
	if !ok {
		return
	}
	if st.cred == nil {
		// Only security keys (and recovery codes) left: no code to check.
		p.showStep(w, r, lt, msgCodeInvalid, http.StatusUnauthorized)
		return
	}
	if err := p.OTP.Verify(r.Context(), st.cred, r.PostFormValue("otp"), p.now()); err != nil {
		p.codeFailed(w, r, lt, st.user, err, "method=otp")
		return
	}
	if !slices.Contains(lt.AMR, session.AMROTP) {
		lt.AMR = append(lt.AMR, session.AMROTP)
	}
	p.maybeRemember(w, r, st.user, lt.ClientID)
	// A verified code changes nothing the next step is derived from (only
	// the credential's last step), so the state read above still holds.
	p.passedFrom(w, r, st)
}

// codeMessage turns a verification error into the page's message, or "" when
// the error is not the user's.
func (p *Pipeline) codeMessage(ctx context.Context, err error) (string, int) {
	if msg := p.lockedMessage(ctx, err); msg != "" {
		return msg, http.StatusTooManyRequests
	}
	switch {
	case errors.Is(err, mfa.ErrCodeEmpty):
		return msgCodeEmpty, http.StatusBadRequest
	case errors.Is(err, mfa.ErrCodeFormat), errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrRecoveryFormat):
		return msgCodeInvalid, http.StatusUnauthorized
	}
	return "", 0
}

// codeFailed answers a refused code (at the code step or at enrollment): a
// message for the user's mistakes, an error page for anything else.
func (p *Pipeline) codeFailed(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, u *store.User, err error, detail string) {
	msg, status := p.codeMessage(r.Context(), err)
	if msg == "" {
		p.fail(w, r, err)
		return
	}
	if msg == msgCodeInvalid && strings.Contains(detail, "recovery") {
		msg = msgRecoveryInvalid
	}
	p.countCodeFailure(r, u, lt.ClientID, err, detail)
	p.showStep(w, r, lt, msg, status)
}

// countCodeFailure audits a refused code and counts a wrong one against the
// client's address; the user's own count is the verifier's.
func (p *Pipeline) countCodeFailure(r *http.Request, u *store.User, clientID string, err error, detail string) {
	ctx := r.Context()
	p.audit(ctx, audit.LoginFailure, "", u.ID, clientID, detail)
	startedLock := errors.Is(err, mfa.ErrInvalidCode) && errors.Is(err, throttle.ErrLocked)
	switch {
	case errors.Is(err, mfa.ErrInvalidCode):
		metrics.From(ctx).OTPFailed(startedLock)
		p.countAddressFailure(r)
		if startedLock {
			p.audit(ctx, audit.OTPLockout, "", u.ID, clientID, "")
		}
	case errors.Is(err, throttle.ErrLocked):
		// Refused unjudged during a lock: not a new lock.
		p.audit(ctx, audit.OTPRefusedLocked, "", u.ID, clientID, "")
	}
}
