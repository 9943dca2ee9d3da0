package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Recovery codes in the pipeline: shown once after an authenticator is
// enrolled (the recovery-codes step), and accepted instead of a one-time
// code at the code step ("Use a recovery code").

const msgConfirmSaved = "err.confirm_saved"

// showRecoveryCodes renders the codes made at enrollment.
func (p *Pipeline) showRecoveryCodes(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	codes, err := p.OTP.OpenRecoveryCodes(st.user.ID, st.lt.PendingRecoveryCodes)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, views.RecoveryCodesPage(views.RecoveryCodesData{Codes: codes, CSRF: st.lt.CSRF, Error: msg}))
}

// postRecoveryCodesSaved serves POST /login/recovery-codes: the user confirms
// having saved the codes, which then leave the transaction.
func (p *Pipeline) postRecoveryCodesSaved(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	st, ok := p.atStep(w, r, lt, stepRecoveryCodes)
	if !ok {
		return
	}
	if r.PostFormValue("saved") != "yes" {
		p.showRecoveryCodes(w, r, st, msgConfirmSaved, http.StatusBadRequest)
		return
	}
	lt.PendingRecoveryCodes = nil
	p.passedFrom(w, r, st)
}

// postRecovery serves POST /login/recovery: a recovery code as the second
// factor. It is used up, audited, counted towards the code lockout when
// wrong, and the user hears how many are left.
func (p *Pipeline) postRecovery(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepOTP)
	if !ok {
		return
	}
	left, err := p.OTP.UseRecoveryCode(ctx, st.user.ID, r.PostFormValue("code"), p.now())
	if err != nil {
		p.codeFailed(w, r, lt, st.user, err, "method=recovery-code")
		return
	}
	p.recoveryCodeUsed(ctx, st.user, lt.ClientID, left)
	p.maybeRemember(w, r, st.user, lt.ClientID)
	if !slices.Contains(lt.AMR, session.AMROTP) {
		// A recovery code stands in for the authenticator: it passes the
		// same gate (an administrator's, a relying application's acr).
		lt.AMR = append(lt.AMR, session.AMROTP)
	}
	if err := p.Store.UpdateLoginTransaction(ctx, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	// The login goes on from the page's link; first the user learns how
	// many codes remain.
	p.render(w, r, http.StatusOK, views.RecoveryUsedPage(left))
}

// recoveryCodeUsed audits a used recovery code and tells the user by e-mail.
func (p *Pipeline) recoveryCodeUsed(ctx context.Context, u *store.User, clientID string, left int) {
	p.audit(ctx, audit.RecoveryCodeUsed, u.ID, u.ID, clientID, "left="+strconv.Itoa(left))
	p.notify(ctx, u, notify.Note{Kind: notify.RecoveryCodeUsed, Left: left})
}

// checkSecondFactor checks input, a one-time code or a recovery code, for u
// with credential cred (the account page's forms take either, since a user
// who lost the authenticator has only the codes). It reports whether a
// recovery code was used, and how many are left then.
func (p *Pipeline) checkSecondFactor(ctx context.Context, u *store.User, cred *store.OTPCredential, input string) (recovery bool, left int, err error) {
	if _, perr := mfa.ParseCode(input); perr == nil || errors.Is(perr, mfa.ErrCodeEmpty) {
		return false, 0, p.OTP.Verify(ctx, cred, input, p.now())
	}
	left, err = p.OTP.UseRecoveryCode(ctx, u.ID, input, p.now())
	return err == nil, left, err
}

// notify sends n to u when the pipeline has a notifier.
func (p *Pipeline) notify(ctx context.Context, u *store.User, n notify.Note) {
	if p.Notify == nil {
		return
	}
	if n.IP == "" {
		n.IP = clientip.FromContext(ctx)
	}
	p.Notify.Send(ctx, u, n)
}
