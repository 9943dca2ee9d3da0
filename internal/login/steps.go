package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// step is a page of the pipeline, or its end.
type step int

const (
	stepPassword step = iota
	stepEnroll
	stepOTP
	stepSetPassword
	stepConsent
	stepFinish
)

// state is what the next step is derived from.
type state struct {
	lt   *store.LoginTransaction
	user *store.User
	cred *store.OTPCredential
	// otpWaived is set when the user came through an upstream provider that
	// does not require the local OTP step.
	otpWaived bool
}

var errUserGone = errors.New("login: user disabled or deleted")

// load reads the user and the OTP credential of lt.
func (p *Pipeline) load(ctx context.Context, lt *store.LoginTransaction) (*state, error) {
	if lt.UserID == "" {
		return &state{lt: lt}, nil
	}
	u, err := p.Store.GetUser(ctx, lt.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUserGone
	}
	if err != nil {
		return nil, err
	}
	return p.loadFor(ctx, lt, u)
}

// loadFor is load for a user the request has already read.
func (p *Pipeline) loadFor(ctx context.Context, lt *store.LoginTransaction, u *store.User) (*state, error) {
	if !u.Enabled {
		return nil, errUserGone
	}
	st := &state{lt: lt, user: u}
	if has(lt.AMR, AMRFederated) {
		// A provider that is gone waives nothing: the local steps run.
		pr, err := p.Store.GetProvider(ctx, lt.UpstreamAlias)
		st.otpWaived = err == nil && !pr.RequireOTP
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	c, err := p.Store.GetOTPCredential(ctx, u.ID)
	switch {
	case err == nil:
		st.cred = c
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return st, nil
}

// next derives the step that follows. Enrollment is needed exactly when the OTP
// flag is on and no credential exists; a code accepted during enrollment counts
// as the second factor of this login. Upstream logins skip both unless their
// provider requires OTP.
func (p *Pipeline) next(ctx context.Context, st *state) (step, error) {
	lt, u := st.lt, st.user
	switch {
	case u == nil:
		return stepPassword, nil
	case st.otpWaived:
	case u.OTPRequired && st.cred == nil:
		return stepEnroll, nil
	case st.cred != nil && !has(lt.AMR, AMROTP):
		return stepOTP, nil
	}
	if lt.Purpose == store.PurposeSetup && !has(lt.AMR, AMRPassword) {
		return stepSetPassword, nil
	}
	need, err := p.needsConsent(ctx, lt)
	if err != nil {
		return 0, err
	}
	if need {
		return stepConsent, nil
	}
	return stepFinish, nil
}

// requestedScopes returns the scopes of the parked authorization request.
func requestedScopes(lt *store.LoginTransaction) []string {
	form, _ := url.ParseQuery(lt.AuthRequest)
	return strings.Fields(form.Get("scope"))
}

func (p *Pipeline) needsConsent(ctx context.Context, lt *store.LoginTransaction) (bool, error) {
	if lt.AuthRequest == "" {
		return false, nil
	}
	c, err := p.Store.GetClient(ctx, lt.ClientID)
	if err != nil {
		return false, fmt.Errorf("login: client of transaction: %w", err)
	}
	if c.SkipConsent {
		return false, nil
	}
	return NeedsConsent(ctx, p.Store, lt.UserID, lt.ClientID, requestedScopes(lt))
}

// NeedsConsent reports whether userID has not yet granted clientID every scope.
func NeedsConsent(ctx context.Context, st store.Store, userID, clientID string, scopes []string) (bool, error) {
	c, err := st.GetConsent(ctx, userID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return len(scopes) > 0, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !has(c.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// transactionOrNew returns the request's login transaction, or begins a new
// login at once: rendering rather than redirecting keeps a client that keeps no
// cookies from looping.
func (p *Pipeline) transactionOrNew(w http.ResponseWriter, r *http.Request) (*store.LoginTransaction, error) {
	lt, err := p.transaction(r)
	if errors.Is(err, errNoTransaction) {
		lt = &store.LoginTransaction{Purpose: store.PurposeLogin}
		err = p.begin(w, r, lt)
	}
	return lt, err
}

// show serves GET /login: the page of the current step.
func (p *Pipeline) show(w http.ResponseWriter, r *http.Request) {
	lt, err := p.transactionOrNew(w, r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showStep(w, r, lt, "", http.StatusOK)
}

// derive loads the state of lt and the step that follows; on error it has
// answered the request and returns ok false.
func (p *Pipeline) derive(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) (*state, step, bool) {
	st, err := p.load(r.Context(), lt)
	if err != nil {
		p.stepError(w, r, lt, err)
		return nil, 0, false
	}
	s, err := p.next(r.Context(), st)
	if err != nil {
		p.fail(w, r, err)
		return nil, 0, false
	}
	return st, s, true
}

// atStep derives the current step and answers for the handler unless it is
// want: a form posted out of turn just moves the browser to the current step.
func (p *Pipeline) atStep(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, want step) (*state, bool) {
	st, s, ok := p.derive(w, r, lt)
	if ok && s != want {
		p.advance(w, r, lt)
		ok = false
	}
	return st, ok
}

// passed saves lt after a step succeeded and moves on.
func (p *Pipeline) passed(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	if err := p.Store.UpdateLoginTransaction(r.Context(), lt); err != nil {
		p.fail(w, r, err)
		return
	}
	p.advance(w, r, lt)
}

// passedFrom is passed for a step that changed only st.lt: the next step is
// derived from st as it was loaded, without reading the user again. A login
// that is complete ends here, and finishing deletes the transaction, so it is
// not saved first.
func (p *Pipeline) passedFrom(w http.ResponseWriter, r *http.Request, st *state) {
	s, err := p.next(r.Context(), st)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if s != stepFinish {
		if err := p.Store.UpdateLoginTransaction(r.Context(), st.lt); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.moveOn(w, r, st, s)
}

// showStep renders the current step's page with an optional error message.
func (p *Pipeline) showStep(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, msg string, status int) {
	st, s, ok := p.derive(w, r, lt)
	if !ok {
		return
	}
	switch s {
	case stepPassword:
		form, _ := url.ParseQuery(lt.AuthRequest)
		p.render(w, r, status, views.LoginPage(views.LoginData{CSRF: lt.CSRF, Username: form.Get("login_hint"), Error: msg, Providers: p.providerButtons(r)}))
	case stepEnroll:
		p.showEnroll(w, r, st, msg, status)
	case stepOTP:
		p.render(w, r, status, views.OTPPage(lt.CSRF, msg))
	case stepSetPassword:
		p.render(w, r, status, views.SetPasswordPage(lt.CSRF, st.user.Username, msg))
	case stepConsent:
		p.showConsent(w, r, lt)
	case stepFinish:
		p.finish(w, r, st)
	}
}

// advance continues after a successful step: finish at once, or show the next page
// through a redirect so that a reload never re-posts a form.
func (p *Pipeline) advance(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	st, s, ok := p.derive(w, r, lt)
	if !ok {
		return
	}
	p.moveOn(w, r, st, s)
}

// moveOn finishes when s is the end, or shows the page of s.
func (p *Pipeline) moveOn(w http.ResponseWriter, r *http.Request, st *state, s step) {
	if s == stepFinish {
		p.finish(w, r, st)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (p *Pipeline) showConsent(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	c, err := p.Store.GetClient(r.Context(), lt.ClientID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	p.render(w, r, http.StatusOK, views.ConsentPage(lt.CSRF, name, requestedScopes(lt)))
}

// abandon ends a transaction that cannot go on.
func (p *Pipeline) abandon(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, msg string) {
	if err := p.Store.DeleteLoginTransaction(r.Context(), lt.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Log.ErrorContext(r.Context(), "delete login transaction", "err", err)
	}
	p.setCookie(w, TransactionCookie, "", time.Time{})
	p.render(w, r, http.StatusForbidden, views.ErrorPage("Sign-in stopped", msg, "/account", "Start again"))
}

// useUp deletes lt before the login's outcome is issued, so that of two
// requests ending one transaction (a double submit, or one that a logout or a
// denial overtook) only one goes on; the other hears the login is over. It
// returns false when it has answered the request.
func (p *Pipeline) useUp(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) bool {
	switch err := p.Store.DeleteLoginTransaction(r.Context(), lt.ID); {
	case errors.Is(err, store.ErrNotFound):
		p.expired(w, r)
		return false
	case err != nil:
		p.fail(w, r, err)
		return false
	}
	return true
}

// finish creates the browser session and resumes the authorization request, or
// shows the account page.
func (p *Pipeline) finish(w http.ResponseWriter, r *http.Request, st *state) {
	ctx := r.Context()
	lt, u := st.lt, st.user
	if !p.useUp(w, r, lt) {
		return
	}
	amr := lt.AMR
	if has(amr, AMRPassword) && has(amr, AMROTP) {
		amr = appendOnce(amr, AMRMFA)
	}
	if old, err := p.CurrentSession(r); err == nil && old != nil {
		_ = p.Store.DeleteSession(ctx, old.ID)
	}
	token, id := newToken()
	now := p.now()
	authTime := lt.AuthTime
	if authTime.IsZero() {
		authTime = now
	}
	sess := &store.Session{ID: id, UserID: u.ID, AuthTime: authTime, AMR: amr, Provider: lt.UpstreamAlias, CreatedAt: now, ExpiresAt: now.Add(p.SessionTTL)}
	if err := p.Store.CreateSession(ctx, sess); err != nil {
		p.fail(w, r, err)
		return
	}
	p.setCookie(w, SessionCookie, token, sess.ExpiresAt)
	p.setCookie(w, TransactionCookie, "", time.Time{})
	if err := p.Store.SetLastLogin(ctx, u.ID, now); err != nil {
		p.Log.ErrorContext(ctx, "record last login", "err", err)
	}
	p.audit(ctx, "login.success", u.ID, u.ID, lt.ClientID, "amr="+strings.Join(amr, ","))
	if lt.AuthRequest != "" {
		p.Resume.ResumeAuthorization(w, r, lt, sess, u)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}
