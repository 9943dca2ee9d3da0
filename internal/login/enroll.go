package login

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// The enrollment step: a user whose OTP flag is on and who has no
// authenticator scans a new secret and proves it with a code. The secret
// waits, sealed, in the login transaction until the code confirms it.

const msgResetByAdmin = "err.reset_by_admin"

// showEnroll renders the authenticator setup page, creating the pending secret
// on first view.
func (p *Pipeline) showEnroll(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	lt, u := st.lt, st.user
	secret, err := p.pendingSecret(r.Context(), lt, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	uri := mfa.KeyURI(p.OTPIssuer, u.Username, secret)
	qr, err := mfa.QRCodeDataURI(uri)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, views.EnrollPage(views.EnrollData{
		CSRF:       lt.CSRF,
		QRDataURI:  qr,
		ShowKey:    r.URL.Query().Get("manual") == "1",
		GroupedKey: mfa.GroupKey(secret),
		Since:      userVersion(u),
		Account:    u.Username,
		Error:      msg,
		Replace:    lt.Purpose == store.PurposeReplaceOTP,
	}))
}

// userVersion identifies the user record the enrollment page was shown for.
func userVersion(u *store.User) string { return strconv.FormatInt(u.UpdatedAt.UnixMicro(), 10) }

// pendingSecret returns the secret being enrolled, making one when there is none.
func (p *Pipeline) pendingSecret(ctx context.Context, lt *store.LoginTransaction, u *store.User) (string, error) {
	if len(lt.PendingOTPSecret) > 0 {
		if s, err := p.OTP.OpenSecret(u.ID, lt.PendingOTPSecret); err == nil {
			return s, nil
		}
	}
	secret, err := mfa.NewSecret()
	if err != nil {
		return "", err
	}
	if lt.PendingOTPSecret, err = p.OTP.SealSecret(u.ID, secret); err != nil {
		return "", err
	}
	if err := p.Store.UpdateLoginTransaction(ctx, lt); err != nil {
		return "", fmt.Errorf("login: keep pending secret: %w", err)
	}
	return secret, nil
}

// postEnroll serves POST /login/enroll.
func (p *Pipeline) postEnroll(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepEnroll)
	if !ok {
		return
	}
	if len(lt.PendingOTPSecret) == 0 {
		p.advance(w, r, lt)
		return
	}
	// The user was changed (an administrator's reset) after this form was shown:
	// the secret the user scanned must not become the credential.
	if r.PostFormValue("since") != userVersion(st.user) {
		lt.PendingOTPSecret = nil
		if err := p.Store.UpdateLoginTransaction(ctx, lt); err != nil {
			p.fail(w, r, err)
			return
		}
		p.showStep(w, r, lt, msgResetByAdmin, http.StatusConflict)
		return
	}
	secret, err := p.OTP.OpenSecret(st.user.ID, lt.PendingOTPSecret)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.OTP.Enroll(ctx, st.user.ID, secret, r.PostFormValue("otp"), p.now()); err != nil {
		p.codeFailed(w, r, lt, st.user, err, "method=otp-enroll")
		return
	}
	detail := ""
	if lt.Purpose == store.PurposeReplaceOTP {
		// Replaced: what is left is an ordinary login's end. Browsers
		// remembered on the word of the old device are asked again.
		detail, lt.Purpose = "reason=replaced", store.PurposeLogin
		if err := p.forgetBrowsers(ctx, st.user.ID, st.user.ID, "authenticator-replaced"); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.audit(ctx, audit.OTPEnrolled, st.user.ID, st.user.ID, lt.ClientID, detail)
	lt.PendingOTPSecret = nil
	if !slices.Contains(lt.AMR, session.AMROTP) {
		lt.AMR = append(lt.AMR, session.AMROTP)
	}
	// A new authenticator comes with a new set of recovery codes, shown
	// once by the next step; the old set goes with the old device.
	if err := p.issueRecoveryCodes(ctx, lt, st.user); err != nil {
		p.fail(w, r, err)
		return
	}
	p.notify(ctx, st.user, notify.Note{Kind: notify.AuthenticatorSetUp})
	p.passed(w, r, lt)
}

// issueRecoveryCodes makes the user a new set of recovery codes and keeps
// them, sealed, in lt until the user confirms having saved them.
func (p *Pipeline) issueRecoveryCodes(ctx context.Context, lt *store.LoginTransaction, u *store.User) error {
	codes, err := p.OTP.IssueRecoveryCodes(ctx, u.ID, p.now())
	if err != nil {
		return err
	}
	if lt.PendingRecoveryCodes, err = p.OTP.SealRecoveryCodes(u.ID, codes); err != nil {
		return err
	}
	p.audit(ctx, audit.RecoveryCodesIssued, u.ID, u.ID, lt.ClientID, "count="+strconv.Itoa(len(codes)))
	return nil
}
