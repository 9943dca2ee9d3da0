package login

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// The set-password step of a set-up or reset link: after the authenticator,
// the user chooses a password, which uses the link up.

func (p *Pipeline) showSetPassword(w http.ResponseWriter, r *http.Request, st *state, msg string, status int) {
	if msg == "" && st.lt.Purpose == store.PurposeLogin {
		msg = i18n.T(r.Context(), msgOneTimePassword)
	}
	p.render(w, r, status, views.SetPasswordPage(st.lt.CSRF, st.user.Username, msg))
}

const msgOneTimePassword = "setpw.one_time"

// postSetPassword serves POST /login/set-password.
func (p *Pipeline) postSetPassword(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepSetPassword)
	if !ok {
		return
	}
	pw := r.PostFormValue("password")
	if err := password.Check(pw, r.PostFormValue("password_confirm"), st.user.Username); err != nil {
		p.showStep(w, r, lt, policyMessage(err), http.StatusBadRequest)
		return
	}
	hash, err := p.Passwords.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		p.showStep(w, r, lt, msgBusy, http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	kind, err := p.storePassword(ctx, lt, st.user.ID, hash)
	switch {
	case errors.Is(err, errUserGone):
		p.abandon(w, r, lt, msgDisabled)
		return
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		p.abandon(w, r, lt, "err.link_gone")
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	if lt.Purpose == store.PurposeLogin {
		p.audit(ctx, audit.PasswordChanged, st.user.ID, st.user.ID, lt.ClientID, "reason=one-time password")
	} else {
		p.audit(ctx, audit.LinkUsed, st.user.ID, st.user.ID, "", "action="+lt.Purpose)
	}
	if kind == store.ActionReset {
		p.notify(ctx, st.user, notify.Note{Kind: notify.PasswordChanged})
	}
	// The link is used up: the steps left answer to the password now.
	lt.ActionTokenID = ""
	if !slices.Contains(lt.AMR, session.AMRPassword) {
		lt.AMR = append(lt.AMR, session.AMRPassword)
	}
	lt.AuthTime = p.now()
	p.passed(w, r, lt)
}

// storePassword consumes the link and sets the password in one transaction, on
// a fresh copy of the user, and returns the link's kind ("" without one). A
// link sets a password only once: every browser session of the user ends with
// it, and every OAuth token and other unused link (passwordReplaced), so a
// reset locks out whoever had the old one.
func (p *Pipeline) storePassword(ctx context.Context, lt *store.LoginTransaction, userID, hash string) (string, error) {
	var kind string
	err := store.InTx(ctx, p.Store, func(ctx context.Context) error {
		kind = ""
		if lt.ActionTokenID != "" {
			at, err := p.Store.GetActionToken(ctx, lt.ActionTokenID)
			if err != nil {
				return err
			}
			if !p.now().Before(at.ExpiresAt) {
				return store.ErrNotFound
			}
			if err := p.Store.UseActionToken(ctx, lt.ActionTokenID, p.now()); err != nil {
				return err
			}
			kind = at.Kind
		}
		u, err := p.Store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if !u.Enabled {
			return errUserGone
		}
		u.PasswordHash, u.UpdatedAt, u.MustChangePassword = hash, p.now(), false
		if err := p.Store.UpdateUser(ctx, u); err != nil {
			return err
		}
		if _, err := p.Store.DeleteRememberedBrowsers(ctx, userID); err != nil {
			return err
		}
		if err := p.passwordReplaced(ctx, userID, lt.ID); err != nil {
			return err
		}
		return p.Store.DeleteUserSessions(ctx, userID)
	})
	return kind, err
}

// passwordReplaced ends, inside the caller's transaction, what outlives a
// password otherwise: the user's OAuth tokens (refresh tokens kept by
// applications, access tokens still valid), the unused set-up and reset
// links, any of which would set another password, and the user's logins in
// flight but keepLogin (the one setting the password, if any), so that whoever
// passed the old password in another browser gets no further.
func (p *Pipeline) passwordReplaced(ctx context.Context, userID, keepLogin string) error {
	if err := p.Store.DeleteSubjectTokens(ctx, userID); err != nil {
		return err
	}
	if err := p.Store.DeleteUserLoginTransactions(ctx, userID, keepLogin); err != nil {
		return err
	}
	return p.Store.DeleteUnusedActionTokens(ctx, userID)
}
