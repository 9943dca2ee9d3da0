package console

import (
	"errors"
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/adminsession"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// principal is the administrator making the request.
type principal struct {
	session *store.Session
	user    *store.User
	csrf    string
}

// actor is the administrator as the service sees them.
func (p *principal) actor() admin.Actor { return admin.Actor{UserID: p.user.ID} }

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
		if !adminsession.CheckCSRF(r.PostFormValue("csrf"), p.csrf) {
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
	sess, u, v, err := adminsession.Judge(r, c.Sessions, c.Store)
	switch {
	case err != nil:
		c.fail(w, r, err)
	case v == adminsession.NoSession || v == adminsession.UserGone:
		c.Login.Start(w, r, session.LoginRequest{})
	case v == adminsession.NotAdmin:
		c.denied(w, r, "Access denied", "This page is for administrators only.")
	case v == adminsession.WithoutOTP:
		c.denied(w, r, "One-time code required",
			"Administration requires a sign-in with a one-time code from your authenticator app, and this session was opened without one. "+
				"Sign out, then sign in again with your code. If your account has no authenticator, ask another administrator to turn on OTP Configured for it.")
	default:
		return &principal{session: sess, user: u, csrf: adminsession.CSRFToken(sess.ID)}, true
	}
	return nil, false
}

func (c *Console) denied(w http.ResponseWriter, r *http.Request, title, msg string) {
	c.render(w, r, http.StatusForbidden, views.ErrorPage(title, msg, "/account", "Go to your account"))
}
