// Package login is the login pipeline: a small state machine over a login
// transaction (LT) kept in the store. Each step is derived from the LT and the
// user; nothing else decides where the browser goes next. See docs/design.md.
//
// pipeline.go holds the state machine and the transaction plumbing; each step
// (password.go, otp.go, enroll.go, setpassword.go, consent.go, upstream.go)
// has its page, its form handler and its checks in a file of its own.
package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/authz/authz/internal/i18n"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/passkey"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// Resumer answers the authorization request parked in a login transaction once
// the pipeline has finished; internal/oauth implements it.
type Resumer interface {
	// ResumeAuthorization issues the authorization response for sess; u is
	// its user as the pipeline read it in this request. The pipeline has
	// used lt up, so the request is answered once.
	ResumeAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, sess *store.Session, u *store.User)
	// DenyAuthorization answers the parked request with an error: reason is
	// session.ErrAccessDenied, ErrLoginRequired, ErrConsentRequired, or the
	// error that kept the pipeline from deciding.
	DenyAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, reason error)
}

// Pipeline serves the login pages.
type Pipeline struct {
	Store      store.Store
	Sessions   *session.Manager
	Passwords  *password.Hasher
	OTP        *mfa.Verifier
	Federation *federation.Service
	Resume     Resumer
	Log        *slog.Logger
	SessionTTL time.Duration
	// TransactionTTL bounds a login from its first page to its end.
	TransactionTTL time.Duration
	// AnonymousLogins is how many logins one client address may start while
	// nobody is signed in before it is slowed (throttle.Logins); 0 counts
	// none, for tests that build a Pipeline by hand.
	AnonymousLogins int
	// OTPIssuer names authz in authenticator apps.
	OTPIssuer string
	// Notify e-mails users about changes to their accounts; nil sends nothing.
	Notify *notify.Notifier
	// Issuer is the public base URL that e-mailed links start with.
	Issuer string
	// LinkTTL is the lifetime of the reset links users ask for.
	LinkTTL time.Duration
	// Passkeys runs the WebAuthn ceremonies of security keys and passkeys.
	Passkeys *passkey.Service
	// RememberDays is how long "don't ask again on this browser" lasts;
	// 0 (the default) does not offer it.
	RememberDays int
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Messages shown to the user.
const (
	msgInvalidLogin = "err.invalid_login"
	msgDisabled     = "err.disabled"
	msgBadForm      = "err.form_stale"
	msgBusy         = "err.busy"
)

// maxFormBytes bounds every pipeline form body.
const maxFormBytes = 16 << 10

// Register adds the pipeline's routes to mux.
func (p *Pipeline) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", p.show)
	mux.HandleFunc("POST /login/password", p.withPendingTransaction(p.postPassword))
	mux.HandleFunc("POST /login/otp", p.withTransaction(p.postOTP))
	mux.HandleFunc("POST /login/enroll", p.withTransaction(p.postEnroll))
	mux.HandleFunc("POST /login/set-password", p.withTransaction(p.postSetPassword))
	mux.HandleFunc("POST /login/consent", p.withTransaction(p.postConsent))
	mux.HandleFunc("POST /login/recovery", p.withTransaction(p.postRecovery))
	mux.HandleFunc("POST /login/recovery-codes", p.withTransaction(p.postRecoveryCodesSaved))
	mux.HandleFunc("POST /login/webauthn", p.withTransaction(p.postSecurityKey))
	mux.HandleFunc("POST /login/webauthn/register", p.withTransaction(p.postAddSecurityKey))
	mux.HandleFunc("GET /login/forgot", p.showForgot)
	mux.HandleFunc("POST /login/forgot", p.postForgot)
	mux.HandleFunc("GET /account", p.account)
	mux.HandleFunc("POST /account/password", p.withAccount(p.postAccountPassword))
	mux.HandleFunc("POST /account/authenticator", p.withAccount(p.postReplaceAuthenticator))
	mux.HandleFunc("POST /account/recovery-codes", p.withAccount(p.postNewRecoveryCodes))
	mux.HandleFunc("POST /account/sessions/end", p.withAccount(p.postEndSession))
	mux.HandleFunc("POST /account/sessions/end-others", p.withAccount(p.postEndOtherSessions))
	mux.HandleFunc("POST /account/security-keys", p.withAccount(p.postBeginAddSecurityKey))
	mux.HandleFunc("POST /account/security-keys/remove", p.withAccount(p.postRemoveSecurityKey))
	mux.HandleFunc("POST /account/remembered/forget", p.withAccount(p.postForgetBrowsers))
	mux.HandleFunc("GET /link/{token}", p.openLink)
	if p.Federation != nil {
		mux.HandleFunc("GET /login/upstream/{alias}", p.startUpstream)
		mux.HandleFunc("GET /login/upstream/{alias}/callback", p.upstreamCallback)
	}
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// stepHandler handles a step's form for the login transaction lt.
type stepHandler func(http.ResponseWriter, *http.Request, *store.LoginTransaction)

// withTransaction loads the LT, bounds and parses the form, and checks the CSRF
// secret and the address's lockout before a step handler runs.
func (p *Pipeline) withTransaction(h stepHandler) http.HandlerFunc {
	return p.loadingTransaction(h, p.transaction)
}

// withPendingTransaction is withTransaction for the sign-in form, which may
// belong to a pending login (see showPending): it is stored now.
func (p *Pipeline) withPendingTransaction(h stepHandler) http.HandlerFunc {
	return p.loadingTransaction(h, func(r *http.Request) (*store.LoginTransaction, error) {
		lt, err := p.transaction(r)
		if errors.Is(err, errNoTransaction) {
			return p.storePending(r)
		}
		return lt, err
	})
}

func (p *Pipeline) loadingTransaction(h stepHandler, load func(*http.Request) (*store.LoginTransaction, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = withPreread(r, throttle.AddressKey(clientip.FromContext(r.Context())))
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.form_unreadable", "/login", "login.back")
			return
		}
		lt, err := load(r)
		if errors.Is(err, errNotPendingForm) {
			p.gone(w, r, http.StatusForbidden)
			return
		}
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
		err = p.checkAddress(r)
		if msg := p.lockedMessage(r.Context(), err); msg != "" {
			p.showStep(w, r, lt, msg, http.StatusTooManyRequests)
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		h(w, r, lt)
	}
}

// checkCSRF compares the form's csrf field with the LT's secret in constant time.
func checkCSRF(r *http.Request, lt *store.LoginTransaction) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(lt.CSRF)) == 1
}

