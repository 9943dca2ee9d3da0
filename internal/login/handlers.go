package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/metrics"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Messages shown to the user.
const (
	msgInvalidLogin = "Invalid username or password."
	msgDisabled     = "This account is disabled. Contact your administrator."
	msgCodeEmpty    = "Please specify authenticator code."
	msgCodeInvalid  = "Invalid authenticator code."
	msgBadForm      = "The form was out of date. Please try again."
	msgBusy         = "Too many sign-ins at once. Please try again in a moment."
	msgResetByAdmin = "Your administrator has reset the authenticator setup. Scan the new code."
)

// maxFormBytes bounds every pipeline form body.
const maxFormBytes = 16 << 10

// Register adds the pipeline's routes to mux.
func (p *Pipeline) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", p.show)
	mux.HandleFunc("POST /login/password", p.withTransaction(p.postPassword))
	mux.HandleFunc("POST /login/otp", p.withTransaction(p.postOTP))
	mux.HandleFunc("POST /login/enroll", p.withTransaction(p.postEnroll))
	mux.HandleFunc("POST /login/set-password", p.withTransaction(p.postSetPassword))
	mux.HandleFunc("POST /login/consent", p.withTransaction(p.postConsent))
	mux.HandleFunc("GET /account", p.account)
	mux.HandleFunc("GET /link/{token}", p.openLink)
	if p.Federation != nil {
		mux.HandleFunc("GET /login/upstream/{alias}", p.startUpstream)
		mux.HandleFunc("GET /login/upstream/{alias}/callback", p.upstreamCallback)
	}
}

// withTransaction loads the LT, bounds and parses the form, and checks the CSRF
// secret before a step handler runs.
func (p *Pipeline) withTransaction(h func(http.ResponseWriter, *http.Request, *store.LoginTransaction)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			p.render(w, r, http.StatusBadRequest, views.ErrorPage("Bad request", "The form could not be read.", "/login", "Back to sign-in"))
			return
		}
		lt, err := p.transaction(r)
		if errors.Is(err, errNoTransaction) {
			p.expired(w, r)
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if !checkCSRF(r, lt) {
			p.showStep(w, r, lt, msgBadForm, http.StatusForbidden)
			return
		}
		if msg, err := p.locked(r.Context(), ipThrottleKey(r)); err != nil || msg != "" {
			if err != nil {
				p.fail(w, r, err)
				return
			}
			p.showStep(w, r, lt, msg, http.StatusTooManyRequests)
			return
		}
		h(w, r, lt)
	}
}

// passwordBackoff locks a username after repeated wrong passwords. It is looser
// than the OTP policy: the password is the factor users mistype most.
var passwordBackoff = mfa.Backoff{Free: 10, Base: 30 * time.Second, Max: 15 * time.Minute}

// ipBackoff limits wrong passwords and codes from one client address across all
// usernames, so spraying many accounts is slowed too. It is generous because
// many users may share one address.
var ipBackoff = mfa.Backoff{Free: 50, Base: time.Minute, Max: 15 * time.Minute}

// ipQuiet is how long an address must stay free of failures for its count to
// start again.
const ipQuiet = time.Hour

// ipThrottleKey names the client's address, or its /64 for IPv6, where one
// client commonly holds the whole prefix.
func ipThrottleKey(r *http.Request) string {
	a, err := netip.ParseAddr(clientip.FromContext(r.Context()))
	if err == nil && a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + clientip.FromContext(r.Context())
}

// countIPFailure records a failed password or code from the request's address.
func (p *Pipeline) countIPFailure(r *http.Request) {
	ctx, key := r.Context(), ipThrottleKey(r)
	if th, err := p.Store.GetThrottle(ctx, key); err == nil && th.Failures > 0 && p.now().Sub(th.UpdatedAt) > ipQuiet {
		_ = p.Store.ResetThrottle(ctx, key)
	}
	if _, err := p.Store.AddFailure(ctx, key, p.now(), ipBackoff.LockFor); err != nil {
		p.Log.ErrorContext(ctx, "count failure of address", "err", err)
	}
}

