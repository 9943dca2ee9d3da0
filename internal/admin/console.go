// Package admin is the administrator's console: HTML pages under /admin for
// managing users. Every route needs a browser session of an enabled
// administrator who signed in with a one-time code; every form carries a CSRF
// token bound to that session.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/login"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// DefaultLinkTTL is how long an e-mailed action link works when Console.LinkTTL
// is zero.
const DefaultLinkTTL = 12 * time.Hour

// maxFormBytes bounds every console form body.
const maxFormBytes = 64 << 10

// Console serves the administration pages.
type Console struct {
	Store    store.Store
	Pipeline *login.Pipeline
	Mail     mail.Sender
	// Issuer is the public base URL, e.g. http://localhost:8080; e-mailed links
	// are Issuer + login.LinkPath(token).
	Issuer string
	// LinkTTL is the lifetime of e-mailed action links; zero means DefaultLinkTTL.
	LinkTTL time.Duration
	Log     *slog.Logger
	// Now is the clock; nil means time.Now. Tests replace it.
	Now func() time.Time
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", c.guard(c.home))
	mux.HandleFunc("GET /admin/{$}", c.guard(c.home))
	mux.HandleFunc("GET /admin/users", c.guard(c.listUsers))
	mux.HandleFunc("GET /admin/users/new", c.guard(c.newUser))
	mux.HandleFunc("POST /admin/users", c.guardPost(c.createUser))
	mux.HandleFunc("GET /admin/users/{id}", c.guard(c.showUser))
	mux.HandleFunc("POST /admin/users/{id}", c.guardPost(c.updateUser))
	mux.HandleFunc("POST /admin/users/{id}/reset-otp", c.guardPost(c.resetOTP))
	mux.HandleFunc("POST /admin/users/{id}/send-setup", c.guardPost(c.sendSetup))
	mux.HandleFunc("POST /admin/users/{id}/send-reset", c.guardPost(c.sendReset))
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
	sess, err := c.Pipeline.CurrentSession(r)
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	if sess == nil {
		c.Pipeline.Start(w, r, login.StartRequest{})
		return nil, false
	}
	u, err := c.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		c.Pipeline.Start(w, r, login.StartRequest{})
		return nil, false
	}
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	if u.Role != store.RoleAdmin || !u.Enabled {
		c.denied(w, r, "Access denied", "This page is for administrators only.")
		return nil, false
	}
	if !slices.Contains(sess.AMR, login.AMROTP) {
		c.denied(w, r, "One-time code required",
			"Administration requires a sign-in with a one-time code from your authenticator app, and this session was opened without one. "+
				"Sign out, then sign in again with your code. If your account has no authenticator, ask another administrator to turn on OTP Configured for it.")
		return nil, false
	}
	return &principal{session: sess, user: u, csrf: CSRFToken(sess.ID)}, true
}

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

func (c *Console) home(w http.ResponseWriter, r *http.Request, _ *principal) {
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
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
	c.render(w, r, status, views.ErrorPage(title, msg, "/admin/users", "Back to users"))
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.errorPage(w, r, http.StatusNotFound, "User not found", "There is no such user. It may have been deleted.")
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

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Console) linkTTL() time.Duration {
	if c.LinkTTL > 0 {
		return c.LinkTTL
	}
	return DefaultLinkTTL
}

func (c *Console) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// audit appends an event done by actor to target. Inside a transaction its
// error aborts the change: an administrator's action must not go unrecorded.
func (c *Console) audit(ctx context.Context, typ, actorID, targetID, detail string) error {
	e := &store.AuditEvent{Time: c.now(), Type: typ, ActorID: actorID, UserID: targetID, IP: clientip.FromContext(ctx), Detail: detail}
	if err := c.Store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("admin: audit %s: %w", typ, err)
	}
	return nil
}
