// Package admin is the administration of authz: the console (HTML pages under
// /admin), the JSON API under /admin/api/v1 and the operations behind both and
// the CLI (Service). Every console route needs a browser session of an
// enabled administrator who signed in with a one-time code; every form carries
// a CSRF token bound to that session. The API also admits clients holding an
// access token with the scope authz.admin.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// DefaultLinkTTL is how long an e-mailed action link works when Console.LinkTTL
// is zero.
const DefaultLinkTTL = 12 * time.Hour

// maxFormBytes bounds every console form body.
const maxFormBytes = 64 << 10

// Console serves the administration pages and the admin API; the operations
// behind both are its Service.
type Console struct {
	Store store.Store
	// Sessions reads the browser sessions of administrators.
	Sessions *session.Manager
	// Login signs a browser in when the console needs an administrator.
	Login Login
	Mail  mail.Sender
	// Issuer is the public base URL, e.g. http://localhost:8080; e-mailed links
	// are Issuer + session.LinkPath(token).
	Issuer string
	// LinkTTL is the lifetime of e-mailed action links; zero means DefaultLinkTTL.
	LinkTTL time.Duration
	Log     *slog.Logger
	// Now is the clock; nil means time.Now. Tests replace it.
	Now func() time.Time
	// Sealer seals upstream providers' client secrets at rest.
	Sealer *seal.Sealer
	// Secrets makes the secrets of confidential clients.
	Secrets SecretGenerator
	// Tokens checks the bearer tokens of API requests; nil admits browser
	// sessions only.
	Tokens TokenIntrospector
}

// Login is the login pipeline; internal/login implements it.
type Login interface {
	// Start signs the browser's user in, then shows the account page.
	Start(w http.ResponseWriter, r *http.Request, req session.LoginRequest)
}

// Service returns the operations behind the console, on the console's store,
// mail and keys.
func (c *Console) Service() *Service {
	return &Service{Store: c.Store, Mail: c.Mail, Issuer: c.Issuer, LinkTTL: c.LinkTTL, Sealer: c.Sealer,
		Secrets: c.Secrets, Log: c.Log, Now: c.Now}
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", c.guard(c.dashboard))
	mux.HandleFunc("GET /admin/{$}", c.guard(c.dashboard))
	c.registerUsers(mux)
	c.registerClients(mux)
	c.registerProviders(mux)
	mux.HandleFunc("GET /admin/audit", c.guard(c.auditLog))
	c.registerAPI(mux)
}

func (c *Console) registerUsers(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/users", c.guard(c.listUsers))
	mux.HandleFunc("GET /admin/users/new", c.guard(c.newUser))
	mux.HandleFunc("POST /admin/users", c.guardPost(c.createUser))
	mux.HandleFunc("GET /admin/users/{id}", c.guard(c.showUser))
	mux.HandleFunc("POST /admin/users/{id}", c.guardPost(c.updateUser))
	mux.HandleFunc("POST /admin/users/{id}/reset-otp", c.guardPost(c.resetOTP))
	mux.HandleFunc("POST /admin/users/{id}/send-setup", c.guardPost(c.sendSetup))
	mux.HandleFunc("POST /admin/users/{id}/send-reset", c.guardPost(c.sendReset))
	mux.HandleFunc("POST /admin/users/{id}/delete", c.guardPost(c.deleteUser))
	mux.HandleFunc("POST /admin/users/{id}/link", c.guardPost(c.linkIdentity))
	mux.HandleFunc("POST /admin/users/{id}/unlink", c.guardPost(c.unlinkIdentity))
}

// principal is the administrator making the request.
type principal struct {
	session *store.Session
	user    *store.User
	csrf    string
}

// handler is a console handler that runs once access is granted.
type handler func(w http.ResponseWriter, r *http.Request, p *principal)

// guard admits enabled administrators whose session passed a one-time code.
func (c *Console) guard(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := c.authorize(w, r)
		if ok {
			h(w, r, p)
		}
	}
}

// guardPost is guard for state-changing forms: it also bounds and parses the
// body and checks the CSRF token before h can change anything.
func (c *Console) guardPost(h handler) http.HandlerFunc {
	return c.guard(func(w http.ResponseWriter, r *http.Request, p *principal) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			c.formError(w, r, err)
			return
		}
		if !checkCSRF(r.PostFormValue("csrf"), p.csrf) {
			c.errorPage(w, r, http.StatusForbidden, "Form expired",
				"The form was not accepted because its security token is missing or wrong. Reload the page and try again.")
			return
		}
		h(w, r, p)
	})
}