func (p *Pipeline) postPassword(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	if lt.UserID != "" {
		p.advance(w, r, lt)
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	if len(name) > 256 || len(pw) > 1024 {
		p.showStep(w, r, lt, msgInvalidLogin, http.StatusBadRequest)
		return
	}
	u, err := p.findUser(ctx, name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	// Counted before the check, so concurrent guesses cannot outrun the lock.
	throttleKey := "pwd:" + strings.ToLower(name)
	th, err := passwordBackoff.Charge(ctx, p.Store, throttleKey, p.now())
	if err != nil {
		var le *mfa.LockedError
		if errors.As(err, &le) {
			p.showStep(w, r, lt, lockedMessage(le.Until.Sub(p.now())), http.StatusTooManyRequests)
			return
		}
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
		p.countIPFailure(r)
		userID := ""
		if u != nil {
			userID = u.ID
		}
		p.audit(ctx, "login.failure", "", userID, lt.ClientID, "method=pwd")
		if th.LockedUntil.After(p.now()) {
			p.audit(ctx, "password.lockout", "", userID, lt.ClientID, "")
		}
		p.showStep(w, r, lt, msgInvalidLogin, http.StatusUnauthorized)
		return
	case !u.Enabled:
		p.audit(ctx, "login.failure", "", u.ID, lt.ClientID, "method=pwd reason=disabled")
		p.showStep(w, r, lt, msgDisabled, http.StatusForbidden)
		return
	}
	_ = p.Store.ResetThrottle(ctx, throttleKey)
	lt.UserID, lt.AMR, lt.AuthTime, lt.UpstreamAlias = u.ID, []string{AMRPassword}, p.now(), ""
	st, err := p.loadFor(ctx, lt, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.passedFrom(w, r, st)
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

// locked returns a message while key is locked out, else "".
func (p *Pipeline) locked(ctx context.Context, key string) (string, error) {
	th, err := p.Store.GetThrottle(ctx, key)
	if err != nil {
		return "", err
	}
	if th.LockedUntil.After(p.now()) {
		return lockedMessage(th.LockedUntil.Sub(p.now())), nil
	}
	return "", nil
}

func lockedMessage(d time.Duration) string {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return "Too many failed attempts. Try again in " + strconv.Itoa(secs) + " seconds."
}

// codeMessage turns a verification error into the page's message, or "" when
// the error is not the user's.
func (p *Pipeline) codeMessage(err error) (string, int) {
	var le *mfa.LockedError
	switch {
	case errors.As(err, &le):
		return lockedMessage(le.Until.Sub(p.now())), http.StatusTooManyRequests
	case errors.Is(err, mfa.ErrCodeEmpty):
		return msgCodeEmpty, http.StatusBadRequest
	case errors.Is(err, mfa.ErrCodeFormat), errors.Is(err, mfa.ErrInvalidCode):
		return msgCodeInvalid, http.StatusUnauthorized
	}
	return "", 0
}

func (p *Pipeline) postOTP(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	st, ok := p.atStep(w, r, lt, stepOTP)
	if !ok {
		return
	}
	if err := p.OTP.Verify(r.Context(), st.cred, r.PostFormValue("otp"), p.now()); err != nil {
		p.codeFailed(w, r, lt, st.user, err, "method=otp")
		return
	}
	lt.AMR = appendOnce(lt.AMR, AMROTP)
	// A verified code changes nothing the next step is derived from (only
	// the credential's last step), so the state read above still holds.
	p.passedFrom(w, r, st)
}

// codeFailed answers a refused code: a message for the user's mistakes, an
// error page for anything else.
func (p *Pipeline) codeFailed(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, u *store.User, err error, detail string) {
	msg, status := p.codeMessage(err)
	if msg == "" {
		p.fail(w, r, err)
		return
	}
	p.audit(r.Context(), "login.failure", "", u.ID, lt.ClientID, detail)
	metrics.From(r.Context()).OTPRejected(err)
	if errors.Is(err, mfa.ErrInvalidCode) {
		p.countIPFailure(r)
	}
	if errors.Is(err, mfa.ErrLocked) {
		p.audit(r.Context(), "otp.lockout", "", u.ID, lt.ClientID, "")
	}
	p.showStep(w, r, lt, msg, status)
}

func (p *Pipeline) stepError(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, err error) {
	if errors.Is(err, errUserGone) {
		p.abandon(w, r, lt, msgDisabled)
		return
	}
	p.fail(w, r, err)
}

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
	d := views.EnrollData{
		CSRF:       lt.CSRF,
		QRDataURI:  qr,
		ShowKey:    r.URL.Query().Get("manual") == "1",
		GroupedKey: mfa.GroupKey(secret),
		Since:      strconv.FormatInt(u.UpdatedAt.UnixMicro(), 10),
		Error:      msg,
	}
	p.render(w, r, status, views.EnrollPage(d))
}

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
	if r.PostFormValue("since") != strconv.FormatInt(st.user.UpdatedAt.UnixMicro(), 10) {
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
	p.audit(ctx, "otp.enrolled", st.user.ID, st.user.ID, lt.ClientID, "")
	lt.PendingOTPSecret = nil
	lt.AMR = appendOnce(lt.AMR, AMROTP)
	p.passed(w, r, lt)
}

func (p *Pipeline) postSetPassword(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepSetPassword)
	if !ok {
		return
	}
	pw := r.PostFormValue("password")
	if err := password.Check(pw, r.PostFormValue("password_confirm"), st.user.Username); err != nil {
		p.showStep(w, r, lt, err.Error(), http.StatusBadRequest)
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
	err = p.storePassword(ctx, lt, st.user.ID, hash)
	if errors.Is(err, errUserGone) {
		p.abandon(w, r, lt, msgDisabled)
		return
	}
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		p.abandon(w, r, lt, "This link was already used, has expired or was replaced by a newer one. Ask your administrator for a new link.")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, "link.used", st.user.ID, st.user.ID, "", "action="+lt.Purpose)
	lt.AMR = appendOnce(lt.AMR, AMRPassword)
	lt.AuthTime = p.now()
	p.passed(w, r, lt)
}

// deny answers the parked request with access_denied, once.
func (p *Pipeline) deny(w http.ResponseWriter, r *http.Request, st *state) {
	ctx, lt := r.Context(), st.lt
	if !p.useUp(w, r, lt) {
		return
	}
	p.audit(ctx, "consent.denied", st.user.ID, st.user.ID, lt.ClientID, "")
	p.setCookie(w, TransactionCookie, "", time.Time{})
	p.Resume.DenyAuthorization(w, r, lt)
}

func (p *Pipeline) postConsent(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepConsent)
	if !ok {
		return
	}
	if r.PostFormValue("decision") != "allow" {
		p.deny(w, r, st)
		return
	}
	scopes := requestedScopes(lt)
	if old, err := p.Store.GetConsent(ctx, st.user.ID, lt.ClientID); err == nil {
		for _, s := range old.Scopes {
			scopes = appendOnce(scopes, s)
		}
	}
	if err := p.Store.PutConsent(ctx, &store.Consent{UserID: st.user.ID, ClientID: lt.ClientID, Scopes: scopes, GrantedAt: p.now()}); err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, "consent.granted", st.user.ID, st.user.ID, lt.ClientID, strings.Join(scopes, " "))
	p.advance(w, r, lt)
}

// storePassword consumes the link and sets the password in one transaction, on
// a fresh copy of the user. A link sets a password only once: every browser
// session of the user ends with it, so a reset locks out whoever had the old one.
func (p *Pipeline) storePassword(ctx context.Context, lt *store.LoginTransaction, userID, hash string) error {
	return store.InTx(ctx, p.Store, func(ctx context.Context) error {
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
		}
		u, err := p.Store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if !u.Enabled {
			return errUserGone
		}
		u.PasswordHash, u.UpdatedAt = hash, p.now()
		if err := p.Store.UpdateUser(ctx, u); err != nil {
			return err
		}
		return p.Store.DeleteUserSessions(ctx, userID)
	})
}

// account shows the signed-in user, or starts a login.
func (p *Pipeline) account(w http.ResponseWriter, r *http.Request) {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if sess == nil {
		p.Start(w, r, StartRequest{})
		return
	}
	u, err := p.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = p.EndSession(w, r)
		p.Start(w, r, StartRequest{})
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, views.AccountPage(u.Username, u.Email, u.Role == store.RoleAdmin, LogoutToken(sess.ID)))
}