// checkAddress is throttle.Check of the request's client address, with the
// throttle read beside the login transaction when the request read one
// (withPreread), else read now.
func (p *Pipeline) checkAddress(r *http.Request) error {
	key := throttle.AddressKey(clientip.FromContext(r.Context()))
	if pr, _ := r.Context().Value(prereadKey{}).(*preread); pr != nil && pr.throttle != nil && pr.throttle.Key == key {
		return throttle.Locked(pr.throttle, p.now())
	}
	return throttle.Check(r.Context(), p.Store, key, p.now())
}

// lockedMessage tells the user how long a lock lasts, or "" when err is not one.
func (p *Pipeline) lockedMessage(ctx context.Context, err error) string {
	var le *throttle.LockedError
	if !errors.As(err, &le) {
		return ""
	}
	secs := int(le.Until.Sub(p.now()).Round(time.Second) / time.Second)
	return i18n.Plural(ctx, "err.locked", max(secs, 1))
}

// countAddressFailure records a failed password or code from the request's address.
func (p *Pipeline) countAddressFailure(r *http.Request) {
	ctx := r.Context()
	if err := throttle.CountAddressFailure(ctx, p.Store, clientip.FromContext(ctx), p.now()); err != nil {
		p.Log.ErrorContext(ctx, "count failure of address", "err", err)
	}
}

func (p *Pipeline) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	// Login pages carry CSRF secrets, keys and codes: never cache them.
	w.Header().Set("Cache-Control", "no-store")
	views.Render(w, r, status, c, p.Log)
}

// fail ends a request on an internal error without detail for the client.
func (p *Pipeline) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		// The browser went away: nobody is left to read an answer.
		p.Log.DebugContext(r.Context(), "login: client gone", "err", err)
		return
	}
	if le, ok := errors.AsType[*throttle.LockedError](err); ok && errors.Is(err, errTooManyLogins) {
		p.tooManyLogins(w, r, le.Until)
		return
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		p.Log.WarnContext(r.Context(), "login: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		p.errorPage(w, r, http.StatusServiceUnavailable, "err.unavailable", "err.unavailable_text", "", "")
		return
	}
	p.Log.ErrorContext(r.Context(), "login: internal error", "err", err)
	p.errorPage(w, r, http.StatusInternalServerError, "err.internal", "err.internal_text", "", "")
}

// expired tells the browser its LT is gone.
func (p *Pipeline) expired(w http.ResponseWriter, r *http.Request) {
	p.Sessions.SetCookie(w, session.TransactionCookie, "", time.Time{})
	p.gone(w, r, http.StatusBadRequest)
}

// gone says the login is gone without touching the cookie: a forged post must
// not end the pending login of the browser it was sent from.
func (p *Pipeline) gone(w http.ResponseWriter, r *http.Request, status int) {
	p.errorPage(w, r, status, "err.timed_out", "err.timed_out_text", "/account", "err.go_account")
}

// errorPage renders the error page from message IDs: a title, a message
// (or text already translated, which T keeps), and a link's target and text.
func (p *Pipeline) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg, href, link string) {
	ctx := r.Context()
	p.render(w, r, status, views.ErrorPage(i18n.T(ctx, title), i18n.T(ctx, msg), href, i18n.T(ctx, link)))
}

// withUILocales weighs the ui_locales of the authorization request lt
// answers into r's language (below an explicit choice on the page).
func withUILocales(r *http.Request, lt *store.LoginTransaction) *http.Request {
	if lt == nil || lt.AuthRequest == "" {
		return r
	}
	form, err := url.ParseQuery(lt.AuthRequest)
	if err != nil || form.Get("ui_locales") == "" {
		return r
	}
	return r.WithContext(i18n.WithUILocales(r.Context(), form.Get("ui_locales")))
}

// policyMessage is the message ID of a password-policy refusal.
func policyMessage(err error) string {
	if pe, ok := errors.AsType[password.PolicyError](err); ok {
		return string(pe)
	}
	return err.Error()
}

// audit records an event of the login in progress.
func (p *Pipeline) audit(ctx context.Context, typ audit.Type, actorID, userID, clientID, detail string) {
	audit.Record(ctx, p.Store, p.Log, &store.AuditEvent{Time: p.now(), Type: string(typ), ActorID: actorID, UserID: userID, ClientID: clientID, Detail: detail})
}