func (c *Console) formError(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		c.errorPage(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form was too large to be accepted.")
		return
	}
	c.errorPage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
}

// authorize answers the request itself (login redirect or error page) unless
// it comes from an administrator allowed to use the console.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	sess, u, v, err := c.sessionAdmin(r)
	switch {
	case err != nil:
		c.fail(w, r, err)
	case v == noSession || v == userGone:
		c.Login.Start(w, r, session.LoginRequest{})
	case v == notAdmin:
		c.denied(w, r, "Access denied", "This page is for administrators only.")
	case v == withoutOTP:
		c.denied(w, r, "One-time code required",
			"Administration requires a sign-in with a one-time code from your authenticator app, and this session was opened without one. "+
				"Sign out, then sign in again with your code. If your account has no authenticator, ask another administrator to turn on OTP Configured for it.")
	default:
		return &principal{session: sess, user: u, csrf: CSRFToken(sess.ID)}, true
	}
	return nil, false
}

// adminVerdict is whether a browser session may administer, and if not why.
type adminVerdict int

// The zero value denies: only sessionAdmin's last line allows.
const (
	noSession adminVerdict = iota
	userGone
	notAdmin   // not an administrator, or disabled
	withoutOTP // signed in without a one-time code
	isAdmin
)

// sessionAdmin judges the request's browser session by the one rule both the
// console and the admin API apply: an enabled administrator who signed in
// with a one-time code. Each answers a refusal in its own form.
func (c *Console) sessionAdmin(r *http.Request) (*store.Session, *store.User, adminVerdict, error) {
	sess, err := c.Sessions.Current(r)
	if err != nil || sess == nil {
		return nil, nil, noSession, err
	}
	u, err := c.Store.GetUser(r.Context(), sess.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sess, nil, userGone, nil
	case err != nil:
		return nil, nil, noSession, err
	case u.Role != store.RoleAdmin || !u.Enabled:
		return sess, u, notAdmin, nil
	case !slices.Contains(sess.AMR, session.AMROTP):
		return sess, u, withoutOTP, nil
	}
	return sess, u, isAdmin, nil
}

// actor is the administrator as the service sees them.
func (p *principal) actor() Actor { return Actor{UserID: p.user.ID} }

func (c *Console) denied(w http.ResponseWriter, r *http.Request, title, msg string) {
	c.render(w, r, http.StatusForbidden, views.ErrorPage(title, msg, "/account", "Go to your account"))
}

// CSRFToken is the console's CSRF token for the session with ID sessionID. It
// is derived rather than stored: the session ID is a secret hash only the
// store and this browser's cookie lead to, and a token bound to it dies with
// the session.
func CSRFToken(sessionID string) string {
	sum := sha256.Sum256([]byte("admin-csrf:" + sessionID))
	return hex.EncodeToString(sum[:])
}

func checkCSRF(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Console pages show personal data and carry CSRF tokens.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := page.Render(r.Context(), w); err != nil {
		c.logger().ErrorContext(r.Context(), "admin: render page", "err", err)
	}
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	c.render(w, r, status, views.ErrorPage(title, msg, "/admin", "Back to administration"))
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusNotFound, views.ErrorPage("User not found", msgUserNotFound, "/admin/users", "Back to users"))
}

// refuse answers an operation's error: the *Error the service gave as a page
// with its message, anything else as an internal error.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, err error, back, backLabel string) {
	e := AsError(err)
	if e == nil {
		c.fail(w, r, err)
		return
	}
	status, title := kindStatus(e.Kind)
	c.render(w, r, status, views.ErrorPage(title, e.Message, back, backLabel))
}

// kindStatus is the HTTP status and page title of an error kind.
func kindStatus(k Kind) (int, string) {
	switch k {
	case KindNotFound:
		return http.StatusNotFound, "Not found"
	case KindConflict:
		return http.StatusConflict, "Not possible"
	}
	return http.StatusBadRequest, "Not accepted"
}

// fail ends a request on an internal error without detail for the client.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.logger().WarnContext(r.Context(), "admin: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		c.errorPage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"authz cannot reach its database right now. Please try again in a moment.")
		return
	}
	c.logger().ErrorContext(r.Context(), "admin: internal error", "path", r.URL.Path, "err", err)
	c.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Your request could not be completed. Please try again.")
}

func (c *Console) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}
