package login

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// step is a page of the pipeline, or its end.
type step int

const (
	stepPassword step = iota
	stepEnroll
	stepOTP
	stepRecoveryCodes
	stepAddSecurityKey
	stepSetPassword
	stepConsent
	stepFinish
)

// state is what the next step is derived from.
type state struct {
	lt   *store.LoginTransaction
	user *store.User
	cred *store.OTPCredential
	// keys are the user's security keys and passkeys.
	keys []*store.WebAuthnCredential
	// remembered is this browser, when its user chose "don't ask again"
	// here and it still holds: the code step of an ordinary sign-in
	// (PurposeLogin) is skipped, never that of a set-up or reset link.
	remembered *store.RememberedBrowser
	// rememberRefused is the audit detail of a remember cookie that did
	// not count for this user, or "".
	rememberRefused string
	// otpWaived is set when the user came through an upstream provider that
	// does not require the local OTP step.
	otpWaived bool
}

var (
	errUserGone      = errors.New("login: user disabled or deleted")
	errLinkGone      = errors.New("login: the set-up or reset link was used, replaced or has expired")
	errNoTransaction = errors.New("login: no login transaction")
)

// next derives the step that follows. Enrollment is needed exactly when the OTP
// flag is on and no credential exists; a code accepted during enrollment counts
// as the second factor of this login. The code step is needed when the user
// has an authenticator app or a security key and this login has proved
// neither, unless this browser is remembered for the user and this is an
// ordinary sign-in (not a set-up or reset link); which way the
// step is passed (security key first, the app's code, a recovery code) is
// the step's own choice (codeMethod). Upstream logins skip both unless their
// provider requires OTP.
func (p *Pipeline) next(ctx context.Context, st *state) (step, error) {
	lt, u := st.lt, st.user
	switch {
	case u == nil:
		return stepPassword, nil
	case lt.Purpose == store.PurposeReplaceOTP:
		// The account page checked the current code: a new authenticator
		// is enrolled whatever else holds.
		return stepEnroll, nil
	case lt.Purpose == store.PurposeAddSecurityKey:
		// Likewise for a security key; the step ends the transaction.
		return stepAddSecurityKey, nil
	case st.otpWaived:
	case u.OTPRequired && st.cred == nil:
		return stepEnroll, nil
	case session.SecondFactor(lt.AMR), st.cred == nil && len(st.keys) == 0:
	case st.remembered != nil && lt.Purpose == store.PurposeLogin:
		// "Don't ask again on this browser": no code, and the login's amr
		// says so (finish). Only for a sign-in: a reset or set-up link
		// replaces the password, which the browser's cookie and the
		// user's e-mail alone must not do.
	default:
		return stepOTP, nil
	}
	if len(lt.PendingRecoveryCodes) > 0 {
		return stepRecoveryCodes, nil
	}
	if lt.Purpose == store.PurposeSetup && !slices.Contains(lt.AMR, session.AMRPassword) {
		return stepSetPassword, nil
	}
	if u.MustChangePassword && lt.Purpose == store.PurposeLogin && slices.Contains(lt.AMR, session.AMRPassword) {
		// A one-time password (the bootstrap administrator's) signed in:
		// it is replaced before the login ends.
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

// load reads the user and the OTP credential of lt, or takes them from what
// the request read with lt.
func (p *Pipeline) load(ctx context.Context, lt *store.LoginTransaction) (*state, error) {
	if lt.UserID == "" {
		return &state{lt: lt}, nil
	}
	if ls := takePreread(ctx, lt); ls != nil {
		if ls.User == nil {
			return nil, errUserGone
		}
		return p.stateOf(ctx, lt, ls.User, ls.OTP, ls.SecurityKeys)
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
	c, err := p.Store.GetOTPCredential(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		c, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []*store.WebAuthnCredential
	if p.Passkeys != nil {
		if keys, err = p.Store.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	return p.stateOf(ctx, lt, u, c, keys)
}

// checkLink returns errLinkGone when lt was begun from a link that has since
// been used, replaced by a newer one (which deletes it) or expired: every
// step of it answers to the link, not only the password that uses it up,
// or a voided link could still enroll an authenticator for the user.
func (p *Pipeline) checkLink(ctx context.Context, lt *store.LoginTransaction) error {
	if lt.ActionTokenID == "" {
		return nil
	}
	at, err := p.Store.GetActionToken(ctx, lt.ActionTokenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errLinkGone
	case err != nil:
		return err
	case !at.UsedAt.IsZero() || !p.now().Before(at.ExpiresAt):
		return errLinkGone
	}
	return nil
}

// stateOf is the state of lt for user u, with u's authenticator app (nil for
// none) and security keys.
func (p *Pipeline) stateOf(ctx context.Context, lt *store.LoginTransaction, u *store.User, cred *store.OTPCredential, keys []*store.WebAuthnCredential) (*state, error) {
	if !u.Enabled {
		return nil, errUserGone
	}
	if err := p.checkLink(ctx, lt); err != nil {
		return nil, err
	}
	st := &state{lt: lt, user: u, cred: cred}
	if p.Passkeys != nil {
		// Without them (an issuer without a domain name) the app's code
		// and the recovery codes pass the step.
		st.keys = keys
	}
	if slices.Contains(lt.AMR, session.AMRFederated) {
		// A provider that is gone waives nothing: the local steps run.
		pr, err := p.Store.GetProvider(ctx, lt.UpstreamAlias)
		st.otpWaived = err == nil && !pr.RequireOTP
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return st, nil
}

// preread is what a request read together with its login transaction
// (store.GetLoginState): the first load of that transaction in the request
// uses it instead of reading the user's records again. Only the first: a step
// that changes them (enrollment stores a credential) loads afresh after.
type preread struct {
	ls     *store.LoginState
	userID string // the transaction's user when it was read
	// throttleKey is the throttle to read beside the transaction, and
	// throttle what was read of it: a step's form checks its address's
	// lockout with it (checkAddress).
	throttleKey string
	throttle    *store.Throttle
}

type prereadKey struct{}

// withPreread lets transaction keep what it reads beside the transaction for
// the rest of the request, and read the throttle of throttleKey with it
// (none when "").
func withPreread(r *http.Request, throttleKey string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), prereadKey{}, &preread{throttleKey: throttleKey}))
}

// takePreread returns, once, what was read with lt, provided lt still names
// the user it named then.
func takePreread(ctx context.Context, lt *store.LoginTransaction) *store.LoginState {
	pr, _ := ctx.Value(prereadKey{}).(*preread)
	if pr == nil || pr.ls == nil || pr.ls.Transaction != lt || pr.userID != lt.UserID {
		return nil
	}
	ls := pr.ls
	pr.ls = nil
	return ls
}

// Start begins a sign-in. The authorization endpoint hands it every browser
// request it accepts, and next decides, as for any other step, whether the
// browser's session is enough, or the password, the code, enrollment or
// consent is needed first. A request that needs nothing more is answered at
// once without a transaction; prompt=none answers login_required or
// consent_required instead of showing a page.
func (p *Pipeline) Start(w http.ResponseWriter, r *http.Request, req session.LoginRequest) {
	ctx := r.Context()
	lt := &store.LoginTransaction{Purpose: store.PurposeLogin, ClientID: req.ClientID, RequestedAt: req.RequestedAt}
	if req.AuthRequest != nil {
		lt.AuthRequest = req.AuthRequest.Encode()
	}
	prompt := strings.Fields(req.AuthRequest.Get("prompt"))
	sess, err := p.Sessions.Current(r)
	if err != nil {
		p.refuse(w, r, lt, err)
		return
	}
	if sess != nil && (slices.Contains(prompt, "login") || p.maxAgeExceeded(req.AuthRequest, sess.AuthTime)) {
		sess = nil
	}
	st, err := p.resumeSession(ctx, lt, sess)
	if errors.Is(err, errUserGone) {
		sess, lt.UserID, lt.AMR, lt.AuthTime, lt.UpstreamAlias = nil, "", nil, time.Time{}, ""
		st, err = &state{lt: lt}, nil
	}
	if err == nil {
		err = p.checkRemembered(r, st)
	}
	var s step
	if err == nil {
		s, err = p.next(ctx, st)
	}
	switch {
	case err != nil:
		p.refuse(w, r, lt, err)
	case s == stepFinish && sess != nil && lt.AuthRequest != "":
		p.Resume.ResumeAuthorization(w, r, lt, sess, st.user)
	case slices.Contains(prompt, "none") && s == stepConsent:
		p.refuse(w, r, lt, session.ErrConsentRequired)
	case slices.Contains(prompt, "none"):
		p.refuse(w, r, lt, session.ErrLoginRequired)
	case lt.AuthRequest == "" && lt.UserID == "":
		// Nothing to park: the sign-in form's pending login will do.
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	default:
		if err := p.beginLogin(w, r, lt); err != nil {
			p.refuse(w, r, lt, err)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
}

// resumeSession carries what sess already proved into lt, and loads the state.
func (p *Pipeline) resumeSession(ctx context.Context, lt *store.LoginTransaction, sess *store.Session) (*state, error) {
	if sess != nil {
		lt.UserID, lt.AMR, lt.AuthTime, lt.UpstreamAlias = sess.UserID, sess.AMR, sess.AuthTime, sess.Provider
	}
	return p.load(ctx, lt)
}

// maxAgeExceeded reports whether a session authenticated at authTime is older
// than the request's max_age allows; a malformed max_age asks for a new login.
func (p *Pipeline) maxAgeExceeded(form url.Values, authTime time.Time) bool {
	v := form.Get("max_age")
	if v == "" {
		return false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return true
	}
	return p.now().Sub(authTime) > time.Duration(n)*time.Second
}

// refuse ends a Start that cannot go on: the parked authorization request
// hears why, and a login to the account page shows the error, as does one
// the client address may not start yet (see tooManyLogins).
func (p *Pipeline) refuse(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, reason error) {
	if lt.AuthRequest == "" || errors.Is(reason, errTooManyLogins) {
		p.fail(w, r, reason)
		return
	}
	p.Resume.DenyAuthorization(w, r, lt, reason)
}

// begin stores lt with fresh ID, CSRF secret and expiry, and sets its cookie.
func (p *Pipeline) begin(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) error {
	token, id := session.NewToken()
	csrf, _ := session.NewToken()
	now := p.now()
	lt.ID, lt.CSRF, lt.CreatedAt, lt.ExpiresAt = id, csrf, now, now.Add(p.TransactionTTL)
	if err := p.Store.CreateLoginTransaction(r.Context(), lt); err != nil {
		return fmt.Errorf("login: create transaction: %w", err)
	}
	p.Sessions.SetCookie(w, session.TransactionCookie, token, lt.ExpiresAt)
	return nil
}

// transaction loads the LT of the request's cookie.
func (p *Pipeline) transaction(r *http.Request) (*store.LoginTransaction, error) {
	token := p.Sessions.CookieValue(r, session.TransactionCookie)
	if token == "" {
		return nil, errNoTransaction
	}
	pr, _ := r.Context().Value(prereadKey{}).(*preread)
	throttleKey := ""
	if pr != nil {
		throttleKey = pr.throttleKey
	}
	ls, err := p.Store.GetLoginState(r.Context(), session.TokenID(token), throttleKey, p.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoTransaction
	}
	if err != nil {
		return nil, err
	}
	if pr != nil {
		pr.ls, pr.userID, pr.throttle = ls, ls.Transaction.UserID, ls.Throttle
	}
	return ls.Transaction, nil
}

// transactionOrNew returns the request's login transaction, or begins a new
// login at once (counted against the client address): rendering rather than
// redirecting keeps a client that keeps no cookies from looping.
func (p *Pipeline) transactionOrNew(w http.ResponseWriter, r *http.Request) (*store.LoginTransaction, error) {
	lt, err := p.transaction(r)
	if errors.Is(err, errNoTransaction) {
		lt = &store.LoginTransaction{Purpose: store.PurposeLogin}
		err = p.beginLogin(w, r, lt)
	}
	return lt, err
}

// show serves GET /login: the page of the current step, or for a browser
// without a login in progress the sign-in form of a pending one.
func (p *Pipeline) show(w http.ResponseWriter, r *http.Request) {
	r = withPreread(r, "")
	lt, err := p.transaction(r)
	if errors.Is(err, errNoTransaction) {
		p.showPending(w, r)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showStep(w, r, lt, "", http.StatusOK)
}

// A login begun by a page view is pending: its cookie is set and its form
// shown, but no row is stored until the form is posted, so a flood of
// anonymous page views costs the store nothing. Its CSRF secret is derived
// from the cookie's ID, which only the browser holding the cookie knows.

// pendingCSRF is the CSRF secret of the pending login whose cookie has ID id.
func pendingCSRF(id string) string {
	sum := sha256.Sum256([]byte("login-csrf:" + id))
	return hex.EncodeToString(sum[:])
}

// cookieID is the ID of the browser's login cookie, which it sets first when
// the browser has none: the key of the forms whose CSRF secret derives from it.
func (p *Pipeline) cookieID(w http.ResponseWriter, r *http.Request) string {
	if token := p.Sessions.CookieValue(r, session.TransactionCookie); token != "" && len(token) <= 128 {
		return session.TokenID(token)
	}
	token, id := session.NewToken()
	p.Sessions.SetCookie(w, session.TransactionCookie, token, p.now().Add(p.TransactionTTL))
	return id
}

// showPending renders the sign-in form of a pending login, setting its cookie
// when the browser has none.
func (p *Pipeline) showPending(w http.ResponseWriter, r *http.Request) {
	id := p.cookieID(w, r)
	lt := &store.LoginTransaction{ID: id, CSRF: pendingCSRF(id), Purpose: store.PurposeLogin}
	p.showPassword(w, r, &state{lt: lt}, "", http.StatusOK)
}

// errNotPendingForm is a sign-in form posted with a pending login's cookie
// but without that login's CSRF secret: forged, or the page of a stored login
// that has since expired or finished (the late half of a double click). The
// two cannot be told apart, and both are refused as a login that has gone.
var errNotPendingForm = errors.New("login: form without the pending login's CSRF secret")

// storePending stores the pending login of the request's cookie when the
// posted form proves it came from that login's page. Without a cookie, or
// when the ID was stored before (an expired login), it is errNoTransaction;
// with a cookie but not its secret, errNotPendingForm. Its row is counted
// against the client address like any other login nobody is signed in to:
// cookies cost nothing, so neither would a flood of posted forms.
func (p *Pipeline) storePending(r *http.Request) (*store.LoginTransaction, error) {
	token := p.Sessions.CookieValue(r, session.TransactionCookie)
	if token == "" {
		return nil, errNoTransaction
	}
	id := session.TokenID(token)
	if got := r.PostFormValue("csrf"); subtle.ConstantTimeCompare([]byte(got), []byte(pendingCSRF(id))) != 1 {
		return nil, errNotPendingForm
	}
	if err := p.countAnonymous(r); err != nil {
		return nil, err
	}
	now := p.now()
	lt := &store.LoginTransaction{ID: id, CSRF: pendingCSRF(id), Purpose: store.PurposeLogin, CreatedAt: now, ExpiresAt: now.Add(p.TransactionTTL)}
	err := p.Store.CreateLoginTransaction(r.Context(), lt)
	if errors.Is(err, store.ErrConflict) {
		return nil, errNoTransaction
	}
	return lt, err
}

// derive loads the state of lt and the step that follows; on error it has
// answered the request and returns ok false.
func (p *Pipeline) derive(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) (*state, step, bool) {
	st, err := p.load(r.Context(), lt)
	if errors.Is(err, errUserGone) {
		p.abandon(w, r, lt, msgDisabled)
		return nil, 0, false
	}
	if errors.Is(err, errLinkGone) {
		p.abandon(w, r, lt, "err.link_gone")
		return nil, 0, false
	}
	if err == nil {
		err = p.checkRemembered(r, st)
	}
	if err != nil {
		p.fail(w, r, err)
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
		p.moveOn(w, r, st, s)
		ok = false
	}
	return st, ok
}

// showStep renders the current step's page with an optional error message.
func (p *Pipeline) showStep(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, msg string, status int) {
	r = withUILocales(r, lt)
	// msg is a message ID (or text already translated, which T keeps).
	msg = i18n.T(r.Context(), msg)
	st, s, ok := p.derive(w, r, lt)
	if !ok {
		return
	}
	switch s {
	case stepPassword:
		p.showPassword(w, r, st, msg, status)
	case stepEnroll:
		p.showEnroll(w, r, st, msg, status)
	case stepOTP:
		p.showOTP(w, r, st, msg, status)
	case stepRecoveryCodes:
		p.showRecoveryCodes(w, r, st, msg, status)
	case stepAddSecurityKey:
		p.showAddSecurityKey(w, r, st, msg, status)
	case stepSetPassword:
		p.showSetPassword(w, r, st, msg, status)
	case stepConsent:
		p.showConsent(w, r, st)
	case stepFinish:
		p.finish(w, r, st)
	}
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

// abandon ends a transaction that cannot go on.
func (p *Pipeline) abandon(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, msg string) {
	if err := p.Store.DeleteLoginTransaction(r.Context(), lt.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Log.ErrorContext(r.Context(), "delete login transaction", "err", err)
	}
	p.Sessions.SetCookie(w, session.TransactionCookie, "", time.Time{})
	p.errorPage(w, r, http.StatusForbidden, "err.stopped", msg, "/account", "err.start_again")
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
	p.Sessions.SetCookie(w, session.TransactionCookie, "", time.Time{})
	return true
}

// replaceSession ends the browser's previous session, if any, now that sess
// replaced it. When the same user signed in again (prompt=login, max_age)
// the clients of the old session carry over with their sid, so that they are
// not signed out by a back-channel logout; another user's session simply
// ends, and its clients hear so.
func (p *Pipeline) replaceSession(ctx context.Context, old, sess *store.Session) {
	if old == nil {
		return
	}
	if old.UserID == sess.UserID {
		if err := p.Store.TransferSessionClients(ctx, old.ID, sess.ID, sess.ExpiresAt); err != nil {
			p.Log.ErrorContext(ctx, "carry clients over to the new session", "err", err)
		}
	}
	if err := p.Sessions.EndSession(ctx, old); err != nil {
		p.Log.ErrorContext(ctx, "end the replaced session", "err", err)
	}
}

// finish creates the browser session and resumes the authorization request, or
// shows the account page. The sign-in ends lt in the same write (as useUp
// would), so of two requests ending it only one signs in.
func (p *Pipeline) finish(w http.ResponseWriter, r *http.Request, st *state) {
	ctx := r.Context()
	lt, u := st.lt, st.user
	amr := lt.AMR
	if slices.Contains(amr, session.AMRPassword) && session.SecondFactor(amr) && !slices.Contains(amr, session.AMRMFA) {
		amr = append(amr, session.AMRMFA)
	}
	if st.codeSkipped() {
		amr = append(amr, session.AMRRemembered)
	}
	old, err := p.Sessions.Current(r)
	if err != nil {
		old = nil
	}
	now := p.now()
	authTime := lt.AuthTime
	if authTime.IsZero() {
		authTime = now
	}
	ip := clientip.FromContext(ctx)
	sess := &store.Session{UserID: u.ID, AuthTime: authTime, AMR: amr, Provider: lt.UpstreamAlias, IP: ip}
	signIn := &store.AuditEvent{Time: now, Type: string(audit.LoginSuccess), ActorID: u.ID, UserID: u.ID,
		ClientID: lt.ClientID, IP: ip, Detail: "amr=" + strings.Join(amr, ",")}
	switch err := p.Sessions.SignIn(w, r, lt.ID, sess, p.SessionTTL, signIn); {
	case errors.Is(err, store.ErrNotFound):
		p.expired(w, r)
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	if st.codeSkipped() {
		p.rememberedUsed(ctx, st)
	}
	if slices.Contains(amr, session.AMRPassword) {
		p.markKnownDevice(w, u)
	}
	p.replaceSession(ctx, old, sess)
	if lt.AuthRequest != "" {
		p.Resume.ResumeAuthorization(w, r, lt, sess, u)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}
